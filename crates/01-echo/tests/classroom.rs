//! `--step` and `--kernel`, the two flags for stepping through chapter 01 in front of a class,
//! tested over real sockets: the pauses from a real (pseudo-)terminal, the kernel's view read
//! back from the same table the test itself reads.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Instant;

use common::socket_table;
use support::{echo, port_of};
use testkit::terminal::{Terminal, step_without_terminal};
use testkit::{PATIENCE, Proc};

/// Starts `01-echo server --port 0 ARGS` on a pseudo-terminal, or reports a skip.
fn server_on_terminal(args: &[&str]) -> Option<Terminal> {
    let mut all = vec!["server", "--port", "0"];
    all.extend_from_slice(args);
    Terminal::spawn(env!("CARGO_BIN_EXE_01-echo"), &all)
}

/// Presses Enter at the current pause and waits for the next one, `next: NEXT`. Returns the
/// call lines the server narrated in between (not its kernel lines), which must be exactly the
/// one call that was paused before.
fn enter(terminal: &mut Terminal, next: &str) -> (Vec<String>, Vec<String>) {
    terminal.enter_until(&format!("[server] next: {next}"))
}

/// Waits until the kernel's table shows `want` connections in the accept queue of the listener
/// on `port`: the handshakes are done, and nobody has called accept() yet.
fn wait_for_accept_queue(port: u16, want: u32) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let table = socket_table::read_table().expect("Linux has /proc/net/tcp");
        let queued =
            table.iter().find(|e| e.state == "LISTEN" && e.local.port() == port).map(|e| e.recv_q);
        if queued == Some(want) {
            return;
        }
        assert!(Instant::now() < deadline, "accept queue never reached {want}: {queued:?}");
        std::thread::yield_now();
    }
}

#[test]
fn each_enter_runs_one_call_and_the_kernel_shows_the_queue_before_accept() {
    let Some(mut term) = server_on_terminal(&["--step", "--kernel"]) else { return };
    term.expect_line("[server] next: socket(AF_INET, SOCK_STREAM)");
    // One Enter, one call: the paused call is the one that runs, and only it.
    let steps = [
        ("socket(AF_INET, SOCK_STREAM)", "setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)"),
        ("setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)", "bind(127.0.0.1:0)"),
        ("bind(127.0.0.1:0)", "listen(backlog=128)"),
    ];
    for (ran, next) in steps {
        let (calls, _) = enter(&mut term, next);
        assert_eq!(calls.len(), 1, "one Enter ran {calls:?}");
        assert!(calls[0].starts_with(&format!("[server] {ran}")), "{calls:?} is not {ran}");
    }
    let (calls, between) = enter(&mut term, "accept()");
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(calls[0].starts_with("[server] listen(backlog=128)"));
    let listening =
        between.iter().find(|l| l.starts_with("listening on ")).expect("readiness line");
    let port: u16 = port_of(listening).parse().expect("a port");

    // Three clients connect while the server is paused before accept(): the kernel completes
    // every handshake on its own, and queues them.
    let connect = |text: &[u8]| {
        let mut conn = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        conn.write_all(text).expect("send");
        conn
    };
    let mut first = connect(b"a");
    let (_second, _third) = (connect(b"b"), connect(b"c"));
    wait_for_accept_queue(port, 3);

    // accept() takes the first; two still wait, and the first's byte waits in its receive
    // queue, before any recv().
    let (calls, between) = enter(&mut term, "recv(1024)");
    assert!(calls[0].starts_with("[server] accept() -> fd"), "{calls:?}");
    // (The lines before it are the rest of the accept() pause, which showed the queue empty.)
    let accepted = between.iter().position(|l| l.starts_with("[server] accept()")).expect("call");
    let view = &between[accepted + 1];
    assert!(view.contains("LISTEN · accept queue 2 of backlog 128"), "{view}");
    assert!(view.contains("ESTAB · receive queue 1 "), "{view}");
    let (_, pause_view) = term.expect_line("[server]   kernel:");
    assert!(pause_view.contains("ESTAB · receive queue 1 "), "before recv: {pause_view}");

    let (calls, _) = enter(&mut term, "sendall(1 bytes)");
    assert_eq!(calls, ["[server] recv(1024) -> 1 bytes"]);
    let (_, after_recv) = term.expect_line("(Enter runs it");
    assert!(after_recv.contains("c + Enter runs on"));

    // `c` runs on: no more pauses. The echo comes back, and the half-close shows as
    // CLOSE-WAIT on the server's side.
    term.type_line("c");
    let mut byte = [0u8; 1];
    first.read_exact(&mut byte).expect("the echo");
    assert_eq!(&byte, b"a");
    first.shutdown(Shutdown::Write).expect("half-close");
    term.expect_line("[server] recv(1024) -> 0 bytes (peer closed)");
    let (_, view) = term.expect_line("[server]   kernel:");
    assert!(view.contains("CLOSE-WAIT (the peer sent FIN"), "{view}");
    let (between, _) = term.expect_line("[server] accept() -> fd");
    assert!(!between.iter().any(|l| l.contains("next:")), "paused after `c`: {between:?}");

    // Ctrl-C on the terminal stops it cleanly, with its summary.
    term.ctrl_c("server stopped: served");
}

