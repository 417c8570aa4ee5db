//! `--step` and `--kernel` on chapter 03, over real sockets: the room server stepped from a
//! real (pseudo-)terminal, one call per Enter; the kernel's view of a reader that stopped
//! reading, whose send queue grows on the server's side; and the two ways `--step` is refused.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream};

use ch03_long_chat::connection::Connection;
use ch03_long_chat::frame::{Frame, Kind};
use socket2::{Domain, Socket, Type};
use support::room;
use testkit::PATIENCE;
use testkit::terminal::{Terminal, step_without_terminal};

/// Starts `03-long-chat ARGS` on a pseudo-terminal (`None`, a skip reported, without one).
fn on_terminal(args: &[&str]) -> Option<Terminal> {
    Terminal::spawn(env!("CARGO_BIN_EXE_03-long-chat"), args)
}

/// Presses Enter at the current pause and waits for the next one, `next: NEXT`. Returns the
/// socket calls the server narrated in between, and every line. Frames decoded and queued
/// (`recv frame`, `queue frame`) are the protocol's work, not socket calls.
fn enter(term: &mut Terminal, next: &str) -> (Vec<String>, Vec<String>) {
    let (mut calls, between) = term.enter_until(&format!("[server] next: {next}"));
    calls.retain(|l| !l.contains(" frame "));
    (calls, between)
}

/// Asserts that one Enter ran exactly the call that was paused before.
fn ran_one(calls: &[String], ran: &str) {
    assert_eq!(calls.len(), 1, "one Enter ran {calls:?}");
    assert!(calls[0].starts_with(&format!("[server] {ran}")), "{calls:?} is not {ran}");
}

#[test]
fn each_enter_runs_one_call_of_the_event_loop_and_c_runs_on() {
    let Some(mut term) = on_terminal(&["server", "--port", "0", "--step", "--kernel"]) else {
        return;
    };
    term.expect_line("[server] next: socket(AF_INET, SOCK_STREAM)");
    let steps = [
        ("socket(AF_INET, SOCK_STREAM)", "setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)"),
        ("setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)", "bind(127.0.0.1:0)"),
        ("bind(127.0.0.1:0)", "listen(backlog=128)"),
        ("listen(backlog=128)", "register(listener, READABLE)"),
    ];
    let mut listening = None;
    for (ran, next) in steps {
        let (calls, between) = enter(&mut term, next);
        ran_one(&calls, ran);
        listening = listening.or_else(|| between.into_iter().find(|l| l.contains("listening on")));
    }
    let addr: SocketAddr = listening.unwrap().trim_start_matches("listening on ").parse().unwrap();

    // register() runs; then poll() sleeps, and nothing is paused until a client arrives.
    term.type_line("");
    let client = TcpStream::connect(addr).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    (&client).write_all(&Frame::new(Kind::Join, "alice").to_bytes()).unwrap();
    let (before, _) = term.expect_line("[server] next: accept()");
    assert!(before.iter().any(|l| l.starts_with("[server] register(listener")), "{before:?}");

    let keepalive = "setsockopt(SO_KEEPALIVE";
    let (calls, between) = enter(&mut term, keepalive);
    ran_one(&calls, "accept() -> fd");
    let accepted = between.iter().position(|l| l.starts_with("[server] accept()")).unwrap();
    assert!(between[accepted + 1].contains("LISTEN · accept queue 0"), "{between:?}");
    let (calls, _) = enter(&mut term, "register(fd");
    ran_one(&calls, keepalive);
    let (calls, _) = enter(&mut term, "accept()");
    ran_one(&calls, "register(fd");
    // The listener is edge-triggered: accept() again until the queue is empty. While stepping,
    // the call that finds nothing says so, so each Enter shows what its call did.
    let (calls, _) = enter(&mut term, "recv(fd");
    ran_one(&calls, "accept() -> EAGAIN (the queue is empty: back to poll)");
    // Before recv(), the kernel already holds alice's JOIN: 10 bytes in the receive queue.
    let (_, view) = term.expect_line("[server]   kernel:");
    assert!(view.contains("ESTAB · receive queue 10 "), "before recv: {view}");
    let (calls, between) = enter(&mut term, "send(fd");
    ran_one(&calls, "recv(fd");
    assert!(calls[0].ends_with("-> 10 bytes"), "{calls:?}");
    assert!(between.iter().any(|l| l.starts_with("alice joined from")), "{between:?}");

    // `c` runs on: the welcome is sent, and alice's half-close shows as CLOSE-WAIT.
    term.type_line("c");
    let mut frames = Connection::new(&client);
    assert_eq!(frames.read_frame().unwrap().unwrap(), Frame::new(Kind::Join, "alice"));
    assert_eq!(frames.read_frame().unwrap().unwrap().kind, Kind::List);
    client.shutdown(Shutdown::Write).unwrap();
    term.expect_line("-> 0 bytes (peer closed)");
    let (_, view) = term.expect_line("[server]   kernel:");
    assert!(view.contains("CLOSE-WAIT (the peer sent FIN"), "{view}");
    let (between, _) = term.expect_line("[server] close(fd");
    assert!(!between.iter().any(|l| l.contains("next:")), "paused after `c`: {between:?}");

    term.ctrl_c("server stopped: 1 client joined");
}

