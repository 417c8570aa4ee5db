//! `capture`: every packet to or from one port on loopback, one line each, like tcpdump.
//!
//! The other chapters show the socket calls; this shows what they put on the wire. A
//! `connect()` is three packets (SYN, SYN-ACK, ACK), a `sendall()` is one or more segments
//! carrying data, a `close()` is a FIN that the other side acknowledges, and a reset is a
//! packet too (RST), not only an error code.
//!
//! How it sees packets: a *packet socket* (`AF_PACKET`, Linux) receives a copy of every
//! packet on every interface, before or after the rest of the network stack has seen it.
//! `SOCK_DGRAM` asks the kernel to strip the link-layer header, so each packet starts at its
//! IP header, and protocol `ETH_P_ALL` means every kind of packet. Such a socket can watch
//! anyone's traffic, so opening it needs root or the `CAP_NET_RAW` capability.
//!
//! Run a server in one terminal, `07-ip-notes capture --port PORT` (as root) in a second, and
//! the client in a third.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::packet::{Packet, TcpHeader, Transport, flags};

/// What to capture.
#[derive(Debug, Clone)]
pub struct Options {
    /// Show packets whose source or destination port is this one.
    pub port: u16,
    /// Also save every shown packet to this pcap file.
    pub write: Option<PathBuf>,
    /// Stop after this many packets (otherwise at Ctrl-C).
    pub count: Option<usize>,
}

/// The most packets `--count` asks for; a capture longer than that is one to stop with Ctrl-C.
pub const MAX_PACKETS: usize = 1_000_000;

/// The largest packet loopback carries: its MTU (`ip link show lo`), 64 KiB.
pub const MAX_PACKET: usize = 65_536;
/// How long one receive waits before the loop looks at the Ctrl-C flag again.
pub const READ_TIMEOUT: Duration = Duration::from_millis(200);
/// How many payload bytes a line shows.
pub const PREVIEW_BYTES: usize = 20;

#[cfg(target_os = "linux")]
pub use linux::run;

