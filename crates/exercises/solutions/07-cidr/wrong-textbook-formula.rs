//! Exercise 07-cidr, a wrong answer: the textbook formula everywhere.
//!
//! 2^(32 - prefix) - 2 hosts and a broadcast address are right for /0 to /30. A /31 has two
//! hosts and no broadcast (RFC 3021), and a /32 has one host: 2^0 - 2 does not even fit in
//! an unsigned number (a panic in a debug build).

use std::net::Ipv4Addr;

fn main() {
    for arg in std::env::args().skip(1) {
        match parse(&arg) {
            Some((ip, prefix)) => {
                let mask = mask(prefix);
                let network = u32::from(ip) & mask;
                let broadcast = network | !mask;
                // The textbook formula, 2^(32 - prefix) - 2: right from /0 to /30.
                let hosts = (1u64 << (32 - prefix)) - 2;
                println!(
                    "{arg} network {} broadcast {} hosts {hosts}",
                    Ipv4Addr::from(network),
                    Ipv4Addr::from(broadcast)
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
