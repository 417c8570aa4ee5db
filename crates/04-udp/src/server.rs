//! The UDP server: `recvfrom` a datagram, `sendto` a reply, repeat.
//!
//! There is no `listen()` and no `accept()`: a datagram socket has no connections. Once bound,
//! it receives every datagram sent to its address and port, from anyone, each one whole and
//! separate, together with the sender's address. A reply is a new datagram sent to that
//! address. Nothing guarantees that either arrives, or arrives once, or in order: the
//! simulated network of [`crate::netsim`] makes that visible on loopback.

use std::collections::HashSet;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use common::narrate;
use common::report::{Doing, Transport, doing};
use common::step;
use common::stop::Stop;
use common::text::human_bytes;
use socket2::{Domain, Protocol, Socket, Type};

use crate::describe;
use crate::netsim::{DelayedSender, Fate, MAX_PENDING_BYTES, Rng};
use crate::shared::{Config, MAX_TRACKED_PEERS, Reply, Summary};

/// The tutorial's port.
pub const DEFAULT_PORT: u16 = 5005;
/// Big enough for any UDP datagram (at most 65,507 bytes of payload over IPv4, 65,527 over
/// IPv6). Unlike TCP, a datagram that does not fit in the buffer is cut, and the rest is lost.
pub const DEFAULT_BUF_SIZE: usize = 65_535;
/// The tutorial's fixed reply.
pub const OVER: &[u8] = b"over";
/// Pause after a failed `recvfrom`, so a lasting failure cannot become a busy loop.
const RECV_RETRY_DELAY: Duration = Duration::from_millis(100);

// ANCHOR: run_server
/// The `server` command: bind, announce, serve until Ctrl-C, print a summary.
///
/// # Errors
/// When the socket cannot be set up; see [`Server::bind`].
pub fn run(config: Config) -> Result<()> {
    let stop = Stop::new();
    stop.trigger_on_ctrl_c()?;
    let impaired = !config.net.is_perfect();
    let (net, seed) = (config.net.clone(), config.seed);
    let server = Server::bind(config)?;
    println!("{}", server.rcvbuf_note());
    if impaired {
        println!(
            "simulating a bad network: drop {:.0}%, duplicate {:.0}%, delay {} ms + up to {} ms \
             jitter, seed {seed} (repeat a run with --seed {seed})",
            net.drop * 100.0,
            net.duplicate * 100.0,
            net.delay.as_millis(),
            net.jitter.as_millis()
        );
    }
    // The readiness line: scripts and tests wait for it, and it tells the real port.
    println!("listening on {}", server.local_addr());
    let summary = server.serve(&stop);
    eprintln!("server stopped: {summary}");
    Ok(())
}
// ANCHOR_END: run_server

/// A bound UDP server that has not started receiving yet.
pub struct Server {
    socket: UdpSocket,
    local: SocketAddr,
    rcvbuf_note: String,
    config: Config,
}

