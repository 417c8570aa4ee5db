//! Data: the special IPv4 and IPv6 ranges, one row per kind of address, with the RFC that
//! reserves it and what it means for a socket program. `classify.rs` reads them.
//!
//! Where the standard library has a *stable* method for a kind (`Ipv4Addr::is_private`,
//! `Ipv6Addr::is_unique_local`, …) the row names it; a unit test in `classify.rs` checks that
//! the method and the row's blocks agree.

use std::net::{Ipv4Addr, Ipv6Addr};

// ANCHOR: range_type
/// A stable std method that answers "is the address in this range?", with its name.
pub type StdCheck<A> = Option<(&'static str, fn(&A) -> bool)>;

/// One kind of special IPv4 address: the blocks it covers and what it means.
pub struct V4Range {
    /// Short name, as printed: `private`, `loopback`, …
    pub name: &'static str,
    /// The blocks, as (network, prefix length).
    pub blocks: &'static [(Ipv4Addr, u8)],
    /// The RFC that reserves it.
    pub rfc: &'static str,
    /// What it means for a socket program, in one line.
    pub meaning: &'static str,
    /// The stable std method that answers "is it in this range?", where there is one.
    pub std_method: StdCheck<Ipv4Addr>,
}
// ANCHOR_END: range_type

// ANCHOR: v4_rows
/// The special IPv4 ranges, most specific first. An address outside all of them is public.
pub const V4_RANGES: &[V4Range] = &[
    V4Range {
        name: "unspecified",
        blocks: &[(Ipv4Addr::UNSPECIFIED, 32)],
        rfc: "RFC 1122",
        meaning: "\"no address yet\": a source before DHCP, or bind()'s \"every local address\"",
        std_method: Some(("is_unspecified", Ipv4Addr::is_unspecified)),
    },
    V4Range {
        name: "this network",
        blocks: &[(Ipv4Addr::new(0, 0, 0, 0), 8)],
        rfc: "RFC 1122",
        meaning: "{0, host}: a host on this network; only ever a source, never routed",
        std_method: None,
    },
    V4Range {
        name: "loopback",
        blocks: &[(Ipv4Addr::new(127, 0, 0, 0), 8)],
        rfc: "RFC 1122",
        meaning: "this machine; every 127.x.y.z stays inside it and never reaches a wire",
        std_method: Some(("is_loopback", Ipv4Addr::is_loopback)),
    },
    // ANCHOR_END: v4_rows
    V4Range {
        name: "private",
        blocks: &[
            (Ipv4Addr::new(10, 0, 0, 0), 8),
            (Ipv4Addr::new(172, 16, 0, 0), 12),
            (Ipv4Addr::new(192, 168, 0, 0), 16),
        ],
        rfc: "RFC 1918",
        meaning: "for use inside one network; not routed on the Internet, reaches it through NAT",
        std_method: Some(("is_private", Ipv4Addr::is_private)),
    },
    V4Range {
        name: "shared (CGNAT)",
        blocks: &[(Ipv4Addr::new(100, 64, 0, 0), 10)],
        rfc: "RFC 6598",
        meaning: "between a carrier's NAT and its customers' routers; not routed on the Internet",
        std_method: None, // Ipv4Addr::is_shared is not stable yet.
    },
    V4Range {
        name: "link-local",
        blocks: &[(Ipv4Addr::new(169, 254, 0, 0), 16)],
        rfc: "RFC 3927",
        meaning: "self-assigned when no DHCP answers; valid on one link only, never routed",
        std_method: Some(("is_link_local", Ipv4Addr::is_link_local)),
    },
    V4Range {
        name: "documentation",
        blocks: &[
            (Ipv4Addr::new(192, 0, 2, 0), 24),
            (Ipv4Addr::new(198, 51, 100, 0), 24),
            (Ipv4Addr::new(203, 0, 113, 0), 24),
        ],
        rfc: "RFC 5737",
        meaning: "TEST-NET-1/2/3: for examples in books; no machine has one",
        std_method: Some(("is_documentation", Ipv4Addr::is_documentation)),
    },
    V4Range {
        name: "benchmarking",
        blocks: &[(Ipv4Addr::new(198, 18, 0, 0), 15)],
        rfc: "RFC 2544",
        meaning: "for testing network devices in a lab; not routed on the Internet",
        std_method: None, // Ipv4Addr::is_benchmarking is not stable yet.
    },
    V4Range {
        name: "multicast",
        blocks: &[(Ipv4Addr::new(224, 0, 0, 0), 4)],
        rfc: "RFC 5771",
        meaning: "class D: one sender, every member of a group receives (UDP only)",
        std_method: Some(("is_multicast", Ipv4Addr::is_multicast)),
    },
    V4Range {
        name: "reserved",
        blocks: &[(Ipv4Addr::new(240, 0, 0, 0), 4)],
        rfc: "RFC 1112",
        meaning: "class E: set aside \"for future use\" in 1989 and never used",
        std_method: None, // Ipv4Addr::is_reserved is not stable yet.
    },
    V4Range {
        name: "broadcast",
        blocks: &[(Ipv4Addr::BROADCAST, 32)],
        rfc: "RFC 919",
        meaning: "{-1, -1}: every host on this link; only a destination, routers never forward it",
        std_method: Some(("is_broadcast", Ipv4Addr::is_broadcast)),
    },
];

/// One kind of special IPv6 address.
pub struct V6Range {
    /// Short name, as printed.
    pub name: &'static str,
    /// The block, as (network, prefix length).
    pub block: (Ipv6Addr, u8),
    /// The RFC that reserves it.
    pub rfc: &'static str,
    /// What it means, in one line.
    pub meaning: &'static str,
    /// The stable std method for it, where there is one.
    pub std_method: StdCheck<Ipv6Addr>,
}

/// The special IPv6 ranges. An address outside all of them is public (global unicast).
pub const V6_RANGES: &[V6Range] = &[
    V6Range {
        name: "unspecified",
        block: (Ipv6Addr::UNSPECIFIED, 128),
        rfc: "RFC 4291",
        meaning: "IPv6's 0.0.0.0: bind() to :: means every local address",
        std_method: Some(("is_unspecified", Ipv6Addr::is_unspecified)),
    },
    V6Range {
        name: "loopback",
        block: (Ipv6Addr::LOCALHOST, 128),
        rfc: "RFC 4291",
        meaning: "this machine; IPv6 has one loopback address, not a whole /8",
        std_method: Some(("is_loopback", Ipv6Addr::is_loopback)),
    },
    V6Range {
        name: "IPv4-mapped",
        block: (Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96),
        rfc: "RFC 4291",
        meaning: "an IPv4 address seen through an IPv6 socket (a dual-stack :: listener)",
        std_method: Some(("to_ipv4_mapped", |a| a.to_ipv4_mapped().is_some())),
    },
    V6Range {
        name: "documentation",
        block: (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32),
        rfc: "RFC 3849",
        meaning: "for examples in books; no machine has one",
        std_method: None, // Ipv6Addr::is_documentation is not stable yet.
    },
    V6Range {
        name: "unique local",
        block: (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7),
        rfc: "RFC 4193",
        meaning: "IPv6's private addresses: inside one site, not routed on the Internet",
        std_method: Some(("is_unique_local", Ipv6Addr::is_unique_local)),
    },
    V6Range {
        name: "link-local",
        block: (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10),
        rfc: "RFC 4291",
        meaning: "every interface has one; valid on one link only, needs a %zone to use",
        std_method: Some(("is_unicast_link_local", Ipv6Addr::is_unicast_link_local)),
    },
    V6Range {
        name: "multicast",
        block: (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8),
        rfc: "RFC 4291",
        meaning: "one sender, every group member receives; replaces broadcast (ff02::1 = all nodes)",
        std_method: Some(("is_multicast", Ipv6Addr::is_multicast)),
    },
];
