//! Stepping through chapter 04 in class: `--kernel` shows the server's receive queue filling
//! and the kernel dropping datagrams once it is full; `--step`, driven from a pseudo-terminal,
//! runs one socket call per Enter, and `c` runs on.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

use std::net::UdpSocket;
use std::process::Command;

use testkit::Proc;
use testkit::terminal::{Terminal, narration, step_without_terminal};

const BINARY: &str = env!("CARGO_BIN_EXE_04-udp");

/// Sends `count` datagrams of 64 bytes to `addr` as fast as one thread can: more than a small
/// receive buffer holds, so the kernel drops the rest.
fn burst(addr: &str, count: usize) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..count {
        socket.send_to(&[b'x'; 64], addr).unwrap();
    }
}

/// The number before `label` in `line`, as in "12 datagrams dropped".
fn number_before(line: &str, label: &str) -> u64 {
    let at = line.find(label).unwrap_or_else(|| panic!("no {label:?} in {line:?}"));
    line[..at].split_whitespace().last().unwrap().parse().unwrap()
}

#[test]
fn kernel_shows_the_receive_queue_and_its_drops() {
    // 4096 asked, 8192 granted: room for about ten small datagrams (each costs the kernel far
    // more than its 64 bytes). A --kernel server reads /proc/net/udp after every call, so a
    // burst of 500 arrives much faster than it can read them.
    let server = Proc::spawn(
        Command::new(BINARY)
            .args(["server", "--port", "0", "--kernel", "--quiet", "--rcvbuf", "4096"]),
    );
    let addr = server.listening_addr();
    burst(&addr, 500);
    server.wait_for_stderr("datagrams dropped (queue full)");
    let done = server.stop();
    let views: Vec<&str> =
        done.stderr.lines().filter(|l| l.starts_with("[server]   kernel: UDP")).collect();
    assert!(
        views.iter().any(|l| number_before(l, "bytes · send queue") > 0),
        "some recvfrom() left datagrams waiting in the receive queue:\n{}",
        done.stderr
    );
    let dropped = views.iter().find(|l| l.contains("dropped")).unwrap();
    let drops = number_before(dropped, "datagrams dropped");
    assert!(drops > 0 && drops < 500, "{dropped}");
    // The summary reads the same counter, at the end.
    assert!(done.stderr.contains("because the receive buffer was full: "), "{}", done.stderr);
}

#[test]
fn step_runs_one_call_per_enter_and_c_runs_on() {
    let args = ["server", "--port", "0", "--step", "--kernel", "--quiet", "--rcvbuf", "4096"];
    let Some(mut term) = Terminal::spawn(BINARY, &args) else { return };
    // Each Enter runs exactly the call the prompt named: one narration line (and its kernel
    // view) between two prompts.
    let mut listening = None;
    let mut lines = term.lines_through("(Enter runs it");
    for call in [
        "socket(AF_INET, SOCK_DGRAM)",
        "setsockopt(SOL_SOCKET, SO_RCVBUF, 4096)",
        "bind(127.0.0.1:0)",
    ] {
        assert!(lines.iter().any(|l| l == &format!("[server] next: {call}")), "{lines:?}");
        term.type_line("");
        lines = term.lines_through("(Enter runs it");
        let before_next = lines.iter().position(|l| l.contains("] next: ")).unwrap();
        let ran = narration(&lines[..before_next]);
        assert_eq!(ran.len(), 1, "one call per Enter: {lines:?}");
        assert!(ran[0].starts_with(&format!("[server] {call}")), "{lines:?}");
        listening = listening.or_else(|| {
            lines.iter().find_map(|l| l.strip_prefix("listening on ").map(str::to_owned))
        });
    }
    // Paused before recvfrom(): datagrams that arrive now wait in the kernel's receive
    // queue, and what does not fit is dropped.
    assert!(lines.iter().any(|l| l == "[server] next: recvfrom(65535)"), "{lines:?}");
    let addr = listening.expect("the server printed its address before recvfrom()");
    burst(&addr, 50);
    term.type_line("");
    lines = term.lines_through("(Enter runs it");
    assert!(lines[0].starts_with("[server] recvfrom(65535) -> 64 bytes from"), "{lines:?}");
    assert!(lines[1].contains("datagrams dropped (queue full)"), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("[server] next: sendto(64 bytes")), "{lines:?}");

    // c + Enter: no more pauses; the queued datagrams are answered until the queue is empty
    // (a datagram sent before that could be dropped too), then one more.
    term.type_line("c");
    term.lines_through("receive queue 0 bytes");
    let last = UdpSocket::bind("127.0.0.1:0").unwrap();
    last.send_to(b"last", &addr).unwrap();
    let rest = term.lines_through("recvfrom(65535) -> 4 bytes");
    assert!(!rest.iter().any(|l| l.contains("] next: ")), "c runs on: {rest:?}");
    term.ctrl_c("server stopped: ");
}

#[test]
fn step_without_a_terminal_is_a_usage_error() {
    step_without_terminal(BINARY, &["server", "--port", "0", "--step"]);
}