impl Server {
    // ANCHOR: bind
    /// `socket(SOCK_DGRAM)`, optionally `setsockopt(SO_RCVBUF)`, then `bind`. That is all: a
    /// datagram socket needs no `listen()`.
    ///
    /// # Errors
    /// When the host does not resolve or `bind` fails.
    pub fn bind(config: Config) -> Result<Self> {
        let n = config.narrator;
        let addr = common::host::resolve(&config.host, config.port)?[0];
        let domain = Domain::for_address(addr);
        step!(n, "socket({}, SOCK_DGRAM)", common::narrate::family(addr.ip()));
        let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))
            .context("could not create a socket")?;
        narrate!(
            n,
            &socket,
            "socket({}, SOCK_DGRAM) -> {}",
            common::narrate::family(addr.ip()),
            common::narrate::fd(&socket)
        );

        // ANCHOR_END: bind
        // ANCHOR: rcvbuf
        // The receive buffer is where datagrams wait until we recvfrom() them. When it is
        // full, the kernel drops new arrivals, silently: that is most UDP "loss" on one host.
        let default = socket.recv_buffer_size().context("could not read SO_RCVBUF")?;
        let rcvbuf_note = match config.rcvbuf {
            None => format!("SO_RCVBUF: {default} bytes (the kernel's default)"),
            Some(asked) => {
                step!(n, "setsockopt(SOL_SOCKET, SO_RCVBUF, {asked})");
                socket.set_recv_buffer_size(asked).context("could not set SO_RCVBUF")?;
                narrate!(n, "setsockopt(SOL_SOCKET, SO_RCVBUF, {asked})");
                let granted = socket.recv_buffer_size().context("could not read SO_RCVBUF")?;
                format!(
                    "SO_RCVBUF: asked {asked} bytes, the kernel granted {granted}{}",
                    rcvbuf_rule()
                )
            }
        };

        // ANCHOR_END: rcvbuf
        // ANCHOR: bind_rest
        // Bound to "::", a dual-stack socket also receives IPv4 datagrams (from ::ffff:a.b.c.d).
        // Systems disagree on the default, so we say it, as chapter 01 does.
        if addr.is_ipv6() && addr.ip().is_unspecified() {
            step!(n, "setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 0)");
            socket.set_only_v6(false).context("could not clear IPV6_V6ONLY")?;
            narrate!(n, "setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 0)");
        }
        step!(n, &socket, "bind({addr})");
        socket.bind(&addr.into()).with_context(|| {
            doing(Doing::Bind(Transport::Udp), format!("could not bind {addr}"))
        })?;
        narrate!(n, &socket, "bind({addr})");
        let socket = UdpSocket::from(socket);
        let local = socket.local_addr().context("could not read the bound address")?;
        Ok(Self { socket, local, rcvbuf_note, config })
    }
    // ANCHOR_END: bind_rest

    /// The address really bound (the real port after `--port 0`).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// One line telling the receive buffer size the kernel granted.
    pub fn rcvbuf_note(&self) -> &str {
        &self.rcvbuf_note
    }

    /// Receives and replies until `stop` triggers.
    pub fn serve(self, stop: &Arc<Stop>) -> Summary {
        let _wake = wake_on_stop(self.local, stop);
        let mut summary = serve_loop(&self.socket, &self.config, stop);
        summary.kernel_drops = kernel_drops(&self.socket);
        // A UDP socket leaves nothing behind when closed: no FIN, no TIME-WAIT.
        narrate::close(self.config.narrator, self.socket, "");
        summary
    }
}

