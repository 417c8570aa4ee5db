//! Chapter 04's check: a UDP ping against a lossy relay that drops, duplicates and reorders
//! chosen probes, while a stranger sends the client a datagram of its own.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::{Program, tail};
use crate::run::Child;
use crate::verdict::Failure;

/// How long the client waits for more replies: the program's third argument.
const WAIT_MS: u64 = 300;

/// How long the client may run in all before it counts as hung.
const CLIENT_LIMIT: Duration = Duration::from_secs(5);

/// What the relay does to one probe.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fate {
    /// Echo it once, at once.
    Deliver,
    /// Never echo it.
    Drop,
    /// Echo it twice.
    Duplicate,
    /// Keep it until the probe with this number has been echoed, then echo it.
    HoldUntil(u32),
}

/// A network with known faults: the relay's fates, fixed per sequence number, so the right
/// counts are known in advance and a failure can name the probe that was mistreated.
struct Network {
    count: u32,
    fates: &'static [(u32, Fate)],
    /// What a correct client prints.
    expected: &'static str,
    /// In words, for the "sent" line.
    described: &'static str,
}

const PERFECT: Network = Network {
    count: 5,
    fates: &[],
    expected: "sent 5 received 5 lost 0 duplicates 0 reordered 0",
    described: "a perfect network: every probe echoed once, in order",
};

const LOSSY: Network = Network {
    count: 20,
    fates: &[
        (4, Fate::Drop),
        (13, Fate::Drop),
        (6, Fate::Duplicate),
        (15, Fate::Duplicate),
        (9, Fate::HoldUntil(11)),
    ],
    expected: "sent 20 received 18 lost 2 duplicates 2 reordered 1",
    described: "a lossy relay: probes 4 and 13 dropped, 6 and 15 echoed twice, 9 held back \
                until 11 was echoed; and a stranger sends the client b'hello, stranger'",
};

/// The ping: a perfect network, then the lossy relay with a stranger.
///
/// # Errors
/// The first run whose summary line is wrong.
pub fn ping(program: &Program) -> Result<(), Failure> {
    run(program, &PERFECT, false)?;
    program.passed("5 probes over a perfect network");
    run(program, &LOSSY, true)?;
    program.passed("20 probes over a lossy relay (drop, duplicate, reorder) and a stranger");
    Ok(())
}

fn run(program: &Program, network: &'static Network, stranger: bool) -> Result<(), Failure> {
    let step = format!("{} probes, {}", network.count, network.described);
    let relay = Relay::start(network, stranger).map_err(|e| Failure::new(&step).got(e))?;
    let mut cmd = Command::new(&program.path);
    cmd.arg(relay.addr.to_string()).arg(network.count.to_string()).arg(WAIT_MS.to_string());
    let shown = format!("{} {} {} {WAIT_MS}", program.run_by_hand, relay.addr, network.count);
    let child = Child::spawn(cmd, shown).map_err(|e| Failure::new(&step).got(e))?;
    let ended = child.wait(CLIENT_LIMIT);
    let echoed = relay.finish();
    let line = ended.stdout.lines().find(|l| l.starts_with("sent ")).unwrap_or("");
    if ended.status.is_some_and(|s| s.success()) && line == network.expected {
        return Ok(());
    }
    let got = match ended.status {
        None => {
            format!("still running after {CLIENT_LIMIT:?}, stopped: does it wait with a timeout?")
        }
        Some(status) if !status.success() => {
            format!("it exited with {status}{}", tail("stderr", &ended.stderr))
        }
        Some(_) if line.is_empty() => {
            format!("no `sent ...` line{}", tail("stdout", &ended.stdout))
        }
        Some(_) => format!("`{line}`"),
    };
    Err(Failure::new(&step)
        .sent(format!("the relay received {echoed} probes; {}", network.described))
        .expected(format!("`{}`", network.expected))
        .got(got)
        .repro(format!(
            "cargo run -q -p ch04-udp -- server --drop 0.1 --duplicate 0.1 --delay 20 --jitter 20 --seed 1 \
             &  {} 127.0.0.1:5005 20 500",
            program.run_by_hand
        ))
        .book("docs/src/04-udp.md#1-loss-exactly"))
}

