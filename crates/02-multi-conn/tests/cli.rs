//! The `02-multi-conn` binary over real sockets, in both modes: the tutorial's two clients,
//! hundreds and a thousand at once, interleaved partial messages, ping-pong, holding, the
//! connection limit, narration, running out of file descriptors, and the errors.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

use testkit::{Finished, Proc, run};

const MODES: [&str; 2] = ["poll", "threads"];

fn multi() -> Command {
    Command::new(env!("CARGO_BIN_EXE_02-multi-conn"))
}

/// Starts `02-multi-conn server --port 0 ARGS` and returns it with its address.
fn server(args: &[&str]) -> (Proc, String) {
    let proc = Proc::spawn(multi().args(["server", "--port", "0"]).args(args));
    let addr = proc.listening_addr();
    (proc, addr)
}

fn port(addr: &str) -> &str {
    addr.rsplit(':').next().unwrap()
}

fn client(addr: &str, args: &[&str]) -> Finished {
    run(multi().args(["client", "--port", port(addr)]).args(args))
}

#[test]
fn the_tutorials_two_connections_in_both_modes() {
    for mode in MODES {
        let (srv, addr) = server(&["--mode", mode]);
        let out = client(&addr, &[]);
        assert!(out.status.success(), "{mode}: {out:?}");
        // The echo's bytes, not its boundaries: TCP may return both messages in one recv.
        for line in [
            "Starting connection 1 to 127.0.0.1:",
            "Sending b'Message 1 from client.' to connection 1",
            "Sending b'Message 2 from client.' to connection 2",
            "Received b'Message 1 from client.",
            "Closing connection 2",
        ] {
            assert!(out.stdout.contains(line), "{mode}: missing {line:?} in\n{}", out.stdout);
        }
        let last = out.stdout.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("2 connections, 4 messages, 88 bytes echoed and verified in "),
            "{last}"
        );
        let done = srv.stop();
        assert!(
            done.stderr.contains("server stopped: served 2 connections, peak "),
            "{mode}: {}",
            done.stderr
        );
    }
}

#[test]
fn hundreds_and_a_thousand_connections_at_once() {
    for mode in MODES {
        let (srv, addr) = server(&["--mode", mode]);
        let out = client(&addr, &["--connections", "200", "--messages", "5", "--size", "1K", "-q"]);
        assert!(
            out.stdout
                .starts_with("200 connections, 1000 messages, 1024000 bytes echoed and verified"),
            "{mode}: {out:?}"
        );
        let out =
            client(&addr, &["--connections", "1000", "--messages", "2", "--size", "100", "-q"]);
        assert!(
            out.stdout
                .starts_with("1000 connections, 2000 messages, 200000 bytes echoed and verified"),
            "{mode}: {out:?}"
        );
        let done = srv.stop();
        assert!(done.stderr.contains("served 1200 connections"), "{mode}: {}", done.stderr);
    }
}

#[test]
fn interleaved_byte_at_a_time_messages_echo_exactly() {
    for mode in MODES {
        let (_srv, addr) = server(&["--mode", mode]);
        let mut streams: Vec<TcpStream> =
            (0..20).map(|_| TcpStream::connect(&addr).unwrap()).collect();
        for stream in &streams {
            stream.set_nodelay(true).unwrap();
        }
        let message =
            |i: usize| format!("connection {i} says hello, one byte at a time").into_bytes();
        // Round-robin, one byte per connection per turn: the server sees 20 streams of
        // one-byte segments, all interleaved.
        let longest = (0..20).map(|i| message(i).len()).max().unwrap();
        for at in 0..longest {
            for (i, stream) in streams.iter_mut().enumerate() {
                if let Some(byte) = message(i).get(at) {
                    stream.write_all(&[*byte]).unwrap();
                }
            }
        }
        for (i, stream) in streams.iter_mut().enumerate() {
            let mut echo = vec![0u8; message(i).len()];
            stream.read_exact(&mut echo).unwrap();
            assert_eq!(echo, message(i), "{mode}: connection {i}");
        }
    }
}