/// Captures packets on loopback (Linux only).
///
/// # Errors
/// Always, on this system.
#[cfg(not(target_os = "linux"))]
pub fn run(_options: &Options, _trace: bool) -> anyhow::Result<usize> {
    anyhow::bail!(
        "`capture` reads packets with a Linux packet socket (AF_PACKET); on this system use \
         tcpdump (`sudo tcpdump -i lo0 -nn port PORT`) or Wireshark"
    )
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io;
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::time::SystemTime;

    use anyhow::{Context, Result};
    use common::narrate;
    use common::narrate::Narrator;
    use common::report::{self, Doing};
    use common::stop::Stop;
    use nix::errno::Errno;
    use nix::sys::socket::{self, AddressFamily, LinkAddr, SockFlag, SockProtocol, SockType};

    use super::{Conversations, MAX_PACKET, Options, READ_TIMEOUT};
    use crate::{packet, pcap};

    // ANCHOR: run
    /// Prints one line per packet on loopback to or from `options.port` until Ctrl-C or
    /// `options.count` packets, and returns how many it showed.
    ///
    /// # Errors
    /// Without root or `CAP_NET_RAW`, or when the pcap file cannot be written.
    pub fn run(options: &Options, trace: bool) -> Result<usize> {
        let n = Narrator::new("capture", trace);
        let stop = Stop::new();
        stop.trigger_on_ctrl_c()?;
        let socket = open_packet_socket(n)?;
        let loopback = nix::net::if_::if_nametoindex("lo")
            .map_err(io::Error::from)
            .context("could not find the loopback interface, lo")?;
        let mut file = match &options.write {
            Some(path) => Some(
                pcap::Writer::create(path)
                    .with_context(|| format!("could not create {}", path.display()))?,
            ),
            None => None,
        };
        eprintln!("capturing on lo, port {} (Ctrl-C to stop)", options.port);
        let mut lines = Conversations::new(options.port);
        let mut buf = vec![0u8; MAX_PACKET];
        let mut shown = 0;
        while !stop.is_stopping() && options.count.is_none_or(|count| shown < count) {
            let Some(len) = receive_on(&socket, loopback, &mut buf)? else { continue };
            let Ok(packet) = packet::parse(&buf[..len]) else { continue };
            let Some((src, dst)) = packet.transport.ports() else { continue };
            if src != options.port && dst != options.port {
                continue;
            }
            let when = SystemTime::now();
            if let Some(file) = &mut file {
                file.write(when, &buf[..len]).context("could not write the pcap file")?;
            }
            println!("{}", lines.line(when, &packet));
            shown += 1;
        }
        eprintln!("captured {shown} packet(s) on lo, port {}", options.port);
        Ok(shown)
    }
    // ANCHOR_END: run

    // ANCHOR: socket
    /// `socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_ALL))`: a copy of every packet on every
    /// interface, starting at its IP header, with a receive timeout so Ctrl-C is seen.
    fn open_packet_socket(n: Narrator) -> Result<OwnedFd> {
        let socket = socket::socket(
            AddressFamily::Packet,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::EthAll,
        )
        .map_err(io::Error::from)
        .with_context(|| {
            report::doing(Doing::Capture, "could not open a packet socket (AF_PACKET)")
        })?;
        narrate!(n, "socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_ALL)) -> {}", narrate::fd(&socket));
        socket2::SockRef::from(&socket).set_read_timeout(Some(READ_TIMEOUT))?;
        narrate!(n, "setsockopt(SOL_SOCKET, SO_RCVTIMEO, {} ms)", READ_TIMEOUT.as_millis());
        Ok(socket)
    }
    // ANCHOR_END: socket

    // ANCHOR: receive
    /// Receives one packet and returns its length if it is one to show: it was on loopback
    /// (index `loopback`), and it is the copy coming *in*. On `lo` the kernel hands the packet
    /// socket every packet twice, once leaving (`PACKET_OUTGOING`) and once arriving; tcpdump
    /// (libpcap) drops the outgoing copy too. `None` on a timeout, or a packet to skip.
    fn receive_on(socket: &OwnedFd, loopback: u32, buf: &mut [u8]) -> Result<Option<usize>> {
        // recvfrom() on a packet socket fills a `sockaddr_ll`: which interface, which way.
        match socket::recvfrom::<LinkAddr>(socket.as_raw_fd(), buf) {
            Ok((len, Some(from))) => {
                let on_loopback = from.ifindex() == loopback as usize;
                let incoming = from.pkttype() != nix::libc::PACKET_OUTGOING;
                Ok((on_loopback && incoming).then_some(len))
            }
            Ok((_, None)) => Ok(None),
            Err(Errno::EAGAIN | Errno::EINTR) => Ok(None),
            Err(err) => Err(io::Error::from(err)).context("could not receive a packet"),
        }
    }
    // ANCHOR_END: receive
}

/// How many TCP connections the relative numbers are remembered for; past this (a load test on
/// the port), the memory is cleared and later segments of old connections count from 1 again.
pub const MAX_TRACKED: usize = 10_000;

/// The line for each packet, and what it needs to remember between packets: when the capture
/// started, and where each TCP connection's sequence numbers began in each direction.
pub struct Conversations {
    port: u16,
    first: Option<SystemTime>,
    /// Keyed by (client, server) address; the server is the side on `port`.
    connections: HashMap<(SocketAddr, SocketAddr), Connection>,
}

/// One TCP connection's starting points, per direction: index 0 is client -> server.
#[derive(Debug, Default)]
struct Connection {
    /// The first sequence number each side used (its SYN's, the *initial sequence number*).
    base: [Option<u32>; 2],
    /// The window scale each side offered in its SYN; `None` inside if it offered none.
    scale: [Option<Option<u8>>; 2],
}

impl Conversations {
    /// Lines for packets to or from `port` (the server's).
    pub fn new(port: u16) -> Self {
        Self { port, first: None, connections: HashMap::new() }
    }

    // ANCHOR: line
    /// One packet as a line: time since the first packet, the client's address, direction,
    /// then what the transport header says.
    pub fn line(&mut self, when: SystemTime, packet: &Packet<'_>) -> String {
        let first = *self.first.get_or_insert(when);
        let since = when.duration_since(first).unwrap_or_default().as_secs_f64();
        let (src_port, dst_port) = packet.transport.ports().unwrap_or_default();
        let to_server = dst_port == self.port;
        let (source, destination) =
            (SocketAddr::new(packet.ip.src, src_port), SocketAddr::new(packet.ip.dst, dst_port));
        let (client, server, direction) = if to_server {
            (source, destination, "client -> server")
        } else {
            (destination, source, "server -> client")
        };
        let what = match &packet.transport {
            Transport::Tcp(header, payload) => self.tcp(client, server, to_server, header, payload),
            Transport::Udp(_, payload) => {
                format!("{:<8} len={}{}", "UDP", payload.len(), preview(payload))
            }
            Transport::Other => format!("IP protocol {}", packet.ip.protocol),
        };
        format!("{since:>10.6}  {client:<15}  {direction}  {what}")
    }
    // ANCHOR_END: line

