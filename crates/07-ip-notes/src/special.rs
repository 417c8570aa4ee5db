//! `special`: the classic table of special IPv4 address forms, written as {network, host}.
//!
//! `0` means "all bits of this part are 0", `-1` means "all bits are 1". Each form gets a real
//! example and the two questions a socket programmer asks: may it be the *source* of a packet,
//! may it be the *destination*? `classify` explains any single address; this table explains
//! the pattern.

use std::fmt::Write as _;

/// One row of the table.
pub struct Form {
    /// The form, in {network, host} notation.
    pub form: &'static str,
    /// A concrete address of that form.
    pub example: &'static str,
    /// The network the example assumes, when the form depends on one.
    pub network: &'static str,
    /// May it be a packet's source address?
    pub source: bool,
    /// May it be a packet's destination address?
    pub destination: bool,
    /// What it means.
    pub meaning: &'static str,
}

/// The special forms, in the order the classic table gives them.
pub const FORMS: &[Form] = &[
    Form {
        form: "{0, 0}",
        example: "0.0.0.0",
        network: "",
        source: true,
        destination: false,
        meaning: "this host on this network: the source of a host that has no address yet \
                  (DHCP); to bind(), \"every local address\"",
    },
    Form {
        form: "{0, host}",
        example: "0.0.0.25",
        network: "",
        source: true,
        destination: false,
        meaning: "host 25 on this network, whichever it is; historic, unused today",
    },
    Form {
        form: "{-1, -1}",
        example: "255.255.255.255",
        network: "",
        source: false,
        destination: true,
        meaning: "limited broadcast: every host on this link; routers never forward it",
    },
    Form {
        form: "{net, -1}",
        example: "192.168.1.255",
        network: "192.168.1.0/24",
        source: false,
        destination: true,
        meaning: "directed broadcast to every host of that network; routers drop it by \
                  default since RFC 2644 (1999)",
    },
    Form {
        form: "{net, subnet, -1}",
        example: "172.16.5.255",
        network: "172.16.5.0/24 in 172.16.0.0/16",
        source: false,
        destination: true,
        meaning: "broadcast to every host of one subnet of a network",
    },
    Form {
        form: "{net, -1, -1}",
        example: "172.16.255.255",
        network: "172.16.0.0/16",
        source: false,
        destination: true,
        meaning: "broadcast to all subnets of a network (obsolete, RFC 922)",
    },
    Form {
        form: "{net, 0}",
        example: "192.168.1.0",
        network: "192.168.1.0/24",
        source: false,
        destination: false,
        meaning: "the network itself: it names the network in routing tables, no host has it",
    },
    Form {
        form: "{127, any}",
        example: "127.0.0.1, 127.0.0.2",
        network: "127.0.0.0/8",
        source: true,
        destination: true,
        meaning: "loopback: this machine; a packet to it never leaves the host, and one from \
                  it on a wire is dropped",
    },
];

/// The table for people.
pub fn render() -> String {
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let mut out = String::new();
    let _ = writeln!(out, "{:<18} {:<21} {:<7} {:<5} meaning", "form", "example", "source", "dest");
    for f in FORMS {
        let _ = writeln!(
            out,
            "{:<18} {:<21} {:<7} {:<5} {}",
            f.form,
            f.example,
            yes_no(f.source),
            yes_no(f.destination),
            f.meaning
        );
        if !f.network.is_empty() {
            let _ = writeln!(out, "{:<53} (example network: {})", "", f.network);
        }
    }
    let _ = writeln!(
        out,
        "\n0 = all bits of that part 0, -1 = all bits 1. The network part is as long as the \
         prefix says\n(/24 above); `07-ip-notes classify 192.168.1.77/24` works out any network."
    );
    out
}

#[cfg(test)]
mod tests {
    use crate::classify::{Input, classify};

    /// The examples really have the form they illustrate.
    #[test]
    fn examples_match_their_forms() {
        let cidr = |text: &str| {
            let input: Input = text.parse().expect("literal");
            classify(input).cidr.expect("a prefix was given")
        };
        assert_eq!(cidr("192.168.1.77/24").broadcast.as_deref(), Some("192.168.1.255"));
        assert_eq!(cidr("192.168.1.77/24").network, "192.168.1.0");
        assert_eq!(cidr("172.16.5.9/24").broadcast.as_deref(), Some("172.16.5.255"));
        assert_eq!(cidr("172.16.5.9/16").broadcast.as_deref(), Some("172.16.255.255"));
        let names = |text: &str| {
            let input: Input = text.parse().expect("literal");
            classify(input).ranges.iter().map(|h| h.name).collect::<Vec<_>>()
        };
        assert!(names("0.0.0.25").contains(&"this network"));
        assert!(names("255.255.255.255").contains(&"broadcast"));
    }
}