/// The lossy relay: a UDP echo server in a thread of the grader, on 127.0.0.1 port 0.
struct Relay {
    addr: SocketAddr,
    worker: JoinHandle<usize>,
}

impl Relay {
    fn start(network: &'static Network, stranger: bool) -> Result<Self, String> {
        let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("relay bind: {e}"))?;
        let addr = socket.local_addr().map_err(|e| e.to_string())?;
        let worker = thread::spawn(move || relay(&socket, network, stranger));
        Ok(Self { addr, worker })
    }

    /// How many probes the relay received, once the client is done.
    fn finish(self) -> usize {
        self.worker.join().unwrap_or(0)
    }
}

fn relay(socket: &UdpSocket, network: &Network, stranger: bool) -> usize {
    let fates: HashMap<u32, Fate> = network.fates.iter().copied().collect();
    let mut held: Vec<(u32, u32, SocketAddr)> = Vec::new();
    let mut received = 0;
    let mut stranger_sent = !stranger;
    let deadline = Instant::now() + CLIENT_LIMIT;
    let _ = socket.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = [0u8; 64];
    // Runs until the client has been quiet for twice its wait, or the limit.
    let mut last = Instant::now();
    while Instant::now() < deadline && last.elapsed() < Duration::from_millis(WAIT_MS * 2) {
        let Ok((n, client)) = socket.recv_from(&mut buf) else { continue };
        last = Instant::now();
        received += 1;
        if !stranger_sent {
            // Another socket, another port: what a connected UDP socket never lets through.
            if let Ok(other) = UdpSocket::bind("127.0.0.1:0") {
                let _ = other.send_to(b"hello, stranger", client);
            }
            stranger_sent = true;
        }
        let seq = (n == 8).then(|| u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]));
        let fate = seq.and_then(|s| fates.get(&s).copied()).unwrap_or(Fate::Deliver);
        match fate {
            Fate::Deliver => {
                let _ = socket.send_to(&buf[..n], client);
            }
            Fate::Drop => {}
            Fate::Duplicate => {
                let _ = socket.send_to(&buf[..n], client);
                let _ = socket.send_to(&buf[..n], client);
            }
            Fate::HoldUntil(after) => {
                held.push((after, seq.unwrap_or(0), client));
                continue;
            }
        }
        // Release what waited for this probe, now that its echo has gone out.
        if let Some(seq) = seq {
            for (_, held_seq, to) in held.iter().filter(|(after, _, _)| *after == seq) {
                let mut probe = [0u8; 8];
                probe[..4].copy_from_slice(&buf[..4]);
                probe[4..].copy_from_slice(&held_seq.to_be_bytes());
                let _ = socket.send_to(&probe, *to);
            }
            held.retain(|(after, _, _)| *after != seq);
        }
    }
    received
}

/// How long the retrying client may run: three tries of 300 ms, with room to spare.
const RETRY_LIMIT: Duration = Duration::from_secs(3);

/// The retrying client: against a network that loses everything, then one that loses the
/// first datagram while a stranger speaks first.
///
/// # Errors
/// The first run whose output is wrong.
pub fn retry(program: &Program) -> Result<(), Failure> {
    let step = "every datagram is lost";
    let (line, status) = run_retry(program, step, usize::MAX, false)?;
    if line != "no reply after 3 tries" || status != Some(1) {
        return Err(retry_failure(
            program,
            step,
            "`no reply after 3 tries`, exit status 1",
            &line,
            status,
        ));
    }
    program.passed(step);

    let step = "the first datagram is lost, and a stranger's datagram comes first";
    let (line, status) = run_retry(program, step, 1, true)?;
    if line != "Received b'Hello, world' (try 2)" || status != Some(0) {
        return Err(retry_failure(
            program,
            step,
            "`Received b'Hello, world' (try 2)`",
            &line,
            status,
        ));
    }
    program.passed(step);
    Ok(())
}

