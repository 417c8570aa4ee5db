//! The UDP client: `sendto` a datagram, `recvfrom` the reply, with a timeout, because a reply
//! may never come.
//!
//! Modes:
//! - `messages` (the tutorial's): 100 numbered messages, one reply awaited after each;
//! - `ping`: numbered, timestamped probes at an interval, like ping(8): loss, duplicates,
//!   reordering and round-trip times;
//! - `blast`: probes as fast as possible, to overflow a receive buffer and measure the loss;
//! - `rtt`: one probe at a time for a fixed time: round trips per second (the benchmark).
//!
//! Any mode can run *connected* (`--connect`): `connect()` on a UDP socket sends nothing, but
//! the kernel then accepts datagrams only from that peer, and reports ICMP errors about it
//! (such as "port unreachable") to us as `Connection refused`.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use common::narrate;
use common::narrate::Narrator;
use common::report::{Doing, Transport, doing};
use common::step;
use common::timeout::is_timeout;
use socket2::{Domain, Protocol, Socket, Type};

use crate::preview;
use crate::probe::HEADER_LEN;

mod blast;
mod ping;

pub use blast::blast;
pub use ping::{ping, rtt};

/// How long to wait for a reply before calling it lost.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1000);
/// A run gives up when this many datagrams in a row, from the first, got no answer at all: an
/// unconnected UDP socket hears nothing from a closed port, so without a rule the tutorial's
/// 100 messages would wait 100 timeouts (100 s) to say "no server". Loss after the first answer
/// is a result, not a reason to stop.
pub const GIVE_UP_AFTER_SILENT: u32 = 3;
/// The largest UDP payload over IPv4: 65,535 minus the 20-byte IP and 8-byte UDP headers.
pub const MAX_PAYLOAD_V4: usize = 65_507;
/// The largest UDP payload over IPv6 (its 40-byte header is not counted in its length field).
pub const MAX_PAYLOAD_V6: usize = 65_527;
/// `rtt` keeps every round-trip time, so its duration is bounded.
pub const MAX_RTT_DURATION: Duration = Duration::from_secs(60);
/// Every receive buffer of the client: larger than any datagram, so no reply is ever cut.
pub const RECV_BUF_SIZE: usize = 65_536;
/// The smallest `--size` for the probe modes.
pub const MIN_PROBE_SIZE: usize = HEADER_LEN;

/// Where and how to send.
#[derive(Debug, Clone)]
pub struct Target {
    /// Server host (literal or name).
    pub host: String,
    /// Server port.
    pub port: u16,
    /// `connect()` the socket to the server.
    pub connect: bool,
    /// Set `SO_BROADCAST`, needed to send to a broadcast address.
    pub broadcast: bool,
    /// How long to wait for a reply.
    pub timeout: Duration,
}

/// A UDP socket aimed at one server.
pub struct UdpClient {
    /// Always `Some` until `drop` takes it to close it, narrated.
    socket: Option<UdpSocket>,
    server: SocketAddr,
    connected: bool,
    n: Narrator,
}

