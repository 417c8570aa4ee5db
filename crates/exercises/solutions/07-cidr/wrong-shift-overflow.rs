//! Exercise 07-cidr, a wrong answer: `u32::MAX << (32 - prefix)`.
//!
//! Right for /1 to /32; for /0 the shift is by 32 bits, the width of the type: a panic in a
//! debug build, and in release a shift by 0 on x86, so /0 would look like /32.

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
    u32::MAX << (32 - prefix)
}