fn retry_failure(
    program: &Program,
    step: &str,
    expected: &str,
    line: &str,
    status: Option<i32>,
) -> Failure {
    let got = match status {
        None => format!(
            "still waiting after {RETRY_LIMIT:?}, stopped by the grader: a lost datagram is never \
             answered, so recv() without a timeout waits for ever"
        ),
        Some(code) => format!("`{line}`, exit status {code}"),
    };
    Failure::new(step)
        .sent(format!("b'Hello, world' to the grader's UDP echo relay: {step}"))
        .expected(expected.to_owned())
        .got(got)
        .repro(format!(
            "cargo run -q -p ch04-udp -- server --drop 1 &  {} 127.0.0.1:5005",
            program.run_by_hand
        ))
        .book("docs/src/04-udp.md#the-tutorials-client-waits-forever")
}

/// Runs the client against a relay that drops the first `drop_first` datagrams; returns its
/// first stdout line and exit code (`None`: killed at the limit).
fn run_retry(
    program: &Program,
    step: &str,
    drop_first: usize,
    stranger: bool,
) -> Result<(String, Option<i32>), Failure> {
    let socket =
        UdpSocket::bind("127.0.0.1:0").map_err(|e| Failure::new(step).got(e.to_string()))?;
    let addr = socket.local_addr().map_err(|e| Failure::new(step).got(e.to_string()))?;
    let done = Arc::new(AtomicBool::new(false));
    let client_done = Arc::clone(&done);
    let relay = thread::spawn(move || {
        let deadline = Instant::now() + RETRY_LIMIT;
        let _ = socket.set_read_timeout(Some(Duration::from_millis(50)));
        let mut buf = [0u8; 2048];
        let mut seen = 0;
        while Instant::now() < deadline && !client_done.load(Ordering::Relaxed) {
            let Ok((n, client)) = socket.recv_from(&mut buf) else { continue };
            seen += 1;
            if stranger && seen == 1 {
                if let Ok(other) = UdpSocket::bind("127.0.0.1:0") {
                    let _ = other.send_to(b"hello, stranger", client);
                }
            }
            if seen > drop_first {
                let _ = socket.send_to(&buf[..n], client);
                return;
            }
        }
    });
    let mut cmd = Command::new(&program.path);
    cmd.arg(addr.to_string()).arg("Hello, world");
    let child =
        Child::spawn(cmd, program.run_by_hand.clone()).map_err(|e| Failure::new(step).got(e))?;
    let ended = child.wait(RETRY_LIMIT);
    done.store(true, Ordering::Relaxed);
    let _ = relay.join();
    let line = ended.stdout.lines().next().unwrap_or("").to_owned();
    Ok((line, ended.status.and_then(|s| s.code())))
}

/// The largest UDP payload over IPv4: 65,535 minus the 20-byte IP and 8-byte UDP headers.
const MAX_DATAGRAM: usize = 65_507;