#[test]
fn ctrl_c_at_a_pause_stops_cleanly() {
    // At the first pause (nothing created yet) and at accept() (listening): either way Ctrl-C
    // wakes the pause and the server stops as it does unstepped, with its summary and status 0.
    for pauses_before in [0, 4] {
        let Some(mut term) = server_on_terminal(&["--step"]) else { return };
        term.expect_line("[server] next: socket(AF_INET, SOCK_STREAM)");
        for next in ["setsockopt", "bind", "listen", "accept()"].iter().take(pauses_before) {
            term.type_line("");
            term.expect_line(&format!("[server] next: {next}"));
        }
        term.ctrl_c("server stopped: served 0 connections");
    }
}

#[test]
fn step_without_a_terminal_is_a_usage_error() {
    let args = ["server", "--port", "0", "--step"];
    let done = step_without_terminal(env!("CARGO_BIN_EXE_01-echo"), &args);
    assert!(done.stderr.contains("use --trace to narrate without pausing"), "{done:?}");
}

#[test]
fn step_in_the_background_is_a_usage_error_not_a_stopped_job() {
    // A job-control shell (`set -m`) starts `server --step &` in a process group of its own,
    // as an interactive shell does: reading the terminal from there would stop the server
    // (SIGTTIN) with the class none the wiser.
    let server = format!("'{}' server --port 0 --step", env!("CARGO_BIN_EXE_01-echo"));
    let shell = format!("set -m; {server} & wait $!; echo \"status=$?\"");
    let Some(mut term) = Terminal::spawn("bash", &["-c", &shell]) else { return };
    let (before, status) = term.expect_line("status=");
    assert_eq!(status, "status=2", "a usage error, not 149 (stopped by SIGTTIN): {before:?}");
    let said = before.join("\n");
    assert!(said.contains("but it runs in the terminal's background (started with &"), "{said}");
    assert!(!said.contains("next: socket("), "it paused in the background: {said}");
    assert!(term.finish().status.success());
}

#[test]
fn kernel_shows_time_wait_on_the_side_that_closed_first() {
    // The demo's client B half-closes first, then reads the server's close: its socket is in
    // TIME-WAIT, while the server, which closed second, has nothing left.
    let done = testkit::run(echo().args(["demo", "--kernel"]));
    assert!(done.status.success(), "{done:?}");
    let lines: Vec<&str> = done.stderr.lines().collect();
    let view_after = |call: &str| testkit::kernel_view_after(&done.stderr, call);
    // Right after its FIN: FIN-WAIT, or already TIME-WAIT when the server answered with its
    // own close before the view was read (a busy machine runs the server thread first).
    let half_closed = view_after("[client B] shutdown(");
    assert!(
        half_closed.contains("FIN-WAIT")
            || half_closed.contains("TIME-WAIT (this side closed first"),
        "{}",
        done.stderr
    );
    let closed = view_after("[client B] close(");
    assert!(closed.contains("TIME-WAIT (this side closed first"), "{closed}");
    let server_close = lines
        .iter()
        .rposition(|l| l.starts_with("[server] close(fd") && !l.contains("listening"))
        .expect("the server closes B");
    assert!(lines[server_close + 1].contains("CLOSED · gone from the table"), "{}", done.stderr);
}

#[test]
fn the_flags_change_nothing_on_stdout() {
    // The kernel view goes to stderr with the narration; the program's result is unchanged.
    let (server, addr) = support::server(&[]);
    let port = port_of(&addr);
    let plain = testkit::run(echo().args(["client", "--port", &port]));
    let kernel = testkit::run(echo().args(["client", "--port", &port, "--kernel"]));
    assert_eq!(plain.stdout, kernel.stdout);
    assert!(kernel.stderr.contains("[client]   kernel: ESTAB"), "{kernel:?}");
    let _: Proc = server;
}