impl UdpClient {
    // ANCHOR: open
    /// `socket(SOCK_DGRAM)`, `bind` to any local port, and `connect` if asked.
    ///
    /// # Errors
    /// When the host does not resolve or a call fails.
    pub fn open(target: &Target, n: Narrator) -> Result<Self> {
        let server = common::host::resolve(&target.host, target.port)?[0];
        let domain = Domain::for_address(server);
        step!(n, "socket({}, SOCK_DGRAM)", common::narrate::family(server.ip()));
        let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))
            .context("could not create a socket")?;
        narrate!(
            n,
            &socket,
            "socket({}, SOCK_DGRAM) -> {}",
            common::narrate::family(server.ip()),
            common::narrate::fd(&socket)
        );
        if target.broadcast {
            // Without SO_BROADCAST the kernel refuses to send to a broadcast address (EACCES),
            // so a program cannot flood a network by accident.
            step!(n, "setsockopt(SOL_SOCKET, SO_BROADCAST, 1)");
            socket.set_broadcast(true).context("could not set SO_BROADCAST")?;
            narrate!(n, "setsockopt(SOL_SOCKET, SO_BROADCAST, 1)");
        }
        // ANCHOR_END: open
        // ANCHOR: open_bind
        // Port 0: any free local port. Without this bind, the first sendto() would pick one.
        let any: SocketAddr = if server.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        step!(n, &socket, "bind({any})");
        socket
            .bind(&any.into())
            .with_context(|| doing(Doing::Bind(Transport::Udp), "could not bind a local port"))?;
        let socket = UdpSocket::from(socket);
        narrate!(
            n,
            &socket,
            "bind({any}) -> {}",
            socket.local_addr().map(|a| a.to_string()).unwrap_or_default()
        );
        if target.connect {
            // No handshake and no packet: the kernel only records the peer.
            step!(n, &socket, "connect({server})");
            socket.connect(server).with_context(|| format!("could not connect to {server}"))?;
            narrate!(n, &socket, "connect({server}) (UDP: no packet is sent)");
        }
        // SO_RCVTIMEO: a reply may never come, so no recv may wait forever.
        step!(n, "setsockopt(SOL_SOCKET, SO_RCVTIMEO, {} ms)", target.timeout.as_millis());
        socket.set_read_timeout(Some(target.timeout)).context("could not set SO_RCVTIMEO")?;
        narrate!(n, "setsockopt(SOL_SOCKET, SO_RCVTIMEO, {} ms)", target.timeout.as_millis());
        Ok(Self { socket: Some(socket), server, connected: target.connect, n })
    }
    // ANCHOR_END: open_bind

    /// The socket, open for as long as the client lives.
    fn socket(&self) -> &UdpSocket {
        self.socket.as_ref().expect("the socket is taken only when the client is dropped")
    }

    /// The server's address.
    pub fn server(&self) -> SocketAddr {
        self.server
    }

    // ANCHOR: send_recv
    /// Sends one datagram: `send` when connected, `sendto` otherwise.
    ///
    /// # Errors
    /// When the kernel refuses it (too large, broadcast without `--broadcast`, an earlier
    /// ICMP error on a connected socket).
    pub fn send(&self, datagram: &[u8]) -> Result<()> {
        let socket = self.socket();
        match self.connected {
            true => step!(self.n, socket, "send({} bytes)", datagram.len()),
            false => step!(self.n, socket, "sendto({} bytes, {})", datagram.len(), self.server),
        }
        let sent = match self.connected {
            true => socket.send(datagram),
            false => socket.send_to(datagram, self.server),
        };
        if let Err(e) = &sent {
            match self.connected {
                true => narrate!(self.n, "send({} bytes) -> {e}", datagram.len()),
                false => {
                    narrate!(self.n, "sendto({} bytes, {}) -> {e}", datagram.len(), self.server)
                }
            }
        }
        sent.map_err(|e| self.explain(e)).with_context(|| {
            let what = format!("could not send {} bytes to {}", datagram.len(), self.server);
            doing(Doing::Send(Transport::Udp), what)
        })?;
        match self.connected {
            true => narrate!(self.n, socket, "send({} bytes)", datagram.len()),
            false => narrate!(self.n, socket, "sendto({} bytes, {})", datagram.len(), self.server),
        }
        Ok(())
    }

    // ANCHOR_END: send_recv
    // ANCHOR: recv
    /// Receives one datagram and its sender, or `None` when the timeout passes first.
    ///
    /// # Errors
    /// On a connected socket, `Connection refused` when the server's host answered an earlier
    /// datagram with ICMP port unreachable.
    pub fn recv(&self, buf: &mut [u8]) -> Result<Option<(usize, SocketAddr)>> {
        let socket = self.socket();
        step!(self.n, socket, "{}({})", self.recv_name(), buf.len());
        let received = match self.connected {
            true => socket.recv(buf).map(|len| (len, self.server)),
            false => socket.recv_from(buf),
        };
        match received {
            Ok((len, from)) if self.connected => {
                narrate!(self.n, socket, "recv({}) -> {len} bytes", buf.len());
                Ok(Some((len, from)))
            }
            Ok((len, from)) => {
                narrate!(self.n, socket, "recvfrom({}) -> {len} bytes from {from}", buf.len());
                Ok(Some((len, from)))
            }
            // SO_RCVTIMEO expired: Unix says EAGAIN (WouldBlock), Windows says TimedOut.
            Err(e) if is_timeout(&e) => {
                narrate!(self.n, "{}({}) -> timed out (SO_RCVTIMEO)", self.recv_name(), buf.len());
                Ok(None)
            }
            Err(e) => {
                narrate!(self.n, "{}({}) -> {e}", self.recv_name(), buf.len());
                Err(self.explain(e))
                    .with_context(|| format!("could not receive from {}", self.server))
            }
        }
    }
    // ANCHOR_END: recv

    /// The call's name as C knows it: `recv` on a connected socket, `recvfrom` otherwise.
    fn recv_name(&self) -> &'static str {
        if self.connected { "recv" } else { "recvfrom" }
    }

    /// The complaint when no probe or message got its answer. `strangers` datagrams did come
    /// back, but were not answers (a server that replies `over` to a probe, for instance).
    fn nothing_answered(&self, strangers: u32) -> anyhow::Error {
        if strangers > 0 {
            return anyhow::anyhow!(
                "no answer from {}: {strangers} datagram(s) came back, but none was an echo of \
                 what we sent (is the server in --reply over mode?)",
                self.server
            );
        }
        let why = match self.connected {
            true => "",
            false => " (an unconnected UDP socket hears no error for a closed port: try --connect)",
        };
        anyhow::anyhow!("no reply at all from {}: is a server running there?{why}", self.server)
    }

    /// Adds the UDP meaning to the errors whose TCP meaning would mislead.
    fn explain(&self, err: io::Error) -> anyhow::Error {
        let why = match err.kind() {
            io::ErrorKind::ConnectionRefused => {
                "no UDP socket is bound there: its host answered with ICMP port unreachable, which \
                 only a connected UDP socket hears"
            }
            io::ErrorKind::PermissionDenied => {
                "sending to a broadcast address needs --broadcast (SO_BROADCAST)"
            }
            _ => return err.into(),
        };
        anyhow::Error::new(err).context(why)
    }

    fn set_timeout(&self, timeout: Duration) -> Result<()> {
        // A zero timeout means "block forever" to the kernel, so wait at least a microsecond.
        let timeout = timeout.max(Duration::from_micros(1));
        self.socket().set_read_timeout(Some(timeout)).context("could not set SO_RCVTIMEO")
    }

    fn check_size(&self, size: usize) -> Result<()> {
        let max = if self.server.is_ipv4() { MAX_PAYLOAD_V4 } else { MAX_PAYLOAD_V6 };
        if size > max {
            bail!(
                "--size {size} is more than one UDP datagram can carry over {} ({max} bytes)",
                if self.server.is_ipv4() { "IPv4" } else { "IPv6" }
            );
        }
        Ok(())
    }
}