/// The UDP echo server: datagrams of every size, the empty one, and two peers at once.
///
/// # Errors
/// The first datagram whose echo is wrong, or a server that stopped.
pub fn udp_echo(program: &Program) -> Result<(), Failure> {
    let mut server = program.start_server()?;
    let addr = server.addr;
    let cases: [(&str, Vec<u8>); 3] = [
        ("a datagram of 12 bytes", b"Hello, world".to_vec()),
        ("a datagram of 2000 bytes", vec![b'x'; 2000]),
        ("the largest datagram, 65507 bytes", vec![b'y'; MAX_DATAGRAM]),
    ];
    for (step, data) in &cases {
        let peer =
            UdpSocket::bind("127.0.0.1:0").map_err(|e| Failure::new(step).got(e.to_string()))?;
        let got = exchange(&peer, addr, data);
        if got.as_deref() != Ok(data.as_slice()) {
            let got = match got {
                Ok(reply) => format!("a datagram of {} bytes", reply.len()),
                Err(e) => e,
            };
            return Err(server.died_or(
                Failure::new(step)
                    .sent(format!("one datagram of {} bytes", data.len()))
                    .expected(format!("one datagram of {} bytes back, the same bytes", data.len()))
                    .got(got)
                    .repro(server.repro(&format!(
                        "python3 -c \"import socket; s=socket.socket(socket.AF_INET, \
                         socket.SOCK_DGRAM); s.sendto(b'x'*{}, ('127.0.0.1',PORT)); \
                         print(len(s.recv(65536)))\"",
                        data.len()
                    )))
                    .book("docs/src/04-udp.md#5-datagram-boundaries-and-truncation"),
            ));
        }
        program.passed(step);
    }

    let step = "an empty datagram (0 bytes), then another client";
    let repro = "python3 -c \"import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); \
                 s.sendto(b'', ('127.0.0.1',PORT)); print(s.recv(10))\"";
    let peer = UdpSocket::bind("127.0.0.1:0").map_err(|e| Failure::new(step).got(e.to_string()))?;
    let empty = exchange(&peer, addr, b"");
    let after = exchange(&peer, addr, b"still there?");
    if empty != Ok(Vec::new()) || after.as_deref() != Ok(b"still there?".as_slice()) {
        let repro = server.repro(repro);
        return Err(server.died_or(
            Failure::new(step)
                .sent("an empty datagram, then b'still there?'")
                .expected("an empty datagram back, then b'still there?': UDP has no close, 0 bytes is a datagram")
                .got(format!("{empty:?}, then {after:?}"))
                .repro(repro)
                .book("docs/src/04-udp.md#why-there-is-no-listen-and-no-accept"),
        ));
    }
    program.passed(step);

    let step = "two peers on one socket, each gets its own reply";
    let a = UdpSocket::bind("127.0.0.1:0").map_err(|e| Failure::new(step).got(e.to_string()))?;
    let b = UdpSocket::bind("127.0.0.1:0").map_err(|e| Failure::new(step).got(e.to_string()))?;
    let _ = a.send_to(b"from A", addr);
    let _ = b.send_to(b"from B", addr);
    let (got_a, got_b) = (receive(&a), receive(&b));
    if got_a.as_deref() != Ok(b"from A".as_slice()) || got_b.as_deref() != Ok(b"from B".as_slice())
    {
        return Err(server.died_or(
            Failure::new(step)
                .sent("b'from A' from one socket, b'from B' from another")
                .expected(
                    "each reply sent to the address its datagram came from (recvfrom's address)",
                )
                .got(format!("A got {got_a:?}, B got {got_b:?}"))
                .repro(server.repro("cargo run -q -p ch04-udp -- client --port PORT"))
                .book("docs/src/04-udp.md#one-socket-many-peers"),
        ));
    }
    program.passed(step);
    Ok(())
}

/// How long a UDP peer waits for a reply (loopback does not lose datagrams of this size).
const UDP_REPLY_TIMEOUT: Duration = Duration::from_secs(1);

fn exchange(peer: &UdpSocket, to: SocketAddr, data: &[u8]) -> Result<Vec<u8>, String> {
    peer.send_to(data, to).map_err(|e| format!("sendto failed: {e}"))?;
    receive(peer)
}

fn receive(peer: &UdpSocket) -> Result<Vec<u8>, String> {
    let _ = peer.set_read_timeout(Some(UDP_REPLY_TIMEOUT));
    let mut buf = vec![0u8; 65_536];
    match peer.recv_from(&mut buf) {
        Ok((n, _)) => Ok(buf[..n].to_vec()),
        Err(e) => Err(format!("no reply within {UDP_REPLY_TIMEOUT:?} ({e})")),
    }
}
