//! The command line: help, the demo, the flags' spellings, and the errors a user meets.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::TcpListener;

use support::*;
use testkit::run;

#[test]
fn help_names_the_modes_and_says_there_is_no_client() {
    let out = run(bin().arg("--help"));
    assert!(out.status.success());
    let text = out.stdout.replace('\n', " ");
    for words in ["hello", "serve", "demo", "not a server and a client", "chapter 06's client"] {
        assert!(text.contains(words), "--help lacks {words:?}:\n{}", out.stdout);
    }
    let out = run(bin().args(["serve", "--help"]));
    for flag in [
        "-b, --host <ADDR>",
        "[alias: --bind]",
        "-p, --port",
        "-d, --directory",
        "--follow-symlinks",
        "--header-timeout",
        "--max-connections",
        "--send-timeout",
        "--min-send-rate",
    ] {
        assert!(out.stdout.contains(flag), "serve --help lacks {flag:?}:\n{}", out.stdout);
    }
}

#[test]
fn the_demo_finishes_by_itself_and_narrates() {
    let out = run(bin().arg("demo").stdin(std::process::Stdio::null()));
    assert!(out.status.success(), "{out:?}");
    for line in [
        "GET / -> HTTP/1.1 200 OK",
        "GET /hello.txt -> HTTP/1.1 200 OK",
        "GET /missing.txt -> HTTP/1.1 404 Not Found",
    ] {
        assert!(out.stdout.contains(line), "missing {line:?}:\n{}", out.stdout);
    }
    assert!(out.stderr.contains("[server] accept() -> fd"), "{}", out.stderr);
    assert!(out.stderr.contains("[client] sendall("), "{}", out.stderr);
    assert!(
        out.stderr.contains("server stopped: served 3 requests on 1 connection"),
        "{}",
        out.stderr
    );
    // The client's narration names only the recv calls that happened: their bytes add up to
    // what the server sent, and there are fewer of them than the lines cut from the buffer.
    // `[client] recv(8192) -> 847 bytes` and `[server] sendall(fd 6, 847 bytes) -> status 200`.
    let count = |line: &str, after: &str| -> Option<u64> {
        line.split_once(after)?.1.split(' ').next()?.parse().ok()
    };
    let received: Vec<u64> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("[client] recv("))
        .filter_map(|l| count(l, ") -> "))
        .collect();
    let sent: u64 = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("[server] sendall("))
        .filter_map(|l| count(l, ", "))
        .sum();
    assert_eq!(received.iter().sum::<u64>(), sent, "{}", out.stderr);
    let cut = out.stderr.matches("[client]   from the buffer: ").count();
    assert!(received.len() < cut, "a recv per line: {}", out.stderr);
}

#[test]
fn python_spellings_of_the_flags_work() {
    let site = site();
    let root = site.root();
    let srv = testkit::Proc::spawn(
        bin().args(["serve", "--bind", "127.0.0.1", "-p", "0", "-d"]).arg(&root),
    );
    let addr = srv.listening_addr();
    assert_eq!(exchange(&addr, &get("/hello.txt")).body, b"hello world\n");
    // Waited for, not read at once: the line is the server's, read by another thread.
    srv.wait_for_stderr(&format!(
        "serving {} at http://",
        std::fs::canonicalize(&root).unwrap().display()
    ));
    srv.stop();
}

#[test]
fn a_missing_folder_is_an_error_with_exit_1() {
    let out = run(bin().args(["serve", "/no/such/folder", "--port", "0"]));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.starts_with("error: could not serve the folder /no/such/folder: "),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1, "no hint about sockets: {}", out.stderr);
}

#[test]
fn a_port_in_use_is_an_error_with_a_hint() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    for mode in ["hello", "serve"] {
        let out = run(bin().args([mode, "--port", &port]));
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(
            out.stderr.contains(&format!("error: could not bind 127.0.0.1:{port}: ")),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("hint: another socket is bound"), "{}", out.stderr);
    }
}

#[test]
fn bad_flag_values_are_usage_errors() {
    for args in [
        &["serve", "--header-timeout", "0"][..],
        &["serve", "--max-connections", "0"],
        &["serve", "--max-head", "10"],
        &["serve", "--max-body", "lots"],
        &["serve", "--min-send-rate", "0"],
        &["serve", "--send-timeout", "0"],
        &["serve", "dir", "-d", "other"],
        &["hello", "--port", "70000"],
    ] {
        let out = run(bin().args(args));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
}

/// Issue 15: Ctrl-C during a long download says at once, without `--trace`, what the server
/// waits for and for how long; a second Ctrl-C stops at once (exit 130) and still prints the
/// summary, which counts the body bytes `sendfile` sent, not only the heads.
#[test]
fn ctrl_c_during_a_download_says_what_it_waits_for_and_twice_stops_at_once() {
    use std::io::{Read, Write};
    let site = site();
    let (srv, addr) = serve(&site.root(), &[]);
    let mut download = small_window_connect(&addr);
    download.write_all(&get("/big.bin")).unwrap();
    // Part of the body has arrived: the response is in flight, and then we stop reading.
    let mut first = vec![0u8; 64 << 10];
    download.read_exact(&mut first).unwrap();
    srv.interrupt();
    srv.wait_for_stderr("(Ctrl-C again to stop now)");
    assert!(
        srv.stderr().contains("stopping: waiting up to 10 s for 1 response in flight"),
        "{}",
        srv.stderr()
    );
    srv.interrupt();
    let done = srv.finish();
    assert_eq!(done.status.code(), Some(130), "{done:?}");
    let summary = done
        .stderr
        .lines()
        .find(|line| line.starts_with("server stopped at once: served 1 request on 1 connection"))
        .unwrap_or_else(|| panic!("no summary:\n{}", done.stderr));
    // At least the 64 KiB read here went out, so the count is in KiB or MiB, not bytes.
    assert!(summary.ends_with("KiB") || summary.ends_with("MiB"), "{summary}");
    drop(download);
}

/// Issue 15: `serve 8000` is `python3 -m http.server 8000`'s habit; here the positional
/// argument is the folder. A number that is no folder is a usage error that says `-p 8000`.
#[test]
fn a_port_given_as_the_folder_is_a_usage_error_with_a_hint() {
    let empty = tempfile::tempdir().unwrap();
    let out = run(bin().current_dir(empty.path()).args(["serve", "8000"]));
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stderr.contains("hint: to listen on port 8000, use `-p 8000`"), "{}", out.stderr);
    // A folder that is really called 8000 is served.
    std::fs::create_dir(empty.path().join("8000")).unwrap();
    std::fs::write(empty.path().join("8000/hello.txt"), "hello world\n").unwrap();
    let srv =
        testkit::Proc::spawn(bin().current_dir(empty.path()).args(["serve", "8000", "-p", "0"]));
    let addr = srv.listening_addr();
    assert_eq!(exchange(&addr, &get("/hello.txt")).body, b"hello world\n");
    srv.stop();
}
