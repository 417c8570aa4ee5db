//! The `03-long-chat` binary over real sockets, with scripted clients typing through pipes: a
//! room of three, the one-to-one mode both ways, leaving politely, the server going away,
//! narration, and the command line's errors.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{ChildStdin, Stdio};

use testkit::{Proc, run};

mod support;
use support::chat;

/// A room server on a free port; returns it and its port.
fn room(args: &[&str]) -> (Proc, String) {
    let (proc, addr) = support::room(args);
    let port = addr.rsplit(':').next().unwrap().to_owned();
    (proc, port)
}

/// A client whose keyboard is a pipe; waits until the server has welcomed it.
fn client(port: &str, name: &str, args: &[&str]) -> (Proc, ChildStdin) {
    let mut proc = Proc::spawn(
        chat()
            .args(["client", "--port", port, "--name", name, "--no-history"])
            .args(args)
            .stdin(Stdio::piped()),
    );
    let stdin = proc.take_stdin().unwrap();
    proc.expect_line("* you are ");
    (proc, stdin)
}

fn type_line(stdin: &mut ChildStdin, line: &str) {
    stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
    stdin.flush().unwrap();
}

#[test]
fn three_clients_talk_rename_list_and_leave() {
    let (server, port) = room(&[]);
    let (alice, mut alice_in) = client(&port, "alice", &[]);
    let (bob, mut bob_in) = client(&port, "bob", &[]);
    alice.expect_line("* bob joined");
    let (carol, mut carol_in) = client(&port, "carol", &[]);
    alice.expect_line("* carol joined");
    bob.expect_line("* carol joined");

    type_line(&mut alice_in, "hello, room");
    assert_eq!(bob.expect_line("alice: "), "alice: hello, room");
    assert_eq!(carol.expect_line("alice: "), "alice: hello, room");

    type_line(&mut bob_in, "/nick robert");
    bob.expect_line("* you are now robert");
    alice.expect_line("* bob is now robert");
    carol.expect_line("* bob is now robert");
    type_line(&mut bob_in, "two lines");
    type_line(&mut bob_in, "in a row, without waiting");
    assert_eq!(alice.expect_line("robert: "), "robert: two lines");
    assert_eq!(alice.expect_line("robert: "), "robert: in a row, without waiting");

    type_line(&mut carol_in, "/who");
    assert_eq!(carol.expect_line("* in the room: "), "* in the room: alice, robert, carol");
    type_line(&mut carol_in, "/nick alice");
    carol.expect_line("! the name alice is taken");
    type_line(&mut carol_in, "/dance");
    carol.expect_line("! unknown command /dance");

    // `exit` alone on a line (the tutorial's word) and /quit both leave cleanly.
    type_line(&mut alice_in, "exit");
    let done = alice.finish();
    assert!(done.status.success(), "{done:?}");
    assert!(done.stderr.contains("bye"), "{}", done.stderr);
    bob.expect_line("* alice left");
    carol.expect_line("* alice left");
    type_line(&mut bob_in, "/quit");
    assert!(bob.finish().status.success());
    carol.expect_line("* robert left");
    drop(carol_in); // Ctrl-D: the end of input leaves too.
    assert!(carol.finish().status.success());

    let done = server.stop();
    assert!(
        done.stderr.contains("server stopped: 3 clients joined, relayed 3 messages (6 deliveries)"),
        "{}",
        done.stderr
    );
}

#[test]
fn printf_into_a_client_works_without_a_terminal() {
    let (server, port) = room(&[]);
    let (listener, _keep) = client(&port, "listener", &[]);
    let mut piped =
        Proc::spawn(chat().args(["client", "--port", &port, "--no-history"]).stdin(Stdio::piped()));
    piped.take_stdin().unwrap().write_all(b"hi\nexit\n").unwrap();
    let done = piped.finish();
    assert!(done.status.success(), "{done:?}");
    // No prompt noise: stdout holds only what the server said.
    assert!(!done.stdout.contains("> "), "{}", done.stdout);
    assert!(done.stdout.starts_with("* you are guest1;"), "{}", done.stdout);
    assert_eq!(listener.expect_line("guest1: "), "guest1: hi");
    listener.expect_line("* guest1 left");
    server.stop();
}

