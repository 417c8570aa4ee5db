//! Exercise 07-cidr, the reference: network, broadcast and hosts, for every prefix.
//!
//! Run: `cargo run -q -p exercise --bin ref-07-cidr -- 192.168.1.77/26 10.0.0.0/31 0.0.0.0/0`

use std::net::Ipv4Addr;

fn main() {
    for arg in std::env::args().skip(1) {
        match parse(&arg) {
            Some((ip, prefix)) => {
                let mask = mask(prefix);
                let network = u32::from(ip) & mask;
                let last = network | !mask;
                // /31 and /32 have no room for a network and a broadcast address of their own:
                // both addresses of a /31 are hosts (RFC 3021), and a /32 is one host.
                let (broadcast, hosts) = match prefix {
                    32 => ("none".to_owned(), 1),
                    31 => ("none".to_owned(), 2),
                    // u64: a /0 holds 2^32 addresses, one more than a u32 can count.
                    _ => (Ipv4Addr::from(last).to_string(), (u64::from(!mask) + 1) - 2),
                };
                println!(
                    "{arg} network {} broadcast {broadcast} hosts {hosts}",
                    Ipv4Addr::from(network)
                );
            }
            None => println!("{arg} invalid"),
        }
    }
}

/// `ADDR/PREFIX` as an address and a prefix length of 0 to 32, or `None`.
fn parse(text: &str) -> Option<(Ipv4Addr, u32)> {
    let (addr, prefix) = text.split_once('/')?;
    let prefix: u32 = prefix.parse().ok().filter(|p| *p <= 32)?;
    Some((addr.parse().ok()?, prefix))
}

/// The netmask of a /`prefix`: `prefix` one bits, then zeros.
fn mask(prefix: u32) -> u32 {
    // checked_shl: for /0 the shift is 32, which overflows a u32 (and panics in a debug build).
    u32::MAX.checked_shl(32 - prefix).unwrap_or(0)
}
