//! Peers that misbehave, against the event-loop server (and the thread server where it
//! applies): connections that reset mid-message, that vanish, that never read. The server
//! keeps serving the others, leaks no file descriptors, and keeps its memory bounded.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::thread;
use std::time::Duration;

use socket2::{Domain, Socket, Type};
use testkit::{PATIENCE, Proc};

fn server(mode: &str) -> (Proc, String) {
    let proc = Proc::spawn(
        Command::new(env!("CARGO_BIN_EXE_02-multi-conn"))
            .args(["server", "--port", "0", "--mode", mode]),
    );
    let addr = proc.listening_addr();
    (proc, addr)
}

/// A round trip on a fresh connection, returned still open. Once it completes, the server
/// has handled everything that reached it before (one event loop, or the accept loop).
fn barrier(addr: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.write_all(b"ping").unwrap();
    let mut echo = [0u8; 4];
    stream.read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"ping");
    stream
}

#[cfg(target_os = "linux")]
fn open_fds(proc: &Proc) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", proc.pid())).unwrap().count()
}

#[cfg(target_os = "linux")]
fn rss_kib(proc: &Proc) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", proc.pid())).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn resets_and_vanishing_clients_leak_no_descriptors() {
    let (srv, addr) = server("poll");
    // Counted while a served connection is open: by then the event loop has made its epoll and
    // waker descriptors (after the readiness line), and this connection is the one extra.
    let warm_up = barrier(&addr);
    let baseline = open_fds(&srv) - 1;
    drop(warm_up);
    for round in 0..100 {
        if round % 2 == 0 {
            drop(TcpStream::connect(&addr).unwrap()); // Connect and vanish.
        } else {
            // Send half a message, then reset: SO_LINGER 0 makes close() send RST.
            let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
            socket.connect(&addr.parse::<std::net::SocketAddr>().unwrap().into()).unwrap();
            socket.send(&[7u8; 5000]).unwrap();
            socket.set_linger(Some(Duration::ZERO)).unwrap();
        }
    }
    // The first barrier is accepted after every connection above; the second only after the
    // first's round trip, so by then the loop has handled all their closes (and the warm-up's).
    // Both stay open while we count.
    let first = barrier(&addr);
    let second = barrier(&addr);
    assert_eq!(open_fds(&srv), baseline + 2, "every closed connection's descriptor was freed");
    drop((first, second));
    srv.stop();
}

#[test]
fn threads_survive_resets_and_vanishing_clients() {
    let (srv, addr) = server("threads");
    for _ in 0..50 {
        drop(TcpStream::connect(&addr).unwrap());
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        socket.connect(&addr.parse::<std::net::SocketAddr>().unwrap().into()).unwrap();
        socket.send(&[7u8; 5000]).unwrap();
        socket.set_linger(Some(Duration::ZERO)).unwrap();
    }
    drop(barrier(&addr));
    srv.stop();
}

#[cfg(target_os = "linux")]
#[test]
fn a_client_that_never_reads_cannot_make_the_server_buffer_without_bound() {
    let (srv, addr) = server("poll");
    drop(barrier(&addr));
    let before = rss_kib(&srv);
    let flooder = TcpStream::connect(&addr).unwrap();
    // When every buffer between us is full, our write blocks; the timeout turns that moment
    // into a signal. Bounded: at most 1 GiB.
    flooder.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    let flooding = thread::spawn(move || {
        let mut flooder = flooder;
        let chunk = vec![1u8; 64 << 10];
        let mut written = 0u64;
        while written < 1 << 30 {
            match flooder.write(&chunk) {
                Ok(n) => written += n as u64,
                Err(_) => break,
            }
        }
        (written, flooder)
    });
    let (written, flooder) = flooding.join().unwrap();
    assert!(written < 1 << 30, "the writes blocked: the server stopped reading ({written} bytes)");
    // Others are still served while the flooder is stuck.
    drop(barrier(&addr));
    let grown = rss_kib(&srv).saturating_sub(before);
    assert!(grown < 8 * 1024, "server memory grew by {grown} KiB for a client that never reads");
    drop(flooder);
    drop(barrier(&addr));
    srv.stop();
}