#[test]
fn one_to_one_both_ways() {
    let mut server = Proc::spawn(
        chat()
            .args(["server", "--port", "0", "--one-to-one", "--name", "op", "--no-history"])
            .stdin(Stdio::piped()),
    );
    let mut operator = server.take_stdin().unwrap();
    let port = server.listening_addr().rsplit(':').next().unwrap().to_owned();
    let (alice, mut alice_in) = client(&port, "alice", &[]);
    server.expect_line("* alice joined from ");
    assert_eq!(alice.expect_line("* in the room: "), "* in the room: op, alice");

    // Either side may speak first, and twice in a row.
    type_line(&mut operator, "hello alice");
    type_line(&mut operator, "are you there?");
    assert_eq!(alice.expect_line("op: "), "op: hello alice");
    assert_eq!(alice.expect_line("op: "), "op: are you there?");
    type_line(&mut alice_in, "yes");
    type_line(&mut alice_in, "here I am");
    assert_eq!(server.expect_line("alice: "), "alice: yes");
    assert_eq!(server.expect_line("alice: "), "alice: here I am");

    // A second client is turned away while the first is here.
    let mut second =
        Proc::spawn(chat().args(["client", "--port", &port, "--no-history"]).stdin(Stdio::piped()));
    let _second_in = second.take_stdin().unwrap(); // Open: only the server ends this client.
    let second = second.finish();
    assert_eq!(second.status.code(), Some(1), "{second:?}");
    assert!(second.stdout.contains("! busy"), "{second:?}");

    type_line(&mut alice_in, "/quit");
    assert!(alice.finish().status.success());
    server.expect_line("* alice left");

    // The operator leaves with `exit`: the server stops cleanly.
    type_line(&mut operator, "exit");
    let done = server.finish();
    assert!(done.status.success(), "{done:?}");
    assert!(
        done.stderr.contains("server stopped: chatted with 1 client, received 2 lines, sent 2"),
        "{}",
        done.stderr
    );
}

#[test]
fn the_operator_leaving_closes_the_clients_connection() {
    let mut server = Proc::spawn(
        chat()
            .args(["server", "--port", "0", "--one-to-one", "--no-history"])
            .stdin(Stdio::piped()),
    );
    let mut operator = server.take_stdin().unwrap();
    let port = server.listening_addr().rsplit(':').next().unwrap().to_owned();
    let (alice, _alice_in) = client(&port, "alice", &[]);
    server.expect_line("* alice joined");
    type_line(&mut operator, "goodbye");
    alice.expect_line("server: goodbye");
    drop(operator); // Ctrl-D
    assert!(server.finish().status.success());
    let done = alice.finish();
    assert_eq!(done.status.code(), Some(1), "{done:?}");
    assert!(done.stderr.contains("error: server closed the connection"), "{}", done.stderr);
}

#[test]
fn the_server_going_away_is_an_error_for_the_client() {
    let (server, port) = room(&[]);
    let (alice, _alice_in) = client(&port, "alice", &[]);
    server.stop();
    let done = alice.finish();
    assert_eq!(done.status.code(), Some(1), "{done:?}");
    assert!(done.stdout.contains("! the server is shutting down"), "{}", done.stdout);
    assert!(done.stderr.contains("error: server closed the connection"), "{}", done.stderr);
    assert!(!done.stderr.contains("panicked"));
}

#[test]
fn trace_shows_frames_and_the_half_close() {
    let (server, port) = room(&["--trace"]);
    let (alice, mut alice_in) = client(&port, "alice", &["--trace"]);
    type_line(&mut alice_in, "hi");
    type_line(&mut alice_in, "/quit");
    let done = alice.finish();
    assert!(done.status.success(), "{done:?}");
    for line in [
        "[client] send frame JOIN 10 bytes: 00 00 00 06 02 61 6c 69 63 65",
        "[client] send frame TEXT 7 bytes: 00 00 00 03 01 68 69",
        "[client] recv frame JOIN 10 bytes",
        "[client] setsockopt(SO_KEEPALIVE, 1; TCP_KEEPIDLE 60s",
        ", SHUT_WR): no more from us; waiting for the server to close",
        "-> 0 bytes (the server closed)",
    ] {
        assert!(done.stderr.contains(line), "missing {line:?} in:\n{}", done.stderr);
    }
    let done = server.stop();
    for line in ["[server] recv frame TEXT 7 bytes from alice", "-> 0 bytes (peer closed)"] {
        assert!(done.stderr.contains(line), "missing {line:?} in:\n{}", done.stderr);
    }
}

