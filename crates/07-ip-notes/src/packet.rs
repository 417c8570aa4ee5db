//! `packet`: the IPv4, IPv6, TCP and UDP headers of one packet, read byte by byte.
//!
//! A packet on the wire is headers nested like envelopes: the IP header says who it is from
//! and to and what it carries (protocol 6 is TCP, 17 is UDP); inside, the TCP or UDP header
//! names the ports, and after it come the application's bytes. Every field sits at a fixed
//! offset, in network byte order (big-endian), and the diagrams below are the RFCs' own,
//! 32 bits to a row. `capture` receives packets starting at the IP header (its socket asks
//! the kernel to strip the link layer) and hands them to [`parse`].
//!
//! Nothing here trusts the bytes: every length is checked before it is used, and a short or
//! inconsistent packet is a [`ParseError`], never a panic.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IP protocol number of TCP (the IPv4 "protocol" and IPv6 "next header" fields).
pub const PROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;

/// One packet: its IP header and what it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Source and destination address, and the IP fields `capture` shows.
    pub ip: IpHeader,
    /// The TCP segment, the UDP datagram, or a protocol this module does not read.
    pub transport: Transport<'a>,
}

/// The IP layer: the same idea in two layouts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpHeader {
    /// Where the packet comes from.
    pub src: IpAddr,
    /// Where it goes.
    pub dst: IpAddr,
    /// Hops left before a router drops it (IPv4's TTL, IPv6's hop limit).
    pub ttl: u8,
    /// The protocol of the payload (6 TCP, 17 UDP, ...).
    pub protocol: u8,
}

/// What the IP packet carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport<'a> {
    /// A TCP segment and its payload (the application's bytes).
    Tcp(TcpHeader, &'a [u8]),
    /// A UDP datagram and its payload.
    Udp(UdpHeader, &'a [u8]),
    /// Another protocol (ICMP, ...) or an IPv4 fragment after the first: no ports to read.
    Other,
}

/// Why a packet could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Fewer bytes than the header (or its own length field) says there are.
    Truncated {
        /// Which header.
        header: &'static str,
        /// Bytes it needs.
        need: usize,
        /// Bytes there are.
        have: usize,
    },
    /// The first four bits are neither 4 nor 6.
    NotIp(u8),
    /// A length field smaller than the header it belongs to.
    BadLength(&'static str),
}

/// Reads one packet that starts at its IP header.
///
/// # Errors
/// When the bytes are too short for the headers they announce, or are not IP.
pub fn parse(bytes: &[u8]) -> Result<Packet<'_>, ParseError> {
    let first = *bytes.first().ok_or(ParseError::Truncated { header: "IP", need: 1, have: 0 })?;
    // The version is the first four bits of both layouts: the one field they share.
    let (ip, payload, first_fragment) = match first >> 4 {
        4 => parse_ipv4(bytes)?,
        6 => parse_ipv6(bytes)?,
        version => return Err(ParseError::NotIp(version)),
    };
    let transport = match ip.protocol {
        PROTO_TCP if first_fragment => parse_tcp(payload)?,
        PROTO_UDP if first_fragment => parse_udp(payload)?,
        _ => Transport::Other,
    };
    Ok(Packet { ip, transport })
}

/// Fails unless `bytes` holds at least `need` bytes: the check before every fixed offset.
fn need(bytes: &[u8], need: usize, header: &'static str) -> Result<(), ParseError> {
    if bytes.len() < need {
        return Err(ParseError::Truncated { header, need, have: bytes.len() });
    }
    Ok(())
}

/// The big-endian 16-bit number at `at` (the caller has checked the length).
fn be16(bytes: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([bytes[at], bytes[at + 1]])
}

/// The big-endian 32-bit number at `at` (the caller has checked the length).
fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