#[test]
fn ping_pong_and_hold_report_their_figures() {
    let (srv, addr) = server(&[]);
    let out = client(&addr, &["--connections", "10", "--duration", "1"]);
    assert!(out.stdout.starts_with("10 connections, 64-byte ping-pong for "), "{out:?}");
    assert!(
        out.stdout.contains("messages/s, latency p50 ") && out.stdout.contains("p99"),
        "{}",
        out.stdout
    );
    let out = client(&addr, &["--hold", "50", "--duration", "1"]);
    assert!(out.stdout.contains("holding 50 connections (all connected in "), "{out:?}");
    assert!(out.stdout.contains("held 50 of 50 connections for "), "{}", out.stdout);
    let done = srv.stop();
    assert!(
        done.stderr.contains("peak 50 at once") || done.stderr.contains("peak 5"),
        "{}",
        done.stderr
    );
}

#[test]
fn beyond_max_conns_a_client_is_refused_politely() {
    for mode in MODES {
        let (srv, addr) = server(&["--mode", mode, "--max-conns", "2"]);
        let mut held: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(&addr).unwrap()).collect();
        for stream in &mut held {
            // A round trip proves the server accepted this one and counts it.
            stream.write_all(b"hi").unwrap();
            stream.read_exact(&mut [0u8; 2]).unwrap();
        }
        let mut third = TcpStream::connect(&addr).unwrap();
        assert_eq!(
            third.read(&mut [0u8; 1]).unwrap_or(0),
            0,
            "{mode}: the third reads end-of-stream"
        );
        drop(held);
        let done = srv.stop();
        assert!(done.stderr.contains("refused 1 (--max-conns)"), "{mode}: {}", done.stderr);
    }
}

#[test]
fn poll_mode_narrates_registration_and_interest() {
    let (srv, addr) = server(&["--trace"]);
    let out = client(&addr, &["-q"]);
    assert!(out.status.success(), "{out:?}");
    let done = srv.stop();
    for line in [
        "[server] getrlimit(RLIMIT_NOFILE) -> soft ",
        "[server] listen(backlog=4096)",
        "[server] register(listener, READABLE)",
        "; register(fd ",
        "[server] recv(fd ",
        "[server] send(", // 22 or 44 bytes: the two messages may arrive in one recv.
        "[server] stopping: closing ",
    ] {
        assert!(done.stderr.contains(line), "missing {line:?} in:\n{}", done.stderr);
    }
}

#[cfg(target_os = "linux")]
#[test]
fn out_of_file_descriptors_the_server_backs_off_and_recovers() {
    for mode in MODES {
        // prlimit(1) starts the server with at most 40 descriptors (soft and hard, so it
        // cannot raise them): the connections beyond find accept() failing with EMFILE.
        let proc = Proc::spawn(
            Command::new("prlimit")
                .args(["--nofile=40:40", "--"])
                .arg(env!("CARGO_BIN_EXE_02-multi-conn"))
                .args(["server", "--port", "0", "--mode", mode]),
        );
        let addr = proc.listening_addr();
        let held: Vec<TcpStream> = (0..60).map(|_| TcpStream::connect(&addr).unwrap()).collect();
        // Those beyond the limit wait in the kernel's queue, until the server says so. Then
        // free the descriptors: the queued ones are accepted after the back-off, and new
        // clients are served again.
        proc.wait_for_stderr("Too many open files");
        drop(held);
        let out = client(&addr, &["--connections", "20", "-q"]);
        assert!(out.status.success(), "{mode}: {out:?}");
        let done = proc.stop();
        assert!(done.stderr.contains("Too many open files"), "{mode}: {}", done.stderr);
        // Said once per shortage, not once per retry.
        let pauses = done.stderr.matches("pausing accept for 100 ms at a time").count();
        assert!((1..=3).contains(&pauses), "{mode}: logs once and backs off: {pauses} lines");
    }
}

#[test]
fn demo_runs_narrated_and_exits_zero() {
    let out = run(multi().arg("demo"));
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stdout.contains("2 connections, 4 messages, 88 bytes echoed and verified"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("[server] register(listener, READABLE)"), "{}", out.stderr);
    assert!(out.stderr.contains("server stopped: served 2 connections"), "{}", out.stderr);
}

