//! Stepping through chapter 02 in class: `--kernel` shows, over real sockets, what the
//! chapter teaches (several connections finished and waiting, their bytes already in the
//! kernel before the server has read a thing); `--step` runs one call per Enter, from a
//! pseudo-terminal, and says what a non-blocking call that found nothing did; and `--step`
//! with no terminal is a usage error.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

use testkit::{PATIENCE, Proc};

use testkit::terminal::{Terminal, step_without_terminal};

const BINARY: &str = env!("CARGO_BIN_EXE_02-multi-conn");

/// `--kernel` reads /proc/net: on another system the flag is a usage error, and there is
/// nothing to test.
fn on_linux() -> bool {
    if !cfg!(target_os = "linux") {
        testkit::skip("--kernel reads /proc/net, which only Linux has");
    }
    cfg!(target_os = "linux")
}

fn signal(proc: &Proc, which: &str) {
    let status = Command::new("kill").args([which, &proc.pid().to_string()]).status().unwrap();
    assert!(status.success(), "kill {which} {}", proc.pid());
}

#[test]
fn kernel_shows_three_clients_queued_with_their_bytes_before_the_server_reads() {
    if !on_linux() {
        return;
    }
    for mode in ["poll", "threads"] {
        let server = Proc::spawn(
            Command::new(BINARY).args(["server", "--port", "0", "--mode", mode, "--kernel"]),
        );
        let addr = server.listening_addr();
        // Freeze the server: what happens now happens in the kernel alone. Each connect()
        // completes its handshake and each message lands in the new connection's receive
        // queue, with no accept() and no recv() called.
        signal(&server, "-STOP");
        let clients: Vec<TcpStream> = (1..=3)
            .map(|i| {
                let mut client = TcpStream::connect(&addr).unwrap();
                client.set_read_timeout(Some(PATIENCE)).unwrap();
                client.write_all(format!("hello {i}").as_bytes()).unwrap();
                client
            })
            .collect();
        signal(&server, "-CONT");
        // The third accept's line (the listen line shows an empty queue too, but alone).
        server.wait_for_stderr("accept queue 0 of backlog 4096 | fd");
        let stderr = server.stderr();
        // Each accept() takes one of the three from the queue; the connection it returns
        // already holds its client's 7 bytes.
        for queued in [2, 1, 0] {
            let shown = format!("LISTEN · accept queue {queued} of backlog 4096 | fd ");
            let line = stderr.lines().find(|l| l.contains(&shown));
            let line = line.unwrap_or_else(|| panic!("{mode}: no {shown:?} in\n{stderr}"));
            assert!(line.ends_with(": ESTAB · receive queue 7 · send queue 0"), "{mode}: {line}");
        }
        // The clients close first: the server sees recv() return 0 in CLOSE-WAIT. Each close
        // is waited for (by the descriptor its accept line named), so Ctrl-C interrupts none.
        for mut client in clients {
            let mut echo = [0u8; 7];
            client.read_exact(&mut echo).unwrap();
            assert!(echo.starts_with(b"hello "), "{mode}: {echo:?}");
            let peer = format!(", peer {}", client.local_addr().unwrap());
            let accepted = stderr.lines().find(|l| l.contains(&peer)).unwrap();
            let fd = accepted.split(" -> ").nth(1).unwrap().split(',').next().unwrap();
            drop(client);
            server.wait_for_stderr(&format!("close({fd})"));
        }
        let done = server.stop();
        let lines: Vec<&str> = done.stderr.lines().collect();
        let peer_closed: Vec<_> =
            lines.windows(2).filter(|w| w[0].ends_with("-> 0 bytes (peer closed)")).collect();
        assert_eq!(peer_closed.len(), 3, "{mode}: {}", done.stderr);
        for pair in peer_closed {
            let close_wait = "kernel: CLOSE-WAIT (the peer sent FIN: it will send no more)";
            assert!(pair[1].contains(close_wait), "{mode}: {pair:?}");
        }
    }
}

#[test]
fn each_enter_runs_one_call_and_c_runs_on() {
    if !on_linux() {
        return;
    }
    let args = ["server", "--port", "0", "--step", "--kernel"];
    let Some(mut term) = Terminal::spawn(BINARY, &args) else { return };
    // The listening socket, one call per Enter: each Enter prints exactly one line, the call
    // its prompt named (with the kernel's view under it, not counted here).
    let mut call = term.prompt("server");
    for expected in ["socket(", "setsockopt(", "bind(", "listen("] {
        assert!(call.starts_with(expected), "prompt {call:?}, expected {expected:?}");
        let (said, next) = term.enter("server");
        assert_eq!(said.len(), 1, "one Enter, one call: {said:?}\n{}", term.seen());
        assert!(said[0].starts_with(&format!("[server] {call}")), "{said:?} after {call:?}");
        call = next;
        if expected == "listen(" {
            assert!(term.seen().contains("kernel: LISTEN · accept queue 0"), "{}", term.seen());
        }
    }
    // After register() the loop waits in poll(), so a client connects first: the next prompt
    // is the accept() its arrival makes ready.
    let addr =
        term.seen().lines().find_map(|l| l.strip_prefix("listening on ")).unwrap().to_owned();
    let mut client = TcpStream::connect(&addr).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    client.write_all(b"hello").unwrap();
    assert_eq!(call, "register(listener, READABLE)");
    let (said, call) = term.enter("server");
    assert_eq!(said, ["[server] register(listener, READABLE)"]);
    assert_eq!(call, "accept()");
    let (said, next) = term.enter("server");
    assert!(said[0].starts_with("[server] accept() -> fd "), "{said:?}");
    // The loop accepts until the queue is empty: the call that finds it empty says so.
    assert_eq!(next, "accept()");
    let (said, next) = term.enter("server");
    assert_eq!(said, ["[server] accept() -> EAGAIN (queue empty)"]);
    assert!(next.starts_with("recv(fd "), "{next}");
    let (said, next) = term.enter("server");
    assert_eq!(said.len(), 1);
    assert!(said[0].ends_with("-> 5 bytes"), "{said:?}");
    assert!(next.starts_with("send(fd ") && next.ends_with(", 5 bytes)"), "{next}");
    // The echo is sent; the next prompt waits for the client's next move.
    term.type_keys("\n");
    let sent = term.until("[server] send(fd ");
    assert!(sent.ends_with(", 5 bytes) -> 5"), "{sent}");
    let mut echo = [0u8; 5];
    client.read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"hello");

    // The client closes: the server's next call is the recv that will return 0. `c` runs it
    // and everything after without another prompt.
    drop(client);
    assert!(term.prompt("server").starts_with("recv(fd "));
    term.type_keys("c\n");
    term.until("[server] close(fd ");
    let screen = term.ctrl_c("server stopped: served 1 connection").stdout;
    let after_c = screen.split("recv(fd").last().unwrap_or_default();
    assert!(!after_c.contains("next: "), "no prompt after c:\n{screen}");
}

#[test]
fn step_without_a_terminal_is_a_usage_error() {
    for command in ["server", "client", "demo"] {
        step_without_terminal(BINARY, &[command, "--step"]);
    }
}