// ANCHOR: ipv4
/// The IPv4 header (RFC 791), 20 bytes plus options:
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version|  IHL  |    DSCP/ECN   |          Total Length         |
/// |         Identification        |Flags|     Fragment Offset     |
/// |  Time to Live |    Protocol   |        Header Checksum        |
/// |                        Source Address                         |
/// |                     Destination Address                       |
/// |                    Options (IHL > 5) ...                      |
/// ```
/// IHL counts 32-bit words; Total Length counts bytes, header included.
fn parse_ipv4(bytes: &[u8]) -> Result<(IpHeader, &[u8], bool), ParseError> {
    need(bytes, 20, "IPv4")?;
    let header_len = usize::from(bytes[0] & 0x0f) * 4;
    let total_len = usize::from(be16(bytes, 2));
    if header_len < 20 || total_len < header_len {
        return Err(ParseError::BadLength("IPv4"));
    }
    need(bytes, total_len, "IPv4")?;
    // Only the first fragment (offset 0) starts with the TCP or UDP header.
    let first_fragment = be16(bytes, 6) & 0x1fff == 0;
    let ip = IpHeader {
        ttl: bytes[8],
        protocol: bytes[9],
        src: IpAddr::V4(Ipv4Addr::new(bytes[12], bytes[13], bytes[14], bytes[15])),
        dst: IpAddr::V4(Ipv4Addr::new(bytes[16], bytes[17], bytes[18], bytes[19])),
    };
    // Bytes past Total Length are link-layer padding, not payload.
    Ok((ip, &bytes[header_len..total_len], first_fragment))
}
// ANCHOR_END: ipv4

// ANCHOR: ipv6
/// The IPv6 header (RFC 8200), always 40 bytes; options live in extension headers after it:
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version| Traffic Class |              Flow Label               |
/// |         Payload Length        |  Next Header  |   Hop Limit   |
/// |                                                               |
/// |                Source Address (16 bytes)                      |
/// |                                                               |
/// |              Destination Address (16 bytes)                   |
/// ```
/// Payload Length counts the bytes after these 40.
fn parse_ipv6(bytes: &[u8]) -> Result<(IpHeader, &[u8], bool), ParseError> {
    need(bytes, 40, "IPv6")?;
    let end = 40 + usize::from(be16(bytes, 4));
    need(bytes, end, "IPv6")?;
    let address = |at: usize| {
        let mut octets = [0u8; 16];
        octets.copy_from_slice(&bytes[at..at + 16]);
        IpAddr::V6(Ipv6Addr::from(octets))
    };
    let (protocol, start) = skip_extensions(bytes[6], &bytes[..end], 40)?;
    let ip = IpHeader { ttl: bytes[7], protocol, src: address(8), dst: address(24) };
    // A fragment header (44) is not skipped: what follows it may not start with TCP or UDP.
    Ok((ip, &bytes[start..end], protocol != 44))
}
// ANCHOR_END: ipv6

/// Follows the chain of extension headers (hop-by-hop 0, routing 43, destination options 60),
/// each `[next header, length in 8-byte units beyond the first 8, ...]`, to the protocol.
fn skip_extensions(mut next: u8, bytes: &[u8], mut at: usize) -> Result<(u8, usize), ParseError> {
    while matches!(next, 0 | 43 | 60) {
        need(bytes, at + 2, "IPv6 extension")?;
        let len = (usize::from(bytes[at + 1]) + 1) * 8;
        need(bytes, at + len, "IPv6 extension")?;
        next = bytes[at];
        at += len;
    }
    Ok((next, at))
}

/// TCP's flag bits, in the 14th byte of its header.
pub mod flags {
    /// "No more data from me": the sender's half of the connection is closed.
    pub const FIN: u8 = 0x01;
    /// "Synchronise sequence numbers": the first segment of each side.
    pub const SYN: u8 = 0x02;
    /// "Reset": abort the connection now (an error, or `SO_LINGER` 0 on close).
    pub const RST: u8 = 0x04;
    /// "Push": hand the data to the application now, do not wait for more.
    pub const PSH: u8 = 0x08;
    /// "The acknowledgement number is valid": set on every segment after the first SYN.
    pub const ACK: u8 = 0x10;
    /// "Urgent pointer is valid" (rarely used).
    pub const URG: u8 = 0x20;
    /// ECN echo: the receiver saw congestion.
    pub const ECE: u8 = 0x40;
    /// Congestion window reduced: the answer to ECE.
    pub const CWR: u8 = 0x80;
}