/// The send queues `--kernel` showed after each `send` to the socket accepted as `fd`.
fn send_queues_of(stderr: &str, fd: &str) -> Vec<u64> {
    let lines: Vec<&str> = stderr.lines().collect();
    let call = format!("[server] send({fd}, ");
    lines
        .windows(2)
        .filter(|pair| pair[0].starts_with(&call))
        .filter_map(|pair| pair[1].rsplit("send queue ").next()?.trim().parse().ok())
        .collect()
}

#[test]
fn kernel_shows_a_stuck_readers_send_queue_growing() {
    let (server, addr) = room(&["--kernel"]);
    let talker = TcpStream::connect(&addr).unwrap();
    talker.set_read_timeout(Some(PATIENCE)).unwrap();
    (&talker).write_all(&Frame::new(Kind::Join, "alice").to_bytes()).unwrap();
    let mut talker_frames = Connection::new(&talker);
    assert_eq!(talker_frames.read_frame().unwrap().unwrap().kind, Kind::Join);
    // The stuck reader: a small receive buffer (set before connect, so the window is small
    // from the start) and not one read.
    let stuck = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    stuck.set_recv_buffer_size(4096).unwrap();
    stuck.connect(&addr.parse::<SocketAddr>().unwrap().into()).unwrap();
    stuck.send(&Frame::new(Kind::Join, "stuck").to_bytes()).unwrap();
    let port = stuck.local_addr().unwrap().as_socket().unwrap().port();
    server.wait_for_stderr("stuck joined from");
    let stderr = server.stderr();
    let accept = stderr.lines().find(|l| l.ends_with(&format!(":{port}"))).unwrap();
    let fd = accept.split(" -> ").nth(1).unwrap().split(',').next().unwrap().to_owned();

    // alice talks in 8 KiB lines until the room gives up on the stuck reader. Its share
    // waits in the kernel first: the server's send queue for it grows while its window is shut.
    let line = "x".repeat(8 << 10);
    for i in 0..3000 {
        let text = Frame::new(Kind::Text, format!("{i} {line}")).to_bytes();
        if (&talker).write_all(&text).is_err() || server.stderr().contains("stuck (") {
            break;
        }
    }
    server.wait_for_stderr("disconnected: too slow");
    let done = server.stop();
    let queues = send_queues_of(&done.stderr, &fd);
    let most = queues.iter().copied().max().unwrap_or(0);
    assert!(most >= 8 << 10 && most > queues[0], "the send queue never grew: {queues:?}");
    let close = done.stderr.lines().position(|l| l.starts_with(&format!("[server] close({fd})")));
    assert!(close.is_some(), "the stuck reader is closed: {}", done.stderr);
    drop(stuck);
}

#[test]
fn step_without_a_terminal_is_a_usage_error() {
    let args = ["server", "--port", "0", "--step"];
    step_without_terminal(env!("CARGO_BIN_EXE_03-long-chat"), &args);
}

#[test]
fn step_with_the_line_editor_on_the_terminal_is_a_usage_error() {
    // stdin is the terminal: the chat's editor would read it too. Refused before connecting.
    let Some(mut term) = on_terminal(&["client", "--port", "1", "--step"]) else { return };
    term.expect_line("where the chat's line editor reads too");
    let done = term.finish();
    assert_eq!(done.status.code(), Some(2), "{done:?}");
    // Lines from a pipe (here /dev/null) leave the terminal to the prompts: accepted, and the
    // client goes on to connect (to a port nobody listens on: a runtime error, exit 1).
    let bin = env!("CARGO_BIN_EXE_03-long-chat");
    let piped = format!("'{bin}' client --port 1 --step < /dev/null");
    // Through a shell, for the redirection.
    let Some(mut term) = Terminal::spawn("sh", &["-c", &piped]) else { return };
    term.expect_line("[client] next: socket(AF_INET, SOCK_STREAM)");
    term.type_line("c");
    term.expect_line("error: could not connect to 127.0.0.1:1");
    assert_eq!(term.finish().status.code(), Some(1));
}
