//! Stepping through chapter 05 in class: `--kernel` shows a request waiting in the receive
//! queue and the server in TIME-WAIT after it closed first; `--step`, driven from a
//! pseudo-terminal, runs one socket call per Enter (`hello`, one thread), `c` runs on, and a
//! kept-alive connection the client closed waits in CLOSE-WAIT for the server's `close()`.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::path::Path;

use support::{connect, get, read_response, read_until_closed, serve};
use testkit::terminal::{Terminal, narration, step_without_terminal};

const BINARY: &str = env!("CARGO_BIN_EXE_05-http-server");

/// A folder with one small file to serve.
fn folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hello world\n").unwrap();
    dir
}

fn path(dir: &Path) -> String {
    dir.to_str().expect("a temporary folder has a UTF-8 path").to_owned()
}

#[test]
fn kernel_shows_keep_alive_then_time_wait_on_the_side_that_closed_first() {
    let dir = folder();
    let (server, addr) = serve(dir.path(), &["--kernel"]);
    let mut client = connect(&addr);
    // Two requests on one connection: the first keeps it alive, the second fails (404) and
    // says `Connection: close`, so the server sends its FIN first (shutdown), then waits for
    // ours before its close().
    client.write_all(&get("/hello.txt")).unwrap();
    assert_eq!(read_response(&mut client, false).status(), 200);
    client.write_all(b"GET /missing HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").unwrap();
    let rest = read_until_closed(&mut client);
    assert!(rest.starts_with(b"HTTP/1.1 404"), "{}", String::from_utf8_lossy(&rest));
    drop(client);
    server.wait_for_stderr("TIME-WAIT");
    let done = server.stop();
    let lines: Vec<&str> = done.stderr.lines().collect();
    let after = |call: &str| {
        let at = lines.iter().position(|l| l.contains(call)).unwrap_or_else(|| {
            panic!("no {call:?} in:\n{}", done.stderr);
        });
        lines[at + 1]
    };
    assert!(after("listen(backlog=").contains("kernel: LISTEN · accept queue 0"), "{lines:?}");
    assert!(after("accept() -> ").contains("ESTAB"), "{lines:?}");
    assert!(after("-> head of ").contains("kernel: ESTAB"), "{lines:?}");
    assert!(
        after("] close(fd ").contains("kernel: TIME-WAIT (this side closed first"),
        "{}",
        done.stderr
    );
}

#[test]
fn step_runs_one_call_per_enter_and_c_runs_on() {
    let args = ["hello", "--port", "0", "--step", "--kernel"];
    let Some(mut term) = Terminal::spawn(BINARY, &args) else { return };
    let mut lines = term.lines_through("(Enter runs it");
    // `hello` has one thread, so every Enter runs exactly the call its prompt named: one
    // narration line (and its kernel view) before the next prompt.
    for call in [
        "socket(AF_INET, SOCK_STREAM)",
        "setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)",
        "bind(127.0.0.1:0)",
        "listen(backlog=128)",
    ] {
        run_one(&mut term, &mut lines, call);
    }
    let addr = lines.iter().find_map(|l| l.strip_prefix("listening on ")).unwrap().to_owned();
    // Paused before accept(): the handshake and the request do not wait for it, the kernel
    // queues both, and accept() finds the request already in the new socket's receive queue.
    let request = get("/");
    let mut client = connect(&addr);
    client.write_all(&request).unwrap();
    run_one(&mut term, &mut lines, "accept()");
    let queued = format!("ESTAB · receive queue {}", request.len());
    assert!(lines.iter().any(|l| l.contains(&queued)), "{lines:?}");
    // The client keeps its socket until the end, so the server's close() is the first.
    let answered = std::thread::spawn(move || (read_until_closed(&mut client), client));
    for call in ["recv(1024)", "sendall(90 bytes)", "close(fd "] {
        run_one(&mut term, &mut lines, call);
    }
    assert!(lines.iter().any(|l| l.contains("kernel: FIN-WAIT")), "{lines:?}");
    assert!(answered.join().unwrap().0.starts_with(b"HTTP/1.1 200 OK"));

    // Back at accept(): c + Enter, and the next client is served without a pause.
    assert!(lines.iter().any(|l| l == "[server] next: accept()"), "{lines:?}");
    term.type_line("c");
    let mut client = connect(&addr);
    client.write_all(&request).unwrap();
    assert!(read_until_closed(&mut client).starts_with(b"HTTP/1.1 200 OK"));
    let rest = term.lines_through("sendall(90 bytes): ");
    assert!(!rest.iter().any(|l| l.contains("] next: ")), "c runs on: {rest:?}");
    term.ctrl_c("server stopped: answered 2 connections");
}