    // ANCHOR: relative
    /// A TCP segment: flags, then sequence and acknowledgement numbers counted from each
    /// side's first one, as Wireshark shows them: the SYN is 0 and the first data byte is 1.
    fn tcp(
        &mut self,
        client: SocketAddr,
        server: SocketAddr,
        to_server: bool,
        h: &TcpHeader,
        payload: &[u8],
    ) -> String {
        if self.connections.len() >= MAX_TRACKED {
            self.connections.clear();
        }
        let conn = self.connections.entry((client, server)).or_default();
        let (this, other) = if to_server { (0, 1) } else { (1, 0) };
        let syn = h.flags & flags::SYN != 0;
        if syn && h.flags & flags::ACK == 0 {
            *conn = Connection::default(); // a new connection on the same two ports
        }
        // Joined after the SYN: count the first segment seen as byte 1, as if the SYN were 0.
        let base = *conn.base[this].get_or_insert(if syn { h.seq } else { h.seq.wrapping_sub(1) });
        let mut text = format!("{:<8} seq={}", flag_names(h.flags), h.seq.wrapping_sub(base));
        if h.flags & flags::ACK != 0 {
            let other_base = *conn.base[other].get_or_insert(h.ack.wrapping_sub(1));
            text.push_str(&format!(" ack={}", h.ack.wrapping_sub(other_base)));
        }
        if syn {
            conn.scale[this] = Some(h.window_scale);
        }
        text.push_str(&format!(" win={} len={}", window(h, conn, this), payload.len()));
        if let Some(mss) = h.mss {
            text.push_str(&format!(" mss={mss}"));
        }
        if let Some(scale) = h.window_scale {
            text.push_str(&format!(" wscale={scale}"));
        }
        text + &preview(payload)
    }
    // ANCHOR_END: relative
}

/// The receive window the sender announces, in bytes. The header has 16 bits for it (64 KiB at
/// most), so both sides may agree in their SYNs to shift it left (RFC 7323 window scaling):
/// the real window is `window << scale`, once both offered it, and never in a SYN itself.
fn window(h: &TcpHeader, conn: &Connection, this: usize) -> u32 {
    match conn.scale {
        [Some(Some(client)), Some(Some(server))] if h.flags & flags::SYN == 0 => {
            let scale = if this == 0 { client } else { server };
            u32::from(h.window) << scale.min(14) // RFC 7323: 14 at most
        }
        _ => u32::from(h.window),
    }
}

/// The flags by name, joined: `SYN`, `SYN-ACK`, `PSH-ACK`, `FIN-ACK`, `RST`, `RST-ACK`.
pub fn flag_names(bits: u8) -> String {
    const NAMES: [(u8, &str); 8] = [
        (flags::SYN, "SYN"),
        (flags::FIN, "FIN"),
        (flags::RST, "RST"),
        (flags::PSH, "PSH"),
        (flags::ACK, "ACK"),
        (flags::URG, "URG"),
        (flags::ECE, "ECE"),
        (flags::CWR, "CWR"),
    ];
    let names: Vec<&str> =
        NAMES.iter().filter(|(bit, _)| bits & bit != 0).map(|(_, name)| *name).collect();
    if names.is_empty() { "none".to_owned() } else { names.join("-") }
}