// ANCHOR: messages
/// The tutorial's client: `count` numbered messages, each followed by one wait for a reply.
///
/// # Errors
/// When a send or receive fails (not when a reply is merely missing).
pub fn messages(client: &UdpClient, count: u32, timeout: Duration) -> Result<()> {
    let mut buf = vec![0u8; RECV_BUF_SIZE];
    let mut answered = 0;
    for i in 0..count {
        client.send(format!("message {i}").as_bytes())?;
        match client.recv(&mut buf)? {
            Some((len, from)) => {
                answered += 1;
                println!("Received {} from {from}", preview(&buf[..len]));
            }
            // UDP itself never retransmits: a lost datagram stays lost.
            None => println!("no reply to message {i} within {} ms", timeout.as_millis()),
        }
        // A run of a few messages waits for all of them and reports below, as before.
        if answered == 0 && i + 1 == GIVE_UP_AFTER_SILENT && count > GIVE_UP_AFTER_SILENT {
            println!("{} sent, none answered: giving up", i + 1);
            return Err(client.nothing_answered(0));
        }
    }
    println!("{count} sent, {answered} answered");
    // Like ping(8): some loss is a result, total silence is a failure.
    if answered == 0 {
        return Err(client.nothing_answered(0));
    }
    Ok(())
}
// ANCHOR_END: messages

impl Drop for UdpClient {
    /// close(): a UDP socket leaves nothing behind in the kernel, no FIN and no TIME-WAIT.
    fn drop(&mut self) {
        if let Some(socket) = self.socket.take() {
            narrate::close(self.n, socket, "");
        }
    }
}
