//! The command line: the demo, usage errors (exit 2), and the exit codes of failures that need
//! no server (resolve 6, connect 7).

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::TcpListener;

use support::{code, fetch};

#[test]
fn demo_runs_by_itself_and_shows_reuse_redirect_and_the_tutorials_bug() {
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
    for args in [&[][..], &["-X", "GE T", "http://h/"], &["-H", "nocolon", "http://h/"]] {
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
    let help = done.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    for listed in [
        "0 ok",
        "1 other error",
        "2 usage",
        "3 malformed URL",
        "6 could not resolve",
        "7 could not connect",
        "8 bad HTTP",
        "18 body cut short",
        "22 HTTP >= 400",
        "23 could not write output",
        "28 timeout",
        "35 TLS handshake",
        "47 too many redirects",
        "55 failure sending",
        "56 failure receiving",
        "60 certificate",
        "63 body larger",
    ] {
        assert!(help.contains(listed), "no {listed:?} in:\n{help}");
    }
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

#[test]
fn a_malformed_url_is_exit_3_and_never_a_connection_to_the_default_port() {
    // Each of these used to connect to port 80 (the bad port silently dropped) or to the host
    // after the `@`; now none is even resolved.
    for url in [
        "http://127.0.0.1:99999/",
        "http://127.0.0.1:65536/",
        "http://127.0.0.1:abc/",
        "http://127.0.0.1:0/",
        "http://[::1/",
        "http://::1/",
        "http://user@127.0.0.1/",
        "http://bad host/",
    ] {
        let done = fetch(&["-v", url]);
        assert_eq!(code(&done), 3, "{url}: {done:?}");
        assert!(done.stderr.contains("is not a valid URL"), "{url}: {}", done.stderr);
        assert!(done.stderr.contains("hint: a URL is"), "{url}: {}", done.stderr);
        assert!(!done.stderr.contains("Trying"), "{url} was connected to: {}", done.stderr);
    }
}

#[test]
fn an_unsupported_scheme_is_exit_1_as_in_curl() {
    let done = fetch(&["ftp://example.com/"]);
    assert_eq!(code(&done), 1, "{done:?}");
    assert!(done.stderr.contains("unsupported scheme \"ftp\""), "{}", done.stderr);
}

#[test]
fn insecure_says_nothing_for_plain_http() {
    let srv = support::answer_once(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    let done = fetch(&["-k", &srv.url("/")]);
    assert_eq!(code(&done), 0, "{done:?}");
    assert_eq!(done.stdout, "ok\n");
    assert!(!done.stderr.contains("warning"), "-k warned for http: {}", done.stderr);
}

#[test]
fn an_unwritable_output_file_is_exit_23_with_a_hint_about_the_file() {
    let srv = support::answer_once(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-folder").join("out.txt");
    let done = fetch(&["-o", path.to_str().unwrap(), &srv.url("/")]);
    assert_eq!(code(&done), 23, "{done:?}");
    assert!(done.stderr.contains("could not create"), "{}", done.stderr);
    assert!(done.stderr.contains("hint: the folder of the -o file"), "{}", done.stderr);
    assert!(!done.stderr.contains("socket"), "a socket hint for a file: {}", done.stderr);
}

#[test]
fn a_closed_stdout_is_exit_23_with_a_hint_about_the_pipe() {
    // Another test thread that forks at the wrong moment holds a copy of the pipe's read end
    // until its child calls exec, and then our body lands in the pipe instead of failing. That
    // window is tiny, so a clean exit is tried again, a few times at most.
    let mut attempts = 0;
    let (code, stderr) = loop {
        attempts += 1;
        let (code, stderr) = write_into_a_closed_stdout();
        if code != Some(0) || attempts == 3 {
            break (code, stderr);
        }
    };
    assert_eq!(code, Some(23), "{stderr}");
    assert!(stderr.contains("could not write the body"), "{stderr}");
    assert!(stderr.contains("hint: the program reading our standard output"), "{stderr}");
    assert!(!stderr.contains("peer"), "a network hint for a pipe: {stderr}");
}

/// Fetches a 5-byte body with the client's stdout closed: its exit code and stderr.
fn write_into_a_closed_stdout() -> (Option<i32>, String) {
    use std::io::Write;
    use std::process::Stdio;
    use std::sync::mpsc;
    // The server answers only once the test has closed the client's stdout, so the body is
    // written into a pipe whose reader is already gone (EPIPE: Rust ignores SIGPIPE).
    let (closed_tx, closed_rx) = mpsc::channel::<()>();
    let srv = support::scripted(1, move |_, mut stream| {
        support::read_request(&mut stream);
        let _ = closed_rx.recv_timeout(testkit::PATIENCE);
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    });
    let mut child = support::client()
        .args(["--max-time", "10", &srv.url("/")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    // Nothing between spawn and wait may panic, so the child is always reaped.
    let _ = closed_tx.send(());
    // The client is bounded by --max-time; wait_with_output reaps it.
    let out = child.wait_with_output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Runs the client on a pseudo-terminal, so its stdout is a terminal; returns the exit code and
/// everything the terminal showed, or `None` (a skip reported) without util-linux `script`.
fn on_a_terminal(args: &[&str]) -> Option<(i32, String)> {
    let done = testkit::terminal::run_on_terminal(env!("CARGO_BIN_EXE_06-http-client"), args)?;
    Some((code(&done), done.stdout))
}

#[test]
fn a_binary_body_is_refused_on_a_terminal_with_exit_23_unless_output_is_dash() {
    const BINARY: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n\x00\x01\x02zqx";
    let srv = support::answer_once(BINARY);
    let Some((exit, screen)) = on_a_terminal(&[&srv.url("/")]) else { return };
    assert_eq!(exit, 23, "{screen}");
    assert!(screen.contains("Binary output can mess up your terminal"), "{screen}");
    assert!(!screen.contains("zqx"), "binary bytes reached the terminal: {screen:?}");

    let srv = support::answer_once(BINARY);
    let Some((exit, screen)) = on_a_terminal(&["-o", "-", &srv.url("/")]) else { return };
    assert_eq!(exit, 0, "{screen}");
    assert!(screen.contains("zqx"), "{screen:?}");

    let srv = support::answer_once(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nplain");
    let Some((exit, screen)) = on_a_terminal(&[&srv.url("/")]) else { return };
    assert_eq!(exit, 0, "text is not refused: {screen}");
    assert!(screen.contains("plain"), "{screen:?}");
}

#[test]
fn a_missing_data_file_is_exit_1_with_a_hint_about_the_file_not_a_socket() {
    let done = fetch(&["-d", "@/nonexistent/form.txt", "http://127.0.0.1:1/"]);
    assert_eq!(code(&done), 1, "{done:?}");
    assert!(done.stderr.contains("could not read /nonexistent/form.txt"), "{}", done.stderr);
    assert!(done.stderr.contains("hint: no file at that path"), "{}", done.stderr);
    assert!(!done.stderr.contains("socket"), "a socket hint for a file: {}", done.stderr);
}

#[test]
fn a_url_without_scheme_may_carry_a_url_in_its_query() {
    let (tx, rx) = std::sync::mpsc::channel();
    let srv = support::scripted(1, move |_, mut stream| {
        use std::io::Write;
        let head = support::read_request(&mut stream);
        let _ = tx.send(head.lines().next().unwrap_or_default().to_owned());
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    });
    let done = fetch(&[&format!("{}/go?to=http://x", srv.addr)]);
    assert_eq!(code(&done), 0, "{done:?}");
    let line = rx.recv_timeout(testkit::PATIENCE).unwrap();
    assert_eq!(line, "GET /go?to=http://x HTTP/1.1");
}
