//! `classify`: what kind of address is this? Its historical class, every special range it falls
//! in (with the RFC that reserves it), and, for `ADDR/PREFIX`, the network it names.
//!
//! All the knowledge lives in two tables in `ranges.rs`, [`V4_RANGES`] and [`V6_RANGES`]: one
//! row per kind of special address. Where the standard library has a *stable* method for a kind
//! (`Ipv4Addr::is_private`, `Ipv6Addr::is_unique_local`, …) the row uses it; the other rows
//! (shared address space, benchmarking, reserved, IPv6 documentation, …) are checked by range.
//! A unit test checks that the std methods and the ranges agree.
//!
//! Nothing here touches the network: this is arithmetic on 32- and 128-bit numbers.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::Serialize;

use crate::ranges::{V4_RANGES, V6_RANGES};

/// The one-line history lesson printed under IPv4 classes.
pub const CLASSFUL_NOTE: &str = "classes A-E are history: CIDR (RFC 1518/1519, 1993) replaced \
     them, and today the prefix length (/8, /22, ...), not the first bits, says where the \
     network part ends";

/// `ADDR` or `ADDR/PREFIX`, as typed on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Input {
    /// The address.
    pub addr: IpAddr,
    /// The prefix length, when CIDR notation was used.
    pub prefix: Option<u8>,
}

impl FromStr for Input {
    type Err = String;

    /// Parses `10.1.2.3`, `10.1.2.3/8`, `::1`, `2001:db8::/32`; errors say what is wrong.
    fn from_str(text: &str) -> Result<Self, String> {
        let (addr_text, prefix_text) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr_text.parse().map_err(|_| {
            format!("`{addr_text}` is not an IP address (expected e.g. 192.168.1.10 or ::1)")
        })?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text {
            None => None,
            Some(p) => match p.parse::<u8>() {
                Ok(len) if len <= max => Some(len),
                _ => {
                    return Err(format!(
                        "`/{p}` is not a prefix length for {addr}: expected 0 to {max}"
                    ));
                }
            },
        };
        Ok(Self { addr, prefix })
    }
}

impl std::fmt::Display for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.prefix {
            Some(p) => write!(f, "{}/{p}", self.addr),
            None => write!(f, "{}", self.addr),
        }
    }
}

/// Everything `classify` says about one input.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Report {
    /// The input as typed (normalised).
    pub input: String,
    /// The address alone.
    pub address: String,
    /// 4 or 6.
    pub version: u8,
    /// The historical class, IPv4 only.
    pub class: Option<Class>,
    /// Every special range the address is in; empty means public.
    pub ranges: Vec<RangeHit>,
    /// True when no special range applies: a globally routed address.
    pub public: bool,
    /// For `ADDR/PREFIX`: the network it names.
    pub cidr: Option<Cidr>,
    /// For an IPv4-mapped IPv6 address: the IPv4 address inside, classified too.
    pub embedded_ipv4: Option<Box<Report>>,
}

/// A historical IPv4 class.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Class {
    /// `A` to `E`.
    pub letter: char,
    /// The fixed leading bits: `0`, `10`, `110`, `1110`, `1111`.
    pub leading_bits: &'static str,
    /// The first octets that name the network (A, B, C only).
    pub network_part: Option<String>,
    /// The remaining octets that name the host (A, B, C only).
    pub host_part: Option<String>,
    /// The classful default mask (A, B, C only).
    pub default_mask: Option<String>,
    /// The classful default prefix length (A, B, C only).
    pub default_prefix: Option<u8>,
    /// What the class is for.
    pub purpose: &'static str,
}

/// One special range an address falls in.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RangeHit {
    /// The range's name.
    pub name: &'static str,
    /// The block that matched, in CIDR notation.
    pub block: String,
    /// The RFC.
    pub rfc: &'static str,
    /// The one-line meaning.
    pub meaning: &'static str,
}

/// The network an `ADDR/PREFIX` names.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Cidr {
    /// The prefix length.
    pub prefix: u8,
    /// The network address (host bits all 0).
    pub network: String,
    /// The netmask (IPv4) or prefix mask (IPv6) written out.
    pub netmask: String,
    /// The directed broadcast address (host bits all 1); IPv6 has none.
    pub broadcast: Option<String>,
    /// First usable host address.
    pub first_host: String,
    /// Last usable host address.
    pub last_host: String,
    /// How many usable host addresses, as a decimal string (IPv6 counts exceed JSON numbers).
    pub hosts: String,
}