/// The TCP header fields `capture` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpHeader {
    /// The sender's port.
    pub src_port: u16,
    /// The receiver's port.
    pub dst_port: u16,
    /// The number of the first byte of this segment's payload (SYN and FIN count as one).
    pub seq: u32,
    /// The next byte the sender expects from the other side (valid with ACK).
    pub ack: u32,
    /// The [`flags`] bits.
    pub flags: u8,
    /// How many more bytes the sender can receive, before scaling.
    pub window: u16,
    /// Options a SYN carries: maximum segment size and window scale.
    pub mss: Option<u16>,
    /// The window scale shift (RFC 7323): the real window is `window << scale`.
    pub window_scale: Option<u8>,
}

// ANCHOR: tcp
/// The TCP header (RFC 9293), 20 bytes plus options:
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |          Source Port          |       Destination Port        |
/// |                        Sequence Number                        |
/// |                    Acknowledgment Number                      |
/// |  Data |       |C|E|U|A|P|R|S|F|                               |
/// | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
/// |       |       |R|E|G|K|H|T|N|N|                               |
/// |           Checksum            |         Urgent Pointer        |
/// |                    Options (Data Offset > 5) ...              |
/// ```
/// Data Offset counts 32-bit words: where the payload starts.
fn parse_tcp(segment: &[u8]) -> Result<Transport<'_>, ParseError> {
    need(segment, 20, "TCP")?;
    let header_len = usize::from(segment[12] >> 4) * 4;
    if header_len < 20 {
        return Err(ParseError::BadLength("TCP"));
    }
    need(segment, header_len, "TCP")?;
    let (mss, window_scale) = tcp_options(&segment[20..header_len]);
    let header = TcpHeader {
        src_port: be16(segment, 0),
        dst_port: be16(segment, 2),
        seq: be32(segment, 4),
        ack: be32(segment, 8),
        flags: segment[13],
        window: be16(segment, 14),
        mss,
        window_scale,
    };
    Ok(Transport::Tcp(header, &segment[header_len..]))
}
// ANCHOR_END: tcp

/// Reads the options area: kind 0 ends it, kind 1 is one byte of padding, every other kind
/// is `[kind, length, value...]`. Kind 2 is the MSS (2 bytes), kind 3 the window scale (1).
fn tcp_options(mut options: &[u8]) -> (Option<u16>, Option<u8>) {
    let (mut mss, mut scale) = (None, None);
    while let Some(&kind) = options.first() {
        match kind {
            0 => break,
            1 => options = &options[1..],
            _ => {
                let len = options.get(1).map_or(0, |&l| usize::from(l));
                if len < 2 || len > options.len() {
                    break; // A malformed option ends the reading, not the program.
                }
                match (kind, len) {
                    (2, 4) => mss = Some(be16(options, 2)),
                    (3, 3) => scale = Some(options[2]),
                    _ => {}
                }
                options = &options[len..];
            }
        }
    }
    (mss, scale)
}

/// The UDP header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpHeader {
    /// The sender's port.
    pub src_port: u16,
    /// The receiver's port.
    pub dst_port: u16,
    /// Header plus payload, in bytes.
    pub length: u16,
}

// ANCHOR: udp
/// The UDP header (RFC 768): only 8 bytes, because UDP adds nothing but ports and a length
/// to IP (no connection, no sequence numbers, no acknowledgements):
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |          Source Port          |       Destination Port        |
/// |            Length             |           Checksum            |
/// ```
fn parse_udp(datagram: &[u8]) -> Result<Transport<'_>, ParseError> {
    need(datagram, 8, "UDP")?;
    let length = be16(datagram, 4);
    let end = usize::from(length);
    if end < 8 {
        return Err(ParseError::BadLength("UDP"));
    }
    need(datagram, end, "UDP")?;
    let header = UdpHeader { src_port: be16(datagram, 0), dst_port: be16(datagram, 2), length };
    Ok(Transport::Udp(header, &datagram[8..end]))
}
// ANCHOR_END: udp

