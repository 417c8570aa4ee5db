//! Exercise 07-classify (write it): what kind of IP address is this?
//!
//! For each argument, the program prints the address and one word. Write `classify_v4` and
//! `classify_v6`, then: `cargo exercise check 07-classify`. The words:
//!
//! - IPv4: `unspecified` (0.0.0.0), `broadcast` (255.255.255.255), `loopback` (127/8),
//!   `private` (RFC 1918), `shared` (100.64/10, carrier NAT), `link-local` (169.254/16),
//!   `documentation` (the three TEST-NETs), `multicast` (224/4), else `public`;
//! - IPv6: `unspecified` (::), `loopback` (::1), `ipv4-mapped` (::ffff:0:0/96),
//!   `documentation` (2001:db8::/32), `unique-local` (fc00::/7), `link-local` (fe80::/10),
//!   `multicast` (ff00::/8), else `public`.
//!
//! Try it: `cargo run -q -p ex07-classify -- 172.16.5.4 ::1`, and compare with the chapter's
//! `cargo run -q -p ch07-ip-notes -- classify 172.16.5.4 ::1`. The book: docs/src/07-ip-notes.md,
//! "Note 3: the special addresses".

// A skeleton's parameters are unused until you write the bodies; the lint would only shout.
#![allow(unused_variables, dead_code)]

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
    todo!("compare the first `prefix` bits of both (u32::from(ip) gives the 32-bit number)")
}

fn classify_v4(ip: Ipv4Addr) -> &'static str {
    todo!("check the blocks from the most specific to the least; `public` when none matches")
}

fn classify_v6(ip: Ipv6Addr) -> &'static str {
    todo!("look at the first segments (ip.segments()); std has is_loopback and is_unspecified")
}