#[test]
fn the_demo_reads_to_the_servers_close_so_the_server_closes_first() {
    // After `Connection: close` the demo's client reads on to the end: its recv returns 0 with
    // the server's FIN in (CLOSE-WAIT), and the server, which closed first, keeps TIME-WAIT.
    let done = testkit::run(std::process::Command::new(BINARY).args(["demo", "--kernel"]));
    assert!(done.status.success(), "{done:?}");
    let after = |call: &str| testkit::kernel_view_after(&done.stderr, call);
    let eof = after("[client] recv(8192) -> 0 bytes (the server closed)");
    assert!(eof.contains("CLOSE-WAIT (the peer sent FIN"), "{}", done.stderr);
    let server_close = after("[server] close(fd ");
    assert!(server_close.contains("TIME-WAIT (this side closed first"), "{}", done.stderr);
}

#[test]
fn the_stepped_demo_pauses_once_per_recv_not_once_per_line() {
    // The demo's client reads three responses of 8 to 11 head lines each. Its pauses name the
    // recv calls that happen, one per refill of its buffer, not one per line cut from it.
    let Some(mut term) = Terminal::spawn(BINARY, &["demo", "--step"]) else { return };
    let mut screen = Vec::new();
    loop {
        let line = term.line();
        if line.contains("(Enter runs it") {
            term.type_line("");
        }
        let last = line.starts_with("server stopped:");
        screen.push(line);
        if last {
            break;
        }
    }
    assert!(term.finish().status.success(), "{screen:?}");
    let count = |prefix: &str| screen.iter().filter(|l| l.starts_with(prefix)).count();
    let (paused, called) = (count("[client] next: recv("), count("[client] recv("));
    let cut = count("[client]   from the buffer: ");
    assert_eq!(paused, called, "a pause before each recv, and only there: {screen:#?}");
    assert!(called < cut, "{called} recv calls for {cut} lines and bodies: {screen:#?}");
}

/// At the prompt for `call` (in `lines`), presses Enter; checks that exactly that call ran
/// (one narration line, naming it, before the next prompt), and leaves the terminal's lines up
/// to the next prompt in `lines`.
fn run_one(term: &mut Terminal, lines: &mut Vec<String>, call: &str) {
    let prompt = format!("[server] next: {call}");
    assert!(lines.iter().any(|l| l.starts_with(&prompt)), "no {prompt:?} in {lines:?}");
    term.type_line("");
    *lines = term.lines_through("(Enter runs it");
    let before_next = lines.iter().position(|l| l.contains("] next: ")).unwrap();
    let ran: Vec<_> = narration(&lines[..before_next]);
    assert_eq!(ran.len(), 1, "one call per Enter: {lines:?}");
    assert!(ran[0].starts_with(&format!("[server] {call}")), "{call}: {lines:?}");
}

#[test]
fn step_shows_close_wait_when_the_client_ends_a_kept_alive_connection() {
    let dir = folder();
    let args = ["serve", &path(dir.path()), "--port", "0", "--step", "--kernel"];
    let Some(mut term) = Terminal::spawn(BINARY, &args) else { return };
    // Two threads pause here, the accept loop and the connection's, one prompt at a time and
    // in no fixed order: Enter at every prompt, and act when a line shows up.
    let (mut addr, mut client, mut sent) = (None, None::<TcpStream>, false);
    for _ in 0..30 {
        let lines = term.lines_through("(Enter runs it");
        addr = addr.or_else(|| {
            lines.iter().find_map(|l| l.strip_prefix("listening on ").map(str::to_owned))
        });
        if !sent && lines.iter().any(|l| l == "[server] next: accept()") {
            let mut stream = connect(addr.as_ref().expect("listening before accept()"));
            stream.write_all(&get("/hello.txt")).unwrap();
            (client, sent) = (Some(stream), true);
        }
        if lines.iter().any(|l| l.contains("-> status 200")) {
            // The response is out: read it, then close our side of the kept-alive connection.
            let mut stream = client.take().expect("the client sent a request");
            assert_eq!(read_response(&mut stream, false).body, b"hello world\n");
            stream.shutdown(Shutdown::Both).unwrap();
        }
        if let Some(at) = lines.iter().position(|l| l.contains("] next: close(fd ")) {
            // The Enter before it ran the recv that found the client's FIN: 0 bytes.
            assert!(
                lines.iter().any(|l| l.contains("-> 0 bytes (the client closed)")),
                "{lines:?}"
            );
            assert!(
                lines[at + 1].contains("kernel: CLOSE-WAIT (the peer sent FIN"),
                "before close(), the client's FIN is in: {lines:?}"
            );
            term.type_line("c");
            term.lines_through("] close(fd ");
            term.ctrl_c("server stopped: ");
            return;
        }
        term.type_line("");
    }
    panic!("no close() within 30 prompts");
}

#[test]
fn step_without_a_terminal_is_a_usage_error() {
    step_without_terminal(BINARY, &["hello", "--port", "0", "--step"]);
}
