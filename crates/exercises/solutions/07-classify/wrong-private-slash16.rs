//! Exercise 07-classify, a wrong answer: 172.16.0.0/16 where RFC 1918 says /12.
//!
//! The block everyone remembers as "172.16" runs to 172.31.255.255: sixteen /16s.
//!
//! Run: `cargo run -q -p exercise --bin wrong-07-classify-private-slash16 -- 172.16.5.4 2001:db8::1`

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn main() {
    for arg in std::env::args().skip(1) {
        // A typo is an answer too, not a crash: the input is the user's.
        match arg.parse::<IpAddr>() {
            Ok(ip) => println!("{arg} {}", classify(ip)),
            Err(_) => println!("{arg} invalid"),
        }
    }
}

/// The kind of address `ip` is, one word from the exercise's list.
fn classify(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// Whether `ip` lies in `network/prefix`: the first `prefix` bits are the same.
fn in_block(ip: Ipv4Addr, network: Ipv4Addr, prefix: u32) -> bool {
    // checked_shl: a /0 block would shift by 32, which overflows a u32.
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(network) & mask
}

fn classify_v4(ip: Ipv4Addr) -> &'static str {
    let blocks: &[(&str, Ipv4Addr, u32)] = &[
        ("unspecified", Ipv4Addr::UNSPECIFIED, 32),
        ("broadcast", Ipv4Addr::BROADCAST, 32),
        ("loopback", Ipv4Addr::new(127, 0, 0, 0), 8),
        ("private", Ipv4Addr::new(10, 0, 0, 0), 8),
        ("private", Ipv4Addr::new(172, 16, 0, 0), 16),
        ("private", Ipv4Addr::new(192, 168, 0, 0), 16),
        ("shared", Ipv4Addr::new(100, 64, 0, 0), 10),
        ("link-local", Ipv4Addr::new(169, 254, 0, 0), 16),
        ("documentation", Ipv4Addr::new(192, 0, 2, 0), 24),
        ("documentation", Ipv4Addr::new(198, 51, 100, 0), 24),
        ("documentation", Ipv4Addr::new(203, 0, 113, 0), 24),
        ("multicast", Ipv4Addr::new(224, 0, 0, 0), 4),
    ];
    blocks.iter().find(|(_, net, prefix)| in_block(ip, *net, *prefix)).map_or("public", |b| b.0)
}

fn classify_v6(ip: Ipv6Addr) -> &'static str {
    let first = ip.segments()[0];
    if ip.is_unspecified() {
        "unspecified"
    } else if ip.is_loopback() {
        "loopback"
    } else if ip.to_ipv4_mapped().is_some() {
        "ipv4-mapped"
    } else if ip.segments()[..2] == [0x2001, 0x0db8] {
        "documentation"
    } else if first & 0xfe00 == 0xfc00 {
        "unique-local"
    } else if first & 0xffc0 == 0xfe80 {
        "link-local"
    } else if first & 0xff00 == 0xff00 {
        "multicast"
    } else {
        "public"
    }
}