// ANCHOR: serve_loop
/// The datagram loop: receive one, decide its fate, reply.
fn serve_loop(socket: &UdpSocket, config: &Config, stop: &Arc<Stop>) -> Summary {
    let n = config.narrator;
    let mut summary = Summary::default();
    let mut peers = HashSet::new();
    let mut rng = Rng::new(config.seed);
    let delayed = match config.net.delay.is_zero() && config.net.jitter.is_zero() {
        true => None,
        false => DelayedSender::start(socket, n)
            .inspect_err(|e| eprintln!("could not start the delay thread ({e}): replying at once"))
            .ok(),
    };
    // One byte more than we keep: if the datagram fills it, it did not fit in `buf_size`.
    let mut buf = vec![0u8; config.buf_size + 1];
    // ANCHOR_END: serve_loop
    // ANCHOR: recvfrom
    // ANCHOR: recvfrom_one
    loop {
        // recvfrom() returns one whole datagram (or its first buf.len() bytes) and its sender.
        // With --step --kernel, the pause shows the datagrams waiting in the receive queue.
        step!(n, socket, "recvfrom({})", config.buf_size);
        let (len, peer) = match socket.recv_from(&mut buf) {
            Ok(received) => received,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("recvfrom failed: {e}");
                std::thread::sleep(RECV_RETRY_DELAY);
                continue;
            }
        };
        // ANCHOR_END: recvfrom_one
        if stop.is_stopping() {
            break; // The wake-up datagram (or one that came too late).
        }
        let truncated = len > config.buf_size;
        let data = &buf[..len.min(config.buf_size)];
        summary.datagrams += 1;
        summary.bytes += data.len() as u64;
        if peers.len() < MAX_TRACKED_PEERS {
            peers.insert(peer);
        }
        narrate!(n, socket, "recvfrom({}) -> {} bytes from {peer}", config.buf_size, data.len());
        // ANCHOR: print_datagram
        if !config.quiet {
            println!("Received from {peer}: {}", describe(data));
        }
        // ANCHOR_END: print_datagram
        if truncated {
            summary.truncated += 1;
            eprintln!(
                "datagram from {peer} was larger than the {}-byte buffer: truncated, the rest is lost",
                config.buf_size
            );
        }
        // ANCHOR_END: recvfrom
        // ANCHOR: fate
        let reply = match config.reply {
            Reply::Echo => data,
            Reply::Over => OVER,
        };
        let fate = if config.net.is_perfect() {
            Fate { dropped: false, copies: 1, delay: Duration::ZERO }
        } else {
            config.net.decide(&mut rng)
        };
        if fate.dropped {
            summary.dropped += 1;
            narrate!(n, "(simulated loss: no reply to {peer})");
            continue;
        }
        if fate.copies > 1 {
            summary.duplicated += 1;
            narrate!(n, "(simulated duplicate: the reply goes out twice)");
        }
        // ANCHOR_END: fate
        // ANCHOR: sendto
        for _ in 0..fate.copies {
            match &delayed {
                Some(later) if !fate.delay.is_zero() => {
                    narrate!(
                        n,
                        "(simulated delay: reply in {:.1} ms)",
                        fate.delay.as_secs_f64() * 1e3
                    );
                    if !later.send_later(reply, peer, fate.delay) {
                        if summary.queue_full == 0 {
                            eprintln!(
                                "the delay queue is full ({} of replies waiting): replies are \
                                 dropped until it drains",
                                human_bytes(MAX_PENDING_BYTES as u64)
                            );
                        }
                        summary.queue_full += 1;
                        continue;
                    }
                }
                _ => {
                    // ANCHOR: sendto_one
                    // sendto(): a new datagram to the address recvfrom() reported.
                    step!(n, socket, "sendto({} bytes, {peer})", reply.len());
                    if let Err(e) = socket.send_to(reply, peer) {
                        eprintln!("sendto {peer} failed: {e}");
                        continue;
                    }
                    // ANCHOR_END: sendto_one
                    narrate!(n, socket, "sendto({} bytes, {peer})", reply.len());
                }
            }
            summary.replies += 1;
        }
    }
    summary.peers = peers.len();
    summary
}
// ANCHOR_END: sendto

/// `recvfrom()` blocks, and a flag does not wake it: on stop, we send ourselves an empty
/// datagram, the loop wakes up, sees the flag, and ends.
fn wake_on_stop(local: SocketAddr, stop: &Arc<Stop>) -> common::stop::Watch {
    let target = common::host::reachable(local);
    stop.watch(move || {
        let any: SocketAddr = if target.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }
            .parse()
            .expect("a literal address");
        if let Ok(socket) = UdpSocket::bind(any) {
            let _ = socket.send_to(&[], target);
        }
    })
}

/// How Linux sizes a requested receive buffer.
fn rcvbuf_rule() -> String {
    if cfg!(target_os = "linux") {
        let max = std::fs::read_to_string("/proc/sys/net/core/rmem_max").unwrap_or_default();
        format!(
            " (Linux caps the request at net.core.rmem_max = {}, then doubles it for its own \
             bookkeeping)",
            max.trim()
        )
    } else {
        String::new()
    }
}

/// Datagrams the kernel dropped for this socket because its receive buffer was full: the
/// last column of `/proc/net/udp`, found by the socket's inode (`--kernel` reads the same
/// table after every call). Linux only.
#[cfg(unix)]
fn kernel_drops(socket: &UdpSocket) -> Option<u64> {
    use std::os::fd::AsRawFd;
    let inode = common::socket_table::inode_of(socket.as_raw_fd())?;
    let table = common::socket_table::read_table().ok()?;
    table.into_iter().find(|entry| entry.inode == inode)?.drops
}

#[cfg(not(unix))]
fn kernel_drops(_socket: &UdpSocket) -> Option<u64> {
    None
}