/// Classifies one input.
pub fn classify(input: Input) -> Report {
    match input.addr {
        IpAddr::V4(v4) => classify_v4(v4, input),
        IpAddr::V6(v6) => classify_v6(v6, input),
    }
}

fn classify_v4(addr: Ipv4Addr, input: Input) -> Report {
    let ranges = v4_ranges(addr);
    Report {
        input: input.to_string(),
        address: addr.to_string(),
        version: 4,
        class: Some(class_of(addr)),
        public: ranges.is_empty(),
        ranges,
        cidr: input.prefix.map(|p| cidr_v4(addr, p)),
        embedded_ipv4: None,
    }
}

fn classify_v6(addr: Ipv6Addr, input: Input) -> Report {
    let ranges = v6_ranges(addr);
    // ::ffff:a.b.c.d is an IPv4 address in IPv6 clothing: classify the IPv4 inside too.
    let embedded = addr
        .to_ipv4_mapped()
        .map(|v4| Box::new(classify_v4(v4, Input { addr: IpAddr::V4(v4), prefix: None })));
    Report {
        input: input.to_string(),
        address: addr.to_string(),
        version: 6,
        class: None,
        public: ranges.is_empty(),
        ranges,
        cidr: input.prefix.map(|p| cidr_v6(addr, p)),
        embedded_ipv4: embedded,
    }
}

// ANCHOR: membership
/// The special IPv4 ranges `addr` is in: by std's method where one is stable, else by range.
pub fn v4_ranges(addr: Ipv4Addr) -> Vec<RangeHit> {
    let mut hits = Vec::new();
    for range in V4_RANGES {
        let in_range = match range.std_method {
            Some((_, method)) => method(&addr),
            None => range.blocks.iter().any(|&(net, len)| in_v4_block(addr, net, len)),
        };
        if in_range {
            // Name the block that matched (private has three, documentation three).
            let &(net, len) = range
                .blocks
                .iter()
                .find(|&&(net, len)| in_v4_block(addr, net, len))
                .unwrap_or(&range.blocks[0]);
            hits.push(RangeHit {
                name: range.name,
                block: format!("{net}/{len}"),
                rfc: range.rfc,
                meaning: range.meaning,
            });
        }
    }
    hits
}

// ANCHOR_END: membership

// ANCHOR: in_block
/// Is `addr` inside `net/len`? Compare the first `len` bits: mask off the host part.
pub fn in_v4_block(addr: Ipv4Addr, net: Ipv4Addr, len: u8) -> bool {
    let mask = v4_mask(len);
    u32::from(addr) & mask == u32::from(net) & mask
}
// ANCHOR_END: in_block

/// The special IPv6 ranges `addr` is in.
pub fn v6_ranges(addr: Ipv6Addr) -> Vec<RangeHit> {
    V6_RANGES
        .iter()
        .filter(|range| match range.std_method {
            Some((_, method)) => method(&addr),
            None => in_v6_block(addr, range.block.0, range.block.1),
        })
        .map(|range| RangeHit {
            name: range.name,
            block: format!("{}/{}", range.block.0, range.block.1),
            rfc: range.rfc,
            meaning: range.meaning,
        })
        .collect()
}

/// Is `addr` inside `net/len`?
pub fn in_v6_block(addr: Ipv6Addr, net: Ipv6Addr, len: u8) -> bool {
    let mask = v6_mask(len);
    u128::from(addr) & mask == u128::from(net) & mask
}