#[test]
fn a_full_room_says_so() {
    let (server, port) = room(&["--max-clients", "1"]);
    let (_alice, _alice_in) = client(&port, "alice", &[]);
    let mut turned_away =
        Proc::spawn(chat().args(["client", "--port", &port, "--no-history"]).stdin(Stdio::piped()));
    let _keyboard = turned_away.take_stdin().unwrap(); // Open: only the server ends this client.
    let out = turned_away.finish();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.contains("! the room is full (1 clients, --max-clients)"), "{out:?}");
    server.stop();
}

#[test]
fn demo_runs_narrated_and_exits_zero() {
    let out = run(chat().arg("demo"));
    assert!(out.status.success(), "{out:?}");
    for line in [
        "[bob sees] alice: hello, room",
        "[carol sees] * in the room: alice, robert, carol",
        "[carol sees] * alice left",
    ] {
        assert!(out.stdout.contains(line), "missing {line:?} in\n{}", out.stdout);
    }
    assert!(out.stderr.contains("[alice] shutdown(SHUT_WR)"), "{}", out.stderr);
    assert!(out.stderr.contains("server stopped: 3 clients joined"), "{}", out.stderr);
}

#[test]
fn a_refused_connection_explains_itself() {
    // Bound but not listening: the port is ours, and a connect() to it is refused.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap().into()).unwrap();
    let port = socket.local_addr().unwrap().as_socket().unwrap().port().to_string();
    let out = run(chat().args(["client", "--port", &port, "--no-history"]));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("could not connect to 127.0.0.1:"), "{}", out.stderr);
    assert!(out.stderr.contains("Connection refused"), "{}", out.stderr);
    assert!(out.stderr.contains("hint: nothing is listening there"), "{}", out.stderr);
}

#[test]
fn usage_mistakes_exit_2_without_a_backtrace() {
    for args in [
        &["client", "--name", "two words"][..],
        &["client", "--heartbeat", "0"],
        &["client", "--no-history", "--history", "x"],
        &["server", "--max-clients", "0"],
        &["server", "--name", "op"],
        &["server", "--port", "0", "--heartbeat", "5", "--peer-timeout", "2"],
        &["client", "--peer-timeout", "1"],
    ] {
        let out = run(chat().args(args));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(out.stderr.starts_with("error: "), "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{args:?}");
    }
}

#[test]
fn ipv6_works_like_ipv4() {
    let server = Proc::spawn(chat().args(["server", "--host", "::1", "--port", "0"]));
    let addr = server.listening_addr();
    assert!(addr.starts_with("[::1]:"), "{addr}");
    let port = addr.rsplit(':').next().unwrap();
    let v6 = |name: &str| {
        let mut proc = Proc::spawn(
            chat()
                .args(["client", "--host", "::1", "--port", port, "--name", name, "--no-history"])
                .stdin(Stdio::piped()),
        );
        let stdin = proc.take_stdin().unwrap();
        proc.expect_line("* you are ");
        (proc, stdin)
    };
    let (alice, mut alice_in) = v6("alice");
    let (bob, _bob_in) = v6("bob");
    alice.expect_line("* bob joined");
    type_line(&mut alice_in, "over IPv6");
    assert_eq!(bob.expect_line("alice: "), "alice: over IPv6");
    server.stop();
}

#[test]
fn ctrl_c_leaves_as_politely_as_quit() {
    let (server, port) = room(&[]);
    let (bob, _bob_in) = client(&port, "bob", &[]);
    let (alice, _alice_in) = client(&port, "alice", &["--trace"]);
    bob.expect_line("* alice joined");
    alice.interrupt();
    let done = alice.finish();
    assert!(done.status.success(), "{done:?}");
    assert!(done.stderr.contains("SHUT_WR"), "a half-close, not an abort:\n{}", done.stderr);
    assert_eq!(bob.expect_line("* alice "), "* alice left");
    server.stop();
}
