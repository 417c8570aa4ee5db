//! Peers that misbehave. A UDP server has no connections to lose, but it still has to survive
//! datagrams of every size, including none, and keep answering one peer while another floods
//! it. The client has to survive replies that are not what it asked for.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use testkit::{PATIENCE, Proc, run};

/// Held by each flooding test: two floods at once on a two-core machine starve both servers,
/// and then measure the scheduler, not the server.
static ONE_FLOOD_AT_A_TIME: Mutex<()> = Mutex::new(());

fn udp() -> Command {
    Command::new(env!("CARGO_BIN_EXE_04-udp"))
}

fn server(args: &[&str]) -> (Proc, SocketAddr) {
    let proc = Proc::spawn(udp().args(["server", "--port", "0"]).args(args));
    let addr = proc.listening_addr().parse().unwrap();
    (proc, addr)
}

fn socket() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    socket
}

#[test]
fn empty_and_largest_datagrams_are_echoed_whole() {
    let (srv, addr) = server(&["--quiet"]);
    let peer = socket();
    let mut buf = vec![0u8; 65_536];
    for size in [0, 1, 1472, 65_507] {
        let datagram: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        peer.send_to(&datagram, addr).unwrap();
        let (len, from) = peer.recv_from(&mut buf).unwrap();
        assert_eq!((len, from), (size, addr));
        assert_eq!(&buf[..len], &datagram[..], "{size} bytes");
    }
    let done = srv.stop();
    assert!(done.stderr.contains("4 datagrams"), "{}", done.stderr);
}

#[test]
fn garbage_replies_are_reported_not_fatal() {
    // A fake server: answers each probe first with random bytes, then with the probe itself.
    let fake = socket();
    let port = fake.local_addr().unwrap().port().to_string();
    let faking = thread::spawn(move || {
        let mut buf = [0u8; 2048];
        let (len, from) = fake.recv_from(&mut buf).unwrap();
        fake.send_to(&[0xde, 0xad, 0xbe, 0xef, 1, 2, 3], from).unwrap();
        fake.send_to(b"UDP4", from).unwrap(); // Right magic, too short.
        fake.send_to(&buf[..len], from).unwrap();
    });
    let out = run(udp().args(["client", "--port", &port, "ping", "--count", "1"]));
    faking.join().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stdout.contains("7 bytes that are not one of our probes: b'\\xde\\xad\\xbe\\xef"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("1 sent, 1 received, 0.0% loss, 0 duplicates, 0 reordered, 2 unexpected"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_flood_from_one_peer_does_not_silence_the_others() {
    let _turn = ONE_FLOOD_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    let (srv, addr) = server(&["--quiet"]);
    let client = Proc::spawn(udp().args([
        "client",
        "--port",
        &addr.port().to_string(),
        "--timeout",
        "200",
        "ping",
        "--count",
        "50",
        "--interval",
        "20",
    ]));
    // The flood starts once the client has been answered: three silent probes in a row at
    // the start mean "nobody is listening" to the client, which gives up (see
    // GIVE_UP_AFTER_SILENT), and this test is about a server that has been answering.
    client.expect_line("64 bytes from");
    // Bounded in count and time: at most 2 million datagrams or 3 seconds.
    let flooding = thread::spawn(move || {
        let flooder = socket();
        let started = Instant::now();
        let mut sent = 0u32;
        while sent < 2_000_000 && started.elapsed() < Duration::from_secs(3) {
            let _ = flooder.send_to(&[0u8; 64], addr);
            sent += 1;
        }
        sent
    });
    let out = client.finish();
    let flood_size = flooding.join().unwrap();
    // `50 sent, 37 received, 26.0% loss, …`
    let received = out.stdout.split(" sent, ").nth(1).and_then(|rest| rest.split(' ').next());
    let received: u32 = received
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no ping summary:\n{}\n{}", out.stdout, out.stderr));
    assert!(
        received >= 10,
        "only {received} of 50 answered during a flood of {flood_size}:\n{}",
        out.stdout
    );
    srv.stop();
}

/// A flood of the largest datagrams into a long `--delay`: every reply waits in the delay
/// queue, which holds at most `MAX_PENDING_BYTES` (32 MiB) whatever the sizes. The server's
/// peak memory must stay near that, not grow with the flood (it reached 600 MB once).
#[cfg(target_os = "linux")]
#[test]
fn a_flood_of_large_datagrams_into_the_delay_queue_stays_within_its_byte_budget() {
    /// The budget, plus room for the program itself and the allocator's slack.
    const PEAK_LIMIT: u64 = (32 + 24) << 20;
    /// Bounded flood: at most 1,000,000 datagrams, in batches of `BATCH` a millisecond apart
    /// (about 1 GB/s offered), until the server reports the full queue or `PATIENCE` runs
    /// out. Flooding until the report, at a pace, rather than a fixed burst first, keeps the
    /// test honest on a busy machine: a burst is mostly dropped by the kernel while the server
    /// waits for a CPU, and the queue never fills.
    const DATAGRAMS: usize = 1_000_000;
    const BATCH: usize = 20;
    const SIZE: usize = 60_000;
    let _turn = ONE_FLOOD_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    let (srv, addr) = server(&["--quiet", "--delay", "10000"]);
    let flood = UdpSocket::bind("127.0.0.1:0").unwrap();
    let datagram = vec![7u8; SIZE];
    let deadline = Instant::now() + PATIENCE;
    let mut sent = 0;
    // Sample the peak after each batch until the server reports the full queue (it stops
    // growing there); a server without a byte budget shows itself by passing the limit first.
    loop {
        let peak = testkit::peak_memory(srv.pid());
        assert!(peak < PEAK_LIMIT, "peak memory {} MiB under the flood", peak >> 20);
        if srv.stderr().contains("the delay queue is full (32.0 MiB") {
            break;
        }
        assert!(
            Instant::now() < deadline && sent < DATAGRAMS,
            "no full queue reported after {sent} datagrams:\n{}",
            srv.stderr()
        );
        for _ in 0..BATCH {
            let _ = flood.send_to(&datagram, addr); // A full buffer drops it: fine, a flood.
        }
        sent += BATCH;
        thread::sleep(Duration::from_millis(1)); // Pacing the flood, not waiting for an event.
    }
    let done = srv.stop();
    assert!(done.stderr.contains("lost to a full delay queue"), "{}", done.stderr);
}