/// The netmask for a prefix length: `/8` is 255.0.0.0. (`checked_shl` because `<< 32`
/// overflows: `/0` is the empty mask.)
fn v4_mask(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

fn v6_mask(len: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
}

// ANCHOR: class
/// The class an IPv4 address had before 1993, read from its first bits.
pub fn class_of(addr: Ipv4Addr) -> Class {
    let o = addr.octets();
    // (letter, leading bits, network octets, purpose)
    let (letter, leading_bits, network_octets, purpose) = match o[0] {
        0..=127 => ('A', "0", 1, "unicast: 128 networks of 16 777 214 hosts"),
        128..=191 => ('B', "10", 2, "unicast: 16 384 networks of 65 534 hosts"),
        192..=223 => ('C', "110", 3, "unicast: 2 097 152 networks of 254 hosts"),
        224..=239 => ('D', "1110", 0, "multicast: no network/host split"),
        240..=255 => ('E', "1111", 0, "reserved for future use: no network/host split"),
    };
    let join = |part: &[u8]| part.iter().map(u8::to_string).collect::<Vec<_>>().join(".");
    let split = (network_octets > 0).then(|| {
        let prefix = network_octets as u8 * 8;
        (
            join(&o[..network_octets]),
            join(&o[network_octets..]),
            Ipv4Addr::from(v4_mask(prefix)).to_string(),
            prefix,
        )
    });
    Class {
        letter,
        leading_bits,
        network_part: split.as_ref().map(|s| s.0.clone()),
        host_part: split.as_ref().map(|s| s.1.clone()),
        default_mask: split.as_ref().map(|s| s.2.clone()),
        default_prefix: split.as_ref().map(|s| s.3),
        purpose,
    }
}
// ANCHOR_END: class

// ANCHOR: cidr
/// The network `addr/prefix` names: clear the host bits for the network, set them all for
/// the broadcast, and the hosts are everything in between.
pub fn cidr_v4(addr: Ipv4Addr, prefix: u8) -> Cidr {
    let mask = v4_mask(prefix);
    let network = u32::from(addr) & mask;
    let broadcast = network | !mask;
    let (first, last, hosts) = match prefix {
        // A /32 is one host; a /31 is a point-to-point link whose two addresses are both
        // hosts (RFC 3021): neither has a network or broadcast address to spare.
        32 => (network, network, 1u64),
        31 => (network, broadcast, 2),
        _ => (network + 1, broadcast - 1, (1u64 << (32 - prefix)) - 2),
    };
    Cidr {
        prefix,
        network: Ipv4Addr::from(network).to_string(),
        netmask: Ipv4Addr::from(mask).to_string(),
        broadcast: (prefix < 31).then(|| Ipv4Addr::from(broadcast).to_string()),
        first_host: Ipv4Addr::from(first).to_string(),
        last_host: Ipv4Addr::from(last).to_string(),
        hosts: hosts.to_string(),
    }
}
// ANCHOR_END: cidr

/// The IPv6 network `addr/prefix` names. IPv6 has no broadcast, so every address is usable.
pub fn cidr_v6(addr: Ipv6Addr, prefix: u8) -> Cidr {
    let mask = v6_mask(prefix);
    let network = u128::from(addr) & mask;
    let last = network | !mask;
    // 2^128 does not fit a u128: the one case where the count needs writing out.
    let hosts = match 1u128.checked_shl(128 - u32::from(prefix)) {
        Some(count) if prefix > 0 => count.to_string(),
        _ => "340282366920938463463374607431768211456".to_owned(),
    };
    Cidr {
        prefix,
        network: Ipv6Addr::from(network).to_string(),
        netmask: Ipv6Addr::from(mask).to_string(),
        broadcast: None,
        first_host: Ipv6Addr::from(network).to_string(),
        last_host: Ipv6Addr::from(last).to_string(),
        hosts,
    }
}

/// The reports as a table for people, one block per address.
pub fn render(reports: &[Report]) -> String {
    let mut out = String::new();
    for (i, report) in reports.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        render_one(&mut out, report, "");
    }
    if reports.iter().any(|r| r.version == 4 || r.embedded_ipv4.is_some()) {
        let _ = writeln!(out, "\nnote: {CLASSFUL_NOTE}");
    }
    out
}