/// The first [`PREVIEW_BYTES`] of a payload as Python shows bytes (`b'Hello, world'`), after
/// two spaces, and `...` when there is more; nothing for an empty payload.
fn preview(payload: &[u8]) -> String {
    if payload.is_empty() {
        return String::new();
    }
    let shown = &payload[..payload.len().min(PREVIEW_BYTES)];
    let more = if payload.len() > PREVIEW_BYTES { "..." } else { "" };
    format!("  {}{more}", common::text::py_bytes(shown))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{IpHeader, PROTO_TCP, PROTO_UDP, UdpHeader};
    use std::net::{IpAddr, Ipv4Addr};

    const CLIENT: u16 = 50000;
    const SERVER: u16 = 65432;

    fn ip(to_server: bool, protocol: u8) -> IpHeader {
        let (a, b) = (IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
        let (src, dst) = if to_server { (a, b) } else { (b, a) };
        IpHeader { src, dst, ttl: 64, protocol }
    }

    /// A segment of the conversation: (to server?, flags, raw seq, raw ack, window, scale).
    fn segment(to_server: bool, bits: u8, seq: u32, ack: u32, scale: Option<u8>) -> TcpHeader {
        let (src_port, dst_port) = if to_server { (CLIENT, SERVER) } else { (SERVER, CLIENT) };
        TcpHeader {
            src_port,
            dst_port,
            seq,
            ack,
            flags: bits,
            window: 64,
            mss: None,
            window_scale: scale,
        }
    }

    fn line(
        c: &mut Conversations,
        ms: u64,
        to_server: bool,
        h: TcpHeader,
        payload: &[u8],
    ) -> String {
        let when = SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
        c.line(
            when,
            &Packet { ip: ip(to_server, PROTO_TCP), transport: Transport::Tcp(h, payload) },
        )
    }

    #[test]
    fn numbers_count_from_each_sides_syn_and_windows_scale() {
        use flags::*;
        let mut c = Conversations::new(SERVER);
        let syn = line(&mut c, 1000, true, segment(true, SYN, 7000, 0, Some(10)), b"");
        assert_eq!(
            syn,
            "  0.000000  127.0.0.1:50000  client -> server  SYN      seq=0 win=64 len=0 wscale=10"
        );
        let syn_ack = line(&mut c, 1001, false, segment(false, SYN | ACK, 90, 7001, Some(7)), b"");
        assert!(syn_ack.contains("server -> client  SYN-ACK  seq=0 ack=1 win=64 "), "{syn_ack}");
        let data = line(&mut c, 1002, true, segment(true, PSH | ACK, 7001, 91, None), b"Hello");
        assert!(data.ends_with("PSH-ACK  seq=1 ack=1 win=65536 len=5  b'Hello'"), "{data}");
        let echo = line(&mut c, 1003, false, segment(false, ACK, 91, 7006, None), b"");
        assert!(echo.starts_with("  0.003000") && echo.contains("ack=6 win=8192 "), "{echo}");
    }

    #[test]
    fn joined_mid_stream_the_first_segment_is_byte_1() {
        let mut c = Conversations::new(SERVER);
        let mid = line(&mut c, 0, true, segment(true, flags::ACK, 5000, 800, None), b"abc");
        assert!(mid.contains("ACK      seq=1 ack=1 win=64 len=3  b'abc'"), "{mid}");
        let reply = line(&mut c, 0, false, segment(false, flags::RST, 800, 0, None), b"");
        assert!(reply.contains("RST      seq=1 win=64 len=0"), "{reply}");
    }

    #[test]
    fn a_new_syn_on_the_same_ports_starts_counting_again() {
        let mut c = Conversations::new(SERVER);
        line(&mut c, 0, true, segment(true, flags::SYN, 100, 0, None), b"");
        let again = line(&mut c, 0, true, segment(true, flags::SYN, 999_999, 0, None), b"");
        assert!(again.contains("SYN      seq=0 "), "{again}");
    }

    #[test]
    fn udp_lines_show_length_and_preview() {
        let mut c = Conversations::new(SERVER);
        let header = UdpHeader { src_port: SERVER, dst_port: CLIENT, length: 8 + 30 };
        let payload = [b'x'; 30];
        let packet =
            Packet { ip: ip(false, PROTO_UDP), transport: Transport::Udp(header, &payload) };
        let text = c.line(SystemTime::UNIX_EPOCH, &packet);
        let expected = format!("server -> client  UDP      len=30  b'{}'...", "x".repeat(20));
        assert!(text.ends_with(&expected), "{text}");
    }

    #[test]
    fn flags_are_spelled_out() {
        use flags::*;
        assert_eq!(flag_names(SYN | ACK), "SYN-ACK");
        assert_eq!(flag_names(FIN | PSH | ACK), "FIN-PSH-ACK");
        assert_eq!(flag_names(RST | ACK), "RST-ACK");
        assert_eq!(flag_names(0), "none");
    }
}
