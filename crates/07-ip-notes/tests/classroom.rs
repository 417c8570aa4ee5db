//! `--step` and `--kernel` on chapter 07's experiments, over real sockets on loopback: the
//! backlog experiment's accept queue filling up and the SYNs the kernel drops, the TIME_WAIT
//! experiment's close from both sides, and the pauses driven from a real (pseudo-)terminal.

use std::process::Command;

use testkit::kernel_view_after;
use testkit::terminal::{Terminal, step_without_terminal};
use testkit::{Finished, run};

const BINARY: &str = env!("CARGO_BIN_EXE_07-ip-notes");

fn ip_notes(args: &[&str]) -> Finished {
    let done = run(Command::new(BINARY).args(args));
    assert!(done.status.success(), "07-ip-notes {args:?}: {done:?}");
    done
}

#[test]
fn kernel_shows_the_accept_queue_fill_and_the_dropped_syn() {
    let done = ip_notes(&["backlog", "--kernel", "--backlog", "1", "--connections", "3"]);
    let lines: Vec<&str> = done.stderr.lines().collect();
    let views: Vec<&str> =
        lines.windows(2).filter(|w| w[0].starts_with("[client] connect(")).map(|w| w[1]).collect();
    // Linux queues backlog + 1 = 2 connections; the third SYN is dropped, so that client is
    // still in SYN-SENT when its connect() gives up.
    assert_eq!(views.len(), 3, "{}", done.stderr);
    assert!(views[0].contains("LISTEN · accept queue 1 of backlog 1"), "{}", views[0]);
    assert!(views[1].contains("LISTEN · accept queue 2 of backlog 1"), "{}", views[1]);
    assert!(views[2].contains("accept queue 2 of backlog 1"), "{}", views[2]);
    assert!(views[2].contains("SYN-SENT (SYN sent, waiting for SYN-ACK)"), "{}", views[2]);
}

#[test]
fn kernel_shows_fin_wait_and_close_wait_in_the_time_wait_experiment() {
    let done = ip_notes(&["reuseaddr", "--kernel"]);
    let server = kernel_view_after(&done.stderr, "[server] close(fd");
    assert!(server.contains("FIN-WAIT"), "the server closed first: {server}");
    let client = kernel_view_after(&done.stderr, "[client] recv(1) -> 0 bytes");
    assert!(client.contains("CLOSE-WAIT (the peer sent FIN"), "{client}");
    assert!(done.stdout.contains("3. the socket table still holds the port: TIME-WAIT"));
}

#[test]
fn each_enter_runs_one_call_and_c_runs_on() {
    let args = ["backlog", "--step", "--kernel", "--backlog", "1", "--connections", "2"];
    let Some(mut term) = Terminal::spawn(BINARY, &args) else { return };
    term.expect_line("[server] next: socket(AF_INET, SOCK_STREAM)");
    let steps = [
        ("[server] socket(AF_INET, SOCK_STREAM) -> fd", "[server] next: bind(127.0.0.1:0)"),
        ("[server] bind(127.0.0.1:0) -> port", "[server] next: listen(backlog=1)"),
        ("[server] listen(backlog=1)", "[client] next: connect(127.0.0.1:"),
    ];
    for (ran, next) in steps {
        let (calls, _) = term.enter_until(next);
        assert_eq!(calls.len(), 1, "one Enter ran {calls:?}");
        assert!(calls[0].starts_with(ran), "{calls:?} is not {ran}");
    }
    // The pause before connect() shows the listener's queue, still empty.
    let (_, view) = term.expect_line("[client]   kernel:");
    assert!(view.contains("LISTEN · accept queue 0 of backlog 1"), "{view}");
    term.type_line("c");
    let (between, _) = term.expect_line("[server] close() (the listener and its 2 queued");
    assert!(!between.iter().any(|l| l.contains("next:")), "paused after `c`: {between:?}");
    let done = term.finish();
    assert!(done.status.success(), "{done:?}");
}

#[test]
fn step_without_a_terminal_is_a_usage_error() {
    step_without_terminal(BINARY, &["reuseaddr", "--step"]);
}
