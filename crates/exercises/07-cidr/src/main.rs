//! Exercise 07-cidr (extend it): what a CIDR block holds.
//!
//! For each `ADDR/PREFIX` argument this program prints the network address. Extend it to
//! print the broadcast address and the number of usable hosts too, in this form:
//!
//! ```text
//! 192.168.1.77/26 network 192.168.1.64 broadcast 192.168.1.127 hosts 62
//! 10.0.0.0/31 network 10.0.0.0 broadcast none hosts 2     (RFC 3021: a point-to-point link)
//! 10.1.2.3/32 network 10.1.2.3 broadcast none hosts 1     (one address)
//! 1.2.3.4/33 invalid                                      (anything that is not ADDR/0..32)
//! ```
//!
//! Every prefix from /0 to /32 must work, and no input may crash the program. Then:
//! `cargo exercise check 07-cidr`. Compare with the chapter's
//! `cargo run -q -p ch07-ip-notes -- classify 192.168.1.77/26`. The book:
//! docs/src/07-ip-notes.md, "Note 1: address classes, and CIDR".

use std::net::Ipv4Addr;

fn main() {
    for arg in std::env::args().skip(1) {
        match parse(&arg) {
            Some((ip, prefix)) => {
                let mask = mask(prefix);
                let network = Ipv4Addr::from(u32::from(ip) & mask);
                println!("{arg} network {network}");
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
