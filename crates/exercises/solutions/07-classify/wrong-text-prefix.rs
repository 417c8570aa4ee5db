//! Exercise 07-classify, a wrong answer: prefixes of the text instead of bits of the number.
//!
//! Right for the addresses people try by hand, wrong wherever a block does not end on a dot:
//! 172.16/12, 100.64/10, 224/4.
//!
//! Run: `cargo run -q -p exercise --bin wrong-07-classify-text-prefix -- 172.16.5.4 2001:db8::1`

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

fn classify_v4(ip: Ipv4Addr) -> &'static str {
    // Matching on the text, as people do in shell scripts: "172." is not 172.16.0.0/12.
    let text = ip.to_string();
    let starts = |prefix: &str| text.starts_with(prefix);
    if text == "0.0.0.0" {
        "unspecified"
    } else if text == "255.255.255.255" {
        "broadcast"
    } else if starts("127.") {
        "loopback"
    } else if starts("10.") || starts("172.") || starts("192.168.") {
        "private"
    } else if starts("100.64.") {
        "shared"
    } else if starts("169.254.") {
        "link-local"
    } else if starts("192.0.2.") || starts("198.51.100.") || starts("203.0.113.") {
        "documentation"
    } else if starts("224.") || starts("239.") {
        "multicast"
    } else {
        "public"
    }
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