fn render_one(out: &mut String, r: &Report, indent: &str) {
    let mut row = |key: &str, value: &str| {
        let _ = writeln!(out, "{indent}{key:<10} {value}");
    };
    row("address", &r.input);
    row("version", &format!("IPv{}", r.version));
    match &r.class {
        Some(c) => match (&c.network_part, &c.host_part, &c.default_mask, c.default_prefix) {
            (Some(net), Some(host), Some(mask), Some(len)) => row(
                "class",
                &format!(
                    "{} (leading bits {}): network {net} + host {host}, default mask {mask} (/{len})",
                    c.letter, c.leading_bits
                ),
            ),
            _ => row(
                "class",
                &format!("{} (leading bits {}): {}", c.letter, c.leading_bits, c.purpose),
            ),
        },
        None => row("class", "none: IPv6 never had classes, only prefixes"),
    }
    if r.ranges.is_empty() {
        row("ranges", "none: a public (globally routed) address");
    }
    for (i, hit) in r.ranges.iter().enumerate() {
        let key = if i == 0 { "ranges" } else { "" };
        row(key, &format!("{} {} ({}): {}", hit.block, hit.name, hit.rfc, hit.meaning));
    }
    if let Some(c) = &r.cidr {
        row("network", &format!("{}/{}", c.network, c.prefix));
        row("netmask", &c.netmask);
        match &c.broadcast {
            Some(b) => row("broadcast", b),
            None if r.version == 6 => {
                row("broadcast", "none: IPv6 uses multicast (ff02::1) instead")
            }
            None => row("broadcast", "none: a /31 or /32 has no broadcast address"),
        }
        let what = if r.version == 4 { "usable" } else { "addresses" };
        row("hosts", &format!("{} - {} ({} {what})", c.first_host, c.last_host, c.hosts));
    }
    if let Some(inner) = &r.embedded_ipv4 {
        let _ = writeln!(out, "{indent}embedded IPv4 {}:", inner.address);
        render_one(out, inner, &format!("{indent}  "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<&'static str> {
        let input: Input = text.parse().expect("test inputs parse");
        classify(input).ranges.iter().map(|h| h.name).collect()
    }

    #[test]
    fn every_range_is_recognised() {
        let cases: &[(&str, &[&str])] = &[
            ("0.0.0.0", &["unspecified", "this network"]),
            ("0.1.2.3", &["this network"]),
            ("127.0.0.1", &["loopback"]),
            ("127.255.255.254", &["loopback"]),
            ("10.1.2.3", &["private"]),
            ("172.16.0.1", &["private"]),
            ("172.31.255.255", &["private"]),
            ("172.32.0.1", &[]),
            ("192.168.1.10", &["private"]),
            ("100.64.0.1", &["shared (CGNAT)"]),
            ("100.127.255.255", &["shared (CGNAT)"]),
            ("100.128.0.0", &[]),
            ("169.254.1.1", &["link-local"]),
            ("192.0.2.1", &["documentation"]),
            ("198.51.100.7", &["documentation"]),
            ("203.0.113.9", &["documentation"]),
            ("198.18.0.1", &["benchmarking"]),
            ("198.19.255.255", &["benchmarking"]),
            ("224.0.0.251", &["multicast"]),
            ("239.255.255.250", &["multicast"]),
            ("240.0.0.1", &["reserved"]),
            ("255.255.255.255", &["reserved", "broadcast"]),
            ("8.8.8.8", &[]),
            ("::", &["unspecified"]),
            ("::1", &["loopback"]),
            ("::ffff:192.168.1.10", &["IPv4-mapped"]),
            ("2001:db8::1", &["documentation"]),
            ("fd12:3456::1", &["unique local"]),
            ("fc00::1", &["unique local"]),
            ("fe80::1", &["link-local"]),
            ("febf::1", &["link-local"]),
            ("ff02::1", &["multicast"]),
            ("2606:4700::1111", &[]),
        ];
        for (addr, expected) in cases {
            assert_eq!(names(addr), *expected, "{addr}");
        }
    }

    #[test]
    fn classes_follow_the_first_bits() {
        let letter = |a: &str| class_of(a.parse().expect("literal")).letter;
        assert_eq!(letter("10.0.0.1"), 'A');
        assert_eq!(letter("127.0.0.1"), 'A');
        assert_eq!(letter("128.0.0.1"), 'B');
        assert_eq!(letter("191.255.0.1"), 'B');
        assert_eq!(letter("192.168.0.1"), 'C');
        assert_eq!(letter("223.1.1.1"), 'C');
        assert_eq!(letter("224.0.0.1"), 'D');
        assert_eq!(letter("240.0.0.1"), 'E');
        let b = class_of(Ipv4Addr::new(172, 16, 5, 4));
        assert_eq!(b.network_part.as_deref(), Some("172.16"));
        assert_eq!(b.host_part.as_deref(), Some("5.4"));
        assert_eq!(b.default_mask.as_deref(), Some("255.255.0.0"));
        assert_eq!(class_of(Ipv4Addr::new(230, 1, 1, 1)).network_part, None);
    }

    #[test]
    fn cidr_arithmetic() {
        let c = cidr_v4(Ipv4Addr::new(10, 1, 2, 3), 8);
        assert_eq!(
            (c.network.as_str(), c.netmask.as_str(), c.broadcast.as_deref()),
            ("10.0.0.0", "255.0.0.0", Some("10.255.255.255"))
        );
        assert_eq!((c.first_host.as_str(), c.last_host.as_str()), ("10.0.0.1", "10.255.255.254"));
        assert_eq!(c.hosts, "16777214");
        let c = cidr_v4(Ipv4Addr::new(192, 168, 1, 77), 26);
        assert_eq!(
            (c.network.as_str(), c.broadcast.as_deref()),
            ("192.168.1.64", Some("192.168.1.127"))
        );
        assert_eq!(c.hosts, "62");
        let c = cidr_v4(Ipv4Addr::new(10, 0, 0, 1), 31);
        assert_eq!((c.hosts.as_str(), c.broadcast.clone()), ("2", None));
        assert_eq!(cidr_v4(Ipv4Addr::new(10, 0, 0, 1), 32).hosts, "1");
        assert_eq!(cidr_v4(Ipv4Addr::new(1, 2, 3, 4), 0).hosts, "4294967294");
        let c = cidr_v6("2001:db8:1:2::77".parse().expect("literal"), 64);
        assert_eq!(c.network, "2001:db8:1:2::");
        assert_eq!(c.last_host, "2001:db8:1:2:ffff:ffff:ffff:ffff");
        assert_eq!(c.hosts, "18446744073709551616");
        assert_eq!(cidr_v6(Ipv6Addr::LOCALHOST, 128).hosts, "1");
        assert_eq!(
            cidr_v6(Ipv6Addr::LOCALHOST, 0).hosts,
            "340282366920938463463374607431768211456"
        );
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        for bad in ["not-an-ip", "10.0.0.0/33", "::1/129", "10.0.0.0/", "10.0.0.0/-1", "1.2.3", ""]
        {
            assert!(bad.parse::<Input>().is_err(), "{bad}");
        }
        assert_eq!("::/0".parse::<Input>().map(|i| i.prefix), Ok(Some(0)));
    }

    #[test]
    fn mapped_addresses_classify_the_ipv4_inside() {
        let report = classify("::ffff:10.0.0.1".parse().expect("literal"));
        let inner = report.embedded_ipv4.expect("mapped");
        assert_eq!(inner.address, "10.0.0.1");
        assert_eq!(inner.ranges[0].name, "private");
    }

    /// The std methods the tables rely on and the tables' own ranges must agree, on every
    /// block's edges and just outside them.
    #[test]
    fn std_methods_agree_with_the_ranges() {
        for range in V4_RANGES {
            let Some((name, method)) = range.std_method else { continue };
            for &(net, len) in range.blocks {
                let first = u32::from(net);
                let last = first | !v4_mask(len);
                for probe in [first, last, first.wrapping_sub(1), last.wrapping_add(1)] {
                    let addr = Ipv4Addr::from(probe);
                    let by_range = range.blocks.iter().any(|&(n, l)| in_v4_block(addr, n, l));
                    assert_eq!(method(&addr), by_range, "{name} on {addr}");
                }
            }
        }
        for range in V6_RANGES {
            let Some((name, method)) = range.std_method else { continue };
            let (net, len) = range.block;
            let first = u128::from(net);
            let last = first | !v6_mask(len);
            for probe in [first, last, first.wrapping_sub(1), last.wrapping_add(1)] {
                let addr = Ipv6Addr::from(probe);
                assert_eq!(method(&addr), in_v6_block(addr, net, len), "{name} on {addr}");
            }
        }
    }
}
