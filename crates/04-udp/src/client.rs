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
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use common::narrate;
use common::narrate::Narrator;
use common::report::{Doing, Transport, doing};
use socket2::{Domain, Protocol, SockRef, Socket, Type};

use crate::preview;
use crate::probe::{HEADER_LEN, Outcome, Probe, Tally};

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
/// The receive buffer `blast` asks for, so that the loss it measures is the server's.
const BLAST_RCVBUF: usize = 8 << 20;

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
    socket: UdpSocket,
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
        let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))
            .context("could not create a socket")?;
        narrate!(
            n,
            "socket({}, SOCK_DGRAM) -> {}",
            common::narrate::family(server.ip()),
            common::narrate::fd(&socket)
        );
        if target.broadcast {
            // Without SO_BROADCAST the kernel refuses to send to a broadcast address (EACCES),
            // so a program cannot flood a network by accident.
            socket.set_broadcast(true).context("could not set SO_BROADCAST")?;
            narrate!(n, "setsockopt(SOL_SOCKET, SO_BROADCAST, 1)");
        }
        // Port 0: any free local port. Without this bind, the first sendto() would pick one.
        let any: SocketAddr = if server.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        socket
            .bind(&any.into())
            .with_context(|| doing(Doing::Bind(Transport::Udp), "could not bind a local port"))?;
        let socket = UdpSocket::from(socket);
        narrate!(
            n,
            "bind({any}) -> {}",
            socket.local_addr().map(|a| a.to_string()).unwrap_or_default()
        );
        if target.connect {
            // No handshake and no packet: the kernel only records the peer.
            socket.connect(server).with_context(|| format!("could not connect to {server}"))?;
            narrate!(n, "connect({server}) (UDP: no packet is sent)");
        }
        // SO_RCVTIMEO: a reply may never come, so no recv may wait forever.
        socket.set_read_timeout(Some(target.timeout)).context("could not set SO_RCVTIMEO")?;
        narrate!(n, "setsockopt(SOL_SOCKET, SO_RCVTIMEO, {} ms)", target.timeout.as_millis());
        Ok(Self { socket, server, connected: target.connect, n })
    }
    // ANCHOR_END: open

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
        let sent = match self.connected {
            true => self.socket.send(datagram),
            false => self.socket.send_to(datagram, self.server),
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
            true => narrate!(self.n, "send({} bytes)", datagram.len()),
            false => narrate!(self.n, "sendto({} bytes, {})", datagram.len(), self.server),
        }
        Ok(())
    }

    /// Receives one datagram and its sender, or `None` when the timeout passes first.
    ///
    /// # Errors
    /// On a connected socket, `Connection refused` when the server's host answered an earlier
    /// datagram with ICMP port unreachable.
    pub fn recv(&self, buf: &mut [u8]) -> Result<Option<(usize, SocketAddr)>> {
        let received = match self.connected {
            true => self.socket.recv(buf).map(|len| (len, self.server)),
            false => self.socket.recv_from(buf),
        };
        match received {
            Ok((len, from)) if self.connected => {
                narrate!(self.n, "recv({}) -> {len} bytes", buf.len());
                Ok(Some((len, from)))
            }
            Ok((len, from)) => {
                narrate!(self.n, "recvfrom({}) -> {len} bytes from {from}", buf.len());
                Ok(Some((len, from)))
            }
            // SO_RCVTIMEO expired: Unix says EAGAIN (WouldBlock), Windows says TimedOut.
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
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
    // ANCHOR_END: send_recv

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
        self.socket.set_read_timeout(Some(timeout)).context("could not set SO_RCVTIMEO")
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

// ANCHOR: ping
/// Sends `count` probes of `size` bytes, one every `interval`, while printing each reply as it
/// comes; then waits `timeout` for stragglers and prints ping(8)'s summary.
///
/// # Errors
/// When a send or receive fails, or `size` is out of range.
pub fn ping(
    client: &UdpClient,
    count: u32,
    interval: Duration,
    size: usize,
    timeout: Duration,
) -> Result<()> {
    client.check_size(size)?;
    let started = Instant::now();
    let mut tally = Tally::new(count);
    let mut probe = vec![0u8; size];
    let mut buf = vec![0u8; RECV_BUF_SIZE];
    let (mut sent, mut next_send) = (0u32, started);
    let mut deadline = started;
    // When the GIVE_UP_AFTER_SILENT-th probe's timeout runs out with nothing heard, give up.
    let mut give_up_at: Option<Instant> = None;
    // One thread, one loop: send when a probe is due, otherwise wait for a reply until then.
    loop {
        let now = Instant::now();
        let silent = tally.received == 0 && tally.unexpected == 0;
        if silent && give_up_at.is_some_and(|at| now >= at) && sent < count {
            println!("{sent} sent, none answered: giving up");
            return Err(client.nothing_answered(0));
        }
        if sent < count && now >= next_send {
            Probe { seq: sent, sent_ns: nanos(started, now) }.write(&mut probe);
            client.send(&probe)?;
            sent += 1;
            next_send += interval;
            deadline = now + timeout;
            if sent == GIVE_UP_AFTER_SILENT {
                give_up_at = Some(deadline);
            }
            continue;
        }
        if sent == count && (tally.complete() || now >= deadline) {
            break;
        }
        let mut wake = if sent < count { next_send } else { deadline };
        if let Some(at) = give_up_at.filter(|_| silent && sent < count) {
            wake = wake.min(at);
        }
        client.set_timeout(wake.saturating_duration_since(now))?;
        let Some((len, from)) = client.recv(&mut buf)? else { continue };
        let cut =
            if len < size { format!(" (truncated: {size} were sent)") } else { String::new() };
        match tally.record(&buf[..len], nanos(started, Instant::now())) {
            Outcome::New { seq, rtt, late } => {
                let order = if late { " (out of order)" } else { "" };
                println!(
                    "{len} bytes from {from}: seq={seq} time={:.3} ms{order}{cut}",
                    rtt.as_secs_f64() * 1e3
                );
            }
            Outcome::Duplicate { seq } => println!("{len} bytes from {from}: seq={seq} (DUP!)"),
            Outcome::Unexpected => println!(
                "unexpected datagram from {from}: {len} bytes that are not one of our probes: {}",
                preview(&buf[..len])
            ),
        }
    }
    println!("--- {} ping statistics ---", client.server());
    let loss = 100.0 * f64::from(count - tally.received) / f64::from(count.max(1));
    println!(
        "{count} sent, {} received, {loss:.1}% loss, {} duplicates, {} reordered, {} unexpected",
        tally.received, tally.duplicates, tally.reordered, tally.unexpected
    );
    match tally.rtt_summary() {
        Some(rtt) => println!("rtt min/avg/max/mdev = {rtt}"),
        None => return Err(client.nothing_answered(tally.unexpected)),
    }
    Ok(())
}
// ANCHOR_END: ping

fn nanos(since: Instant, now: Instant) -> u64 {
    now.saturating_duration_since(since).as_nanos() as u64
}

// ANCHOR: blast
/// Sends `count` probes as fast as possible from one thread while this one counts the replies.
/// Nothing slows the sender down: UDP has no flow control, so when the server's receive buffer
/// is full, the kernel simply drops what arrives.
///
/// # Errors
/// When a send or receive fails, or `size` is out of range.
pub fn blast(client: &UdpClient, count: u32, size: usize, timeout: Duration) -> Result<()> {
    client.check_size(size)?;
    // Make our own receive buffer large, so that the replies we lose are lost at the server.
    let sock = SockRef::from(&client.socket);
    let _ = sock.set_recv_buffer_size(BLAST_RCVBUF);
    let granted = sock.recv_buffer_size().unwrap_or_default();
    let sender = client.socket.try_clone().context("could not clone the socket")?;
    let (server, connected) = (client.server, client.connected);
    let started = Instant::now();
    let sending = thread::spawn(move || -> io::Result<Duration> {
        let mut probe = vec![0u8; size];
        for seq in 0..count {
            Probe { seq, sent_ns: nanos(started, Instant::now()) }.write(&mut probe);
            match connected {
                true => sender.send(&probe)?,
                false => sender.send_to(&probe, server)?,
            };
        }
        Ok(started.elapsed())
    });

    let mut tally = Tally::new(count);
    let mut buf = vec![0u8; RECV_BUF_SIZE];
    client.set_timeout(timeout)?;
    while !tally.complete() {
        match client.socket.recv(&mut buf) {
            Ok(len) => {
                tally.record(&buf[..len], nanos(started, Instant::now()));
            }
            // Quiet for a whole timeout after the last send: whatever is missing is lost.
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                if sending.is_finished() {
                    break;
                }
            }
            Err(e) => return Err(client.explain(e)).context("could not receive"),
        }
    }
    let send_time =
        sending.join().map_err(|_| anyhow::anyhow!("the sending thread panicked"))??;
    let lost = count - tally.received;
    println!(
        "blast: sent {count} datagrams of {size} bytes in {:.3} s ({:.0}/s); {} came back, {lost} lost \
         ({:.1}%), {} duplicates, {} unexpected; client SO_RCVBUF {granted}",
        send_time.as_secs_f64(),
        f64::from(count) / send_time.as_secs_f64(),
        tally.received,
        100.0 * f64::from(lost) / f64::from(count.max(1)),
        tally.duplicates,
        tally.unexpected,
    );
    // Loss is the measurement; losing everything means there was nothing to measure.
    if tally.received == 0 {
        return Err(client.nothing_answered(tally.unexpected));
    }
    Ok(())
}
// ANCHOR_END: blast

/// Sequential round trips for `duration`: one probe, wait for its reply (or the timeout), the
/// next. Prints the rate and the p50/p99 round-trip times.
///
/// # Errors
/// When a send or receive fails, or `size` is out of range.
pub fn rtt(client: &UdpClient, duration: Duration, size: usize) -> Result<()> {
    client.check_size(size)?;
    let started = Instant::now();
    let mut rtts = Vec::new();
    let (mut lost, mut stale) = (0u32, 0u32);
    let mut probe = vec![0u8; size];
    let mut buf = vec![0u8; RECV_BUF_SIZE];
    let mut seq = 0u32;
    while started.elapsed() < duration {
        let sent_at = Instant::now();
        Probe { seq, sent_ns: nanos(started, sent_at) }.write(&mut probe);
        client.send(&probe)?;
        loop {
            match client.recv(&mut buf)? {
                Some((len, _)) if Probe::read(&buf[..len]).is_some_and(|p| p.seq == seq) => {
                    rtts.push(sent_at.elapsed());
                    break;
                }
                Some(_) => stale += 1, // A late reply to an earlier probe, or a stranger.
                None => {
                    lost += 1;
                    break;
                }
            }
        }
        if rtts.is_empty() && stale == 0 && lost >= GIVE_UP_AFTER_SILENT {
            println!("{lost} sent, none answered: giving up");
            return Err(client.nothing_answered(0));
        }
        seq = seq.wrapping_add(1);
    }
    let elapsed = started.elapsed();
    if rtts.is_empty() {
        return Err(client.nothing_answered(stale));
    }
    rtts.sort_unstable();
    let pick = |p: f64| {
        rtts.get(((rtts.len().saturating_sub(1)) as f64 * p) as usize).copied().unwrap_or_default()
    };
    println!(
        "{} round trips of {size} bytes in {:.3} s: {:.0}/s, p50 {:.1} µs, p99 {:.1} µs, {lost} lost, {stale} stale",
        rtts.len(),
        elapsed.as_secs_f64(),
        rtts.len() as f64 / elapsed.as_secs_f64(),
        pick(0.50).as_secs_f64() * 1e6,
        pick(0.99).as_secs_f64() * 1e6,
    );
    Ok(())
}

impl Drop for UdpClient {
    fn drop(&mut self) {
        narrate!(self.n, "close({})", common::narrate::fd(&self.socket));
    }
}

/// The smallest `--size` for the probe modes.
pub const MIN_PROBE_SIZE: usize = HEADER_LEN;
