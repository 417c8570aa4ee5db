//! The command line: the demo, usage errors (exit 2), and the exit codes of failures that need
//! no server (resolve 6, connect 7).

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::TcpListener;

use support::{code, fetch};

#[test]
fn demo_runs_by_itself_and_shows_reuse_redirect_and_the_seed_bug() {
    let done = fetch(&["demo"]);
    assert_eq!(code(&done), 0, "{done:?}");
    assert!(done.stdout.starts_with("listening on 127.0.0.1:"), "{}", done.stdout);
    assert!(done.stdout.contains("chunks come one by one."), "{}", done.stdout);
    for needle in [
        "> GET /chunked HTTP/1.1",
        "< Transfer-Encoding: chunked",
        "* Re-using existing connection #0",
        "* Following 301 redirect: GET http://",
        "TRUNCATED",
        "HUNG",
    ] {
        assert!(done.stderr.contains(needle), "no {needle:?} in:\n{}", done.stderr);
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["ftp://example.com/"],
        &["-X", "GE T", "http://h/"],
        &["-H", "nocolon", "http://h/"],
    ] {
        let done = fetch(args);
        assert_eq!(code(&done), 2, "{args:?}: {done:?}");
    }
    let done = fetch(&["-I", "-d", "x", "http://h/"]);
    assert_eq!(code(&done), 2, "HEAD cannot carry a body: {done:?}");
}

#[test]
fn help_lists_the_exit_codes() {
    let done = fetch(&["--help"]);
    assert_eq!(code(&done), 0);
    assert!(
        done.stdout.contains("28 timeout") && done.stdout.contains("60 certificate"),
        "{}",
        done.stdout
    );
}

#[test]
fn an_unknown_host_is_exit_6() {
    // `.invalid` never resolves (RFC 2606), and resolvers say so at once.
    let done = fetch(&["http://no-such-host.invalid/"]);
    assert_eq!(code(&done), 6, "{done:?}");
    assert!(done.stderr.contains("no-such-host.invalid"), "{}", done.stderr);
}

#[test]
fn a_refused_connection_is_exit_7_with_a_hint() {
    // A port that was free a moment ago: bound, then released, so nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let done = fetch(&[&format!("http://127.0.0.1:{port}/")]);
    assert_eq!(code(&done), 7, "{done:?}");
    assert!(done.stderr.contains("could not connect to 127.0.0.1:"), "{}", done.stderr);
    assert!(done.stderr.contains("hint: nothing is listening on that address"), "{}", done.stderr);
}

#[test]
fn trace_ascii_shows_every_byte_including_chunk_lines() {
    let done = fetch(&["demo"]);
    assert_eq!(code(&done), 0);
    let srv = support::answer_once(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    );
    let done = fetch(&["--trace-ascii", "-", &srv.url("/x")]);
    assert_eq!(code(&done), 0, "{done:?}");
    assert_eq!(done.stdout, "hello\n");
    for needle in ["=> Send ", "0000: GET /x HTTP/1.1", "<= Recv ", ": 5", ": hello", ": 0"] {
        assert!(done.stderr.contains(needle), "no {needle:?} in:\n{}", done.stderr);
    }
}

#[test]
fn trace_narrates_the_socket_calls_of_a_fetch() {
    let srv = support::answer_once(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    let done = fetch(&["--trace", &srv.url("/")]);
    assert_eq!(code(&done), 0, "{done:?}");
    assert_eq!(done.stdout, "ok\n");
    for needle in [
        "[client] socket(AF_INET, SOCK_STREAM)",
        "[client] connect(127.0.0.1:",
        "[client] sendall(",
        "[client] recv(",
        "[client] close(",
    ] {
        assert!(done.stderr.contains(needle), "no {needle:?} in:\n{}", done.stderr);
    }
}
