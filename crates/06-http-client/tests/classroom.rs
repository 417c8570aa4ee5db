//! `--step` and `--kernel` on chapter 06's client, over real sockets: the client's own TCP
//! states (ESTABLISHED while it fetches, CLOSE-WAIT when the server ends a body by closing,
//! FIN-WAIT when the client closes a kept-alive connection first), and the pauses driven from
//! a real (pseudo-)terminal.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::sync::mpsc;

use support::{code, fetch, read_request, scripted};
use testkit::kernel_view_after;
use testkit::terminal::{Terminal, step_without_terminal};

/// A server that answers one request with `ok` (by Content-Length) and then keeps the
/// connection open: the receiver holds the server's socket until the test ends, so the
/// client is the one that closes first.
fn keeps_the_connection() -> (support::Scripted, mpsc::Receiver<TcpStream>) {
    let (hold, held) = mpsc::channel();
    let srv = scripted(1, move |_, mut stream| {
        read_request(&mut stream);
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        let _ = hold.send(stream);
    });
    (srv, held)
}

#[test]
fn kernel_shows_established_then_fin_wait_when_the_client_closes_first() {
    let (srv, _held) = keeps_the_connection();
    let done = fetch(&["--kernel", &srv.url("/")]);
    assert_eq!(code(&done), 0, "{done:?}");
    assert_eq!(done.stdout, "ok\n", "the flags change nothing on stdout");
    assert!(
        kernel_view_after(&done.stderr, "[client] connect(").contains("ESTAB"),
        "{}",
        done.stderr
    );
    let recv = kernel_view_after(&done.stderr, "[client] recv(131072) -> ");
    assert!(recv.contains("ESTAB · receive queue 0"), "{}", done.stderr);
    // The server still holds its end: our FIN is sent (and on loopback, acknowledged at once),
    // and the kernel keeps our side until the server's FIN comes.
    let closed = kernel_view_after(&done.stderr, "[client] close(fd");
    assert!(closed.contains("FIN-WAIT"), "{}", done.stderr);
}

#[test]
fn kernel_shows_close_wait_when_the_server_ends_the_body_by_closing() {
    // No Content-Length and no chunks: the body ends when the server closes, so the client's
    // last recv() returns 0 with the server's FIN received and its own side still open.
    let srv = support::answer_once(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nok");
    let done = fetch(&["--kernel", &srv.url("/")]);
    assert_eq!(code(&done), 0, "{done:?}");
    let eof = done
        .stderr
        .lines()
        .find(|l| l.starts_with("[client] recv(") && l.ends_with("-> 0 bytes"))
        .unwrap_or_else(|| panic!("no recv() -> 0 in:\n{}", done.stderr));
    assert!(
        kernel_view_after(&done.stderr, eof).contains("CLOSE-WAIT (the peer sent FIN"),
        "{done:?}"
    );
}

/// Presses Enter at the current pause and waits for the next, `next: NEXT`; returns the call
/// lines narrated in between (not the kernel lines, not the prompts).
fn enter(terminal: &mut Terminal, next: &str) -> Vec<String> {
    terminal.enter_until(&format!("[client] next: {next}")).0
}

#[test]
fn each_enter_runs_one_call_and_c_runs_on() {
    let (srv, _held) = keeps_the_connection();
    let url = srv.url("/");
    let Some(mut term) = Terminal::spawn(env!("CARGO_BIN_EXE_06-http-client"), &["--step", &url])
    else {
        return;
    };
    term.expect_line("[client] next: socket(AF_INET, SOCK_STREAM)");
    let addr = srv.addr.to_string();
    let steps = [
        ("socket(AF_INET, SOCK_STREAM) -> fd", format!("connect({addr})")),
        (&*format!("connect({addr})"), "setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)".to_owned()),
        ("setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)", "sendall(".to_owned()),
        ("sendall(", "recv(131072)".to_owned()),
    ];
    for (ran, next) in &steps {
        let calls = enter(&mut term, next);
        assert_eq!(calls.len(), 1, "one Enter ran {calls:?}");
        assert!(calls[0].starts_with(&format!("[client] {ran}")), "{calls:?} is not {ran}");
    }
    // `c` runs on: the response is read and printed, the connection closed, no more pauses.
    term.type_line("c");
    let (between, _) = term.expect_line("[client] close(fd");
    assert!(!between.iter().any(|l| l.contains("next:")), "paused after `c`: {between:?}");
    let done = term.finish();
    assert!(done.status.success(), "{done:?}");
    assert!(done.stdout.contains("\nok"), "the body on the screen: {done:?}");
}

#[test]
fn step_without_a_terminal_is_a_usage_error() {
    // The URL is never fetched: the flags are checked first.
    step_without_terminal(env!("CARGO_BIN_EXE_06-http-client"), &["--step", "http://127.0.0.1:9/"]);
}