impl Transport<'_> {
    /// The source and destination ports, for TCP and UDP.
    pub fn ports(&self) -> Option<(u16, u16)> {
        match self {
            Transport::Tcp(h, _) => Some((h.src_port, h.dst_port)),
            Transport::Udp(h, _) => Some((h.src_port, h.dst_port)),
            Transport::Other => None,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Truncated { header, need, have } => {
                write!(f, "truncated {header} header: needs {need} bytes, has {have}")
            }
            ParseError::NotIp(version) => write!(f, "not IP (version {version})"),
            ParseError::BadLength(header) => write!(f, "{header} length field too small"),
        }
    }
}

impl std::error::Error for ParseError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv4 header for `payload` from 127.0.0.1 to 127.0.0.2 (checksum left at 0: the
    /// parser, like the kernel's loopback, does not check it).
    fn ipv4(protocol: u8, payload: &[u8]) -> Vec<u8> {
        let total = u16::try_from(20 + payload.len()).expect("small test packet");
        let mut p =
            vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, protocol, 0, 0, 127, 0, 0, 1, 127, 0, 0, 2];
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    /// An IPv6 header for `payload` from ::1 to ::1, with `next` as its next header.
    fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
        let len = u16::try_from(payload.len()).expect("small test packet");
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&len.to_be_bytes());
        p.extend_from_slice(&[next, 64]);
        p.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        p.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        p.extend_from_slice(payload);
        p
    }

    fn tcp(flags: u8, options: &[u8], payload: &[u8]) -> Vec<u8> {
        let offset = u8::try_from((20 + options.len()) / 4).expect("small header");
        let mut s = vec![0xc3, 0x50, 0xff, 0x98]; // ports 50000 -> 65432
        s.extend_from_slice(&1000u32.to_be_bytes());
        s.extend_from_slice(&2000u32.to_be_bytes());
        s.extend_from_slice(&[offset << 4, flags, 0x02, 0x00, 0, 0, 0, 0]); // window 512
        s.extend_from_slice(options);
        s.extend_from_slice(payload);
        s
    }

    fn udp(payload: &[u8]) -> Vec<u8> {
        let len = u16::try_from(8 + payload.len()).expect("small datagram");
        let mut d = vec![0xc3, 0x50, 0x13, 0x8d]; // ports 50000 -> 5005
        d.extend_from_slice(&len.to_be_bytes());
        d.extend_from_slice(&[0, 0]);
        d.extend_from_slice(payload);
        d
    }

    /// MSS 65495, a no-op, window scale 7, then end of options and padding.
    const SYN_OPTIONS: [u8; 12] = [2, 4, 0xff, 0xd7, 1, 3, 3, 7, 0, 0, 0, 0];

    #[test]
    fn ipv4_tcp_syn_with_options() {
        let bytes = ipv4(PROTO_TCP, &tcp(flags::SYN, &SYN_OPTIONS, b""));
        let packet = parse(&bytes).unwrap();
        assert_eq!(packet.ip.src, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(packet.ip.dst, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
        assert_eq!((packet.ip.ttl, packet.ip.protocol), (64, PROTO_TCP));
        let Transport::Tcp(h, payload) = packet.transport else { panic!("TCP expected") };
        assert_eq!((h.src_port, h.dst_port, h.seq, h.ack), (50000, 65432, 1000, 2000));
        assert_eq!(
            (h.flags, h.window, h.mss, h.window_scale),
            (flags::SYN, 512, Some(65495), Some(7))
        );
        assert!(payload.is_empty());
    }

    #[test]
    fn ipv4_payload_stops_at_total_length() {
        let mut bytes = ipv4(PROTO_TCP, &tcp(flags::PSH | flags::ACK, &[], b"Hello"));
        bytes.extend_from_slice(&[0xee; 6]); // link-layer padding
        let Transport::Tcp(_, payload) = parse(&bytes).unwrap().transport else { panic!() };
        assert_eq!(payload, b"Hello");
    }

    #[test]
    fn ipv6_udp_and_extension_headers() {
        let bytes = ipv6(PROTO_UDP, &udp(b"hi"));
        let packet = parse(&bytes).unwrap();
        assert_eq!(packet.ip.src, IpAddr::V6(Ipv6Addr::LOCALHOST));
        let Transport::Udp(h, payload) = packet.transport else { panic!("UDP expected") };
        assert_eq!((h.src_port, h.dst_port, h.length, payload), (50000, 5005, 10, &b"hi"[..]));

        // A hop-by-hop header (8 bytes: next = UDP, length 0, padding) before the datagram.
        let mut chain = vec![PROTO_UDP, 0, 1, 4, 0, 0, 0, 0];
        chain.extend_from_slice(&udp(b"hi"));
        let bytes = ipv6(0, &chain);
        let packet = parse(&bytes).unwrap();
        assert_eq!(packet.ip.protocol, PROTO_UDP);
        assert!(matches!(packet.transport, Transport::Udp(_, b"hi")));
    }

    #[test]
    fn fragments_and_other_protocols_have_no_ports() {
        let mut later_fragment = ipv4(PROTO_UDP, &udp(b"x"));
        later_fragment[7] = 1; // fragment offset 8 bytes
        assert_eq!(parse(&later_fragment).unwrap().transport, Transport::Other);
        let icmp = ipv4(1, &[8, 0, 0, 0]);
        assert_eq!(parse(&icmp).unwrap().transport.ports(), None);
        assert_eq!(parse(&ipv6(44, &udp(b"x"))).unwrap().transport, Transport::Other);
    }

    #[test]
    fn lengths_smaller_than_their_header_are_errors() {
        let mut short_ihl = ipv4(PROTO_UDP, &udp(b""));
        short_ihl[0] = 0x44;
        assert_eq!(parse(&short_ihl), Err(ParseError::BadLength("IPv4")));
        let mut short_offset = ipv4(PROTO_TCP, &tcp(0, &[], b""));
        short_offset[20 + 12] = 0x40;
        assert_eq!(parse(&short_offset), Err(ParseError::BadLength("TCP")));
        let mut short_udp = ipv4(PROTO_UDP, &udp(b""));
        short_udp[20 + 5] = 7;
        assert_eq!(parse(&short_udp), Err(ParseError::BadLength("UDP")));
        assert_eq!(parse(&[0x25; 30]), Err(ParseError::NotIp(2)));
        assert!(matches!(parse(&[]), Err(ParseError::Truncated { have: 0, .. })));
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let packets = [
            ipv4(PROTO_TCP, &tcp(flags::SYN, &SYN_OPTIONS, b"")),
            ipv4(PROTO_UDP, &udp(b"hello")),
            ipv6(PROTO_TCP, &tcp(flags::ACK, &[], b"data")),
            ipv6(0, &[PROTO_UDP, 0, 0, 0, 0, 0, 0, 0]),
        ];
        for packet in &packets {
            for len in 0..packet.len() {
                let result = parse(&packet[..len]);
                assert!(result.is_err(), "{len} of {} bytes parsed: {result:?}", packet.len());
            }
        }
    }

    #[test]
    fn malformed_tcp_options_end_the_reading() {
        assert_eq!(tcp_options(&[2, 0, 0xff, 0xd7]), (None, None)); // length 0
        assert_eq!(tcp_options(&[3, 9, 7]), (None, None)); // longer than the area
        assert_eq!(tcp_options(&[1, 1, 3, 3, 5]), (None, Some(5)));
        assert_eq!(tcp_options(&[2]), (None, None));
    }

    #[test]
    fn garbage_never_panics() {
        // A fixed xorshift sequence: random-looking bytes, the same on every run.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let valid = ipv4(PROTO_TCP, &tcp(flags::SYN, &SYN_OPTIONS, b"payload"));
        for round in 0..20_000 {
            let len = usize::try_from(next() % 120).unwrap();
            let mut bytes: Vec<u8> = (0..len).map(|_| next().to_le_bytes()[0]).collect();
            // Half the rounds keep a plausible version nibble, so the deeper parsers run too.
            if round % 2 == 0 && !bytes.is_empty() {
                bytes[0] = if round % 4 == 0 { 0x45 } else { 0x60 };
            }
            let _ = parse(&bytes);
            // And a valid packet with one byte changed.
            let mut mutated = valid.clone();
            let at = usize::try_from(next()).unwrap() % mutated.len();
            mutated[at] = next().to_le_bytes()[0];
            let _ = parse(&mutated);
        }
    }
}