#[test]
fn a_refused_connection_explains_itself() {
    // Bound but not listening: the port is ours (no parallel test can take it), and a
    // connect() to it is refused.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap().into()).unwrap();
    let closed = socket.local_addr().unwrap().as_socket().unwrap().to_string();
    let out = client(&closed, &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("Connection refused"), "{}", out.stderr);
    assert!(out.stderr.contains("hint: nothing is listening there"), "{}", out.stderr);
}

#[test]
fn usage_mistakes_exit_2_without_a_backtrace() {
    for args in [
        &["server", "--mode", "fork"][..],
        &["server", "--max-conns", "0"],
        &["client", "--connections", "0"],
        &["client", "--hold", "3", "--hold-for", "0"],
        &["client", "--hold-for", "3"],
        &["client", "--size", "0"],
    ] {
        let out = run(multi().args(args));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(out.stderr.starts_with("error: "), "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{args:?}");
    }
}

#[test]
fn a_client_that_sends_and_half_closes_at_once_gets_its_echo_and_the_end() {
    // The data and the FIN often arrive together, in one readiness event: the server must
    // echo the data *and* notice the end of the stream, then close its side too.
    for mode in MODES {
        let (_srv, addr) = server(&["--mode", mode]);
        for round in 0..50 {
            let mut stream = TcpStream::connect(&addr).unwrap();
            stream.set_read_timeout(Some(testkit::PATIENCE)).unwrap();
            let message = format!("round {round}: all I have to say");
            stream.write_all(message.as_bytes()).unwrap();
            stream.shutdown(std::net::Shutdown::Write).unwrap();
            let mut echo = Vec::new();
            stream.read_to_end(&mut echo).unwrap(); // Ends only when the server closes.
            assert_eq!(echo, message.as_bytes(), "{mode}, round {round}");
        }
    }
}

/// Every client example of `--help` runs against a real server and prints what a student wants
/// to see: a few lines of results, not thousands of escaped bytes. (`--hold` runs until Ctrl-C,
/// and `--duration` is shortened to 1 s, to keep the test fast.)
#[test]
fn help_examples_run_and_print_a_readable_result() {
    let help = run(multi().arg("--help")).stdout;
    let examples: Vec<&str> = help
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("02-multi-conn client") && !line.contains("--hold"))
        .collect();
    assert!(examples.len() >= 2, "{help}");
    let (server, addr) = server(&[]);
    let port = addr.rsplit(':').next().unwrap().to_owned();
    for example in examples {
        // The example's words up to its two-space gap; then our port.
        let command = example.split("  ").next().unwrap();
        let mut args: Vec<String> = command.split_whitespace().skip(1).map(str::to_owned).collect();
        if let Some(at) = args.iter().position(|a| a == "--duration") {
            args[at + 1] = "1".to_owned();
        }
        args.extend(["--port".to_owned(), port.clone()]);
        let out = run(multi().args(&args));
        assert!(out.status.success(), "{command}: {out:?}");
        let lines = out.stdout.lines().count() + out.stderr.lines().count();
        assert!(lines <= 10, "{command} printed {lines} lines:\n{}", out.stdout);
    }
    server.stop();
}

/// The accept-error policy's CPU check, in both modes: out of descriptors with clients
/// queued, the server sleeps between tries (under 200 ms of CPU in 1 s), says so once, and
/// serves again once the connections close.
#[cfg(target_os = "linux")]
#[test]
fn out_of_file_descriptors_the_server_uses_next_to_no_cpu() {
    for mode in MODES {
        let (proc, addr) = server(&["--mode", mode]);
        testkit::limit_open_files(proc.pid(), 4);
        let clients = testkit::assert_idle_while_out_of_descriptors(&proc, &addr, 12);
        drop(clients);
        let out = client(&addr, &["--connections", "2", "-q"]);
        assert!(out.status.success(), "{mode}: {out:?}");
        proc.stop();
    }
}
