//! The `01-echo` binary over real sockets: readiness, echo, bulk, IPv6, Unix sockets,
//! narration, Ctrl-C, and the errors a student meets first.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use testkit::{Proc, run};

mod support;
use support::{echo, port_of, server};

#[test]
fn readiness_line_reports_the_real_port_and_ctrl_c_prints_a_summary() {
    let (srv, addr) = server(&["--port", "0"]);
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    assert_ne!(port_of(&addr), "0", "the line must carry the kernel-chosen port");

    let out = run(echo().args(["client", "--port", &port_of(&addr)]));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, "Received b'Hello, world'\n");

    let done = srv.stop();
    assert!(done.stdout.contains("Connected by 127.0.0.1:"), "{}", done.stdout);
    assert!(
        done.stderr.contains("server stopped: served 1 connection, echoed 12 B"),
        "{}",
        done.stderr
    );
}

#[test]
fn client_sends_each_stdin_line() {
    let (_srv, addr) = server(&["--port", "0"]);
    let mut client = Proc::spawn(
        echo()
            .args(["client", "--stdin", "--port", &port_of(&addr)])
            .stdin(std::process::Stdio::piped()),
    );
    let mut stdin = client.take_stdin().unwrap();
    stdin.write_all(b"first line\nsecond\ttab\n").unwrap();
    drop(stdin);
    let out = client.finish();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, "Received b'first line'\nReceived b'second\\ttab'\n");
}

#[test]
fn bulk_mode_verifies_100_mib() {
    let (_srv, addr) = server(&["--port", "0", "--buf-size", "64K"]);
    let out = run(echo().args(["client", "--bytes", "100M", "--port", &port_of(&addr)]));
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.starts_with("echoed and verified 100.0 MiB in "), "{}", out.stdout);
}

#[test]
fn round_trips_report_latency() {
    let (_srv, addr) = server(&["--port", "0"]);
    let out = run(echo().args(["client", "--round-trips", "200", "--port", &port_of(&addr)]));
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.starts_with("200 round trips of 16 bytes in "), "{}", out.stdout);
    assert!(out.stdout.contains("p99"), "{}", out.stdout);
}

#[test]
fn ipv6_loopback_works_like_ipv4() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        return testkit::skip("this machine has no IPv6 loopback (::1)");
    }
    let (_srv, addr) = server(&["--host", "::1", "--port", "0"]);
    assert!(addr.starts_with("[::1]:"), "{addr}");
    let port = port_of(&addr);
    let out = run(echo().args(["client", "--host", "::1", "--port", &port]));
    assert_eq!(out.stdout, "Received b'Hello, world'\n", "{out:?}");
    let out = run(echo().args(["client", "--host", "[::1]", "--port", &port, "--bytes", "8M"]));
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn trace_narrates_every_socket_call_in_order() {
    let (srv, addr) = server(&["--port", "0", "--trace"]);
    let out = run(echo().args(["client", "--trace", "--port", &port_of(&addr)]));
    assert!(out.status.success(), "{out:?}");
    for line in [
        "[client] socket(AF_INET, SOCK_STREAM) -> fd ",
        "[client] connect(127.0.0.1:",
        "[client] sendall(12 bytes)",
        "[client] recv(12) -> 12 bytes",
        "[client] close(fd ",
    ] {
        assert!(out.stderr.contains(line), "missing {line:?} in:\n{}", out.stderr);
    }
    let done = srv.stop();
    let expected = [
        "[server] socket(AF_INET, SOCK_STREAM) -> fd ",
        "[server] setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)",
        "[server] bind(127.0.0.1:0)",
        "[server] listen(backlog=128)",
        "[server] accept() -> fd ",
        "[server] recv(1024) -> 12 bytes",
        "[server] sendall(12 bytes)",
        "[server] recv(1024) -> 0 bytes (peer closed)",
        "[server] close(fd ",
    ];
    let mut rest = done.stderr.as_str();
    for line in expected {
        let at = rest
            .find(line)
            .unwrap_or_else(|| panic!("missing {line:?} (in order) in:\n{}", done.stderr));
        rest = &rest[at + line.len()..];
    }
}

#[test]
fn without_trace_nothing_is_narrated() {
    let (srv, addr) = server(&["--port", "0"]);
    let out = run(echo().args(["client", "--port", &port_of(&addr)]));
    assert_eq!(out.stderr, "", "a quiet client prints nothing on stderr");
    let done = srv.stop();
    assert!(!done.stderr.contains('['), "{}", done.stderr);
}

#[test]
fn serves_one_client_at_a_time() {
    let (_srv, addr) = server(&["--port", "0"]);
    let mut first = TcpStream::connect(&addr).unwrap();
    first.write_all(b"first").unwrap();
    let mut buf = [0u8; 5];
    first.read_exact(&mut buf).unwrap();

    // The second client's handshake completes (the kernel queues it: that is the backlog),
    // but nobody reads its bytes while the first client is being served.
    let mut second = TcpStream::connect(&addr).unwrap();
    second.write_all(b"second").unwrap();
    second.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut reply = [0u8; 6];
    // A read with a timeout (SO_RCVTIMEO) is not restarted after a signal, and other tests in
    // this process start and reap children all the time, so EINTR just means "ask again".
    let waited = loop {
        match second.read(&mut reply) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => break other.unwrap_err(),
        }
    };
    assert!(
        matches!(waited.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
        "the second client should wait, but its read said: {waited:?}"
    );

    // Once the first client leaves, the server accepts the second and echoes what was queued.
    drop(first);
    second.set_read_timeout(None).unwrap();
    second.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"second");
}

#[test]
fn ctrl_c_with_a_client_connected_still_stops_cleanly() {
    let (srv, addr) = server(&["--port", "0", "--trace"]);
    let mut idle = TcpStream::connect(&addr).unwrap();
    idle.write_all(b"x").unwrap();
    let mut buf = [0u8; 1];
    idle.read_exact(&mut buf).unwrap(); // The server is now blocked in recv() on us.
    let done = srv.stop();
    assert!(done.stderr.contains("served 1 connection"), "{}", done.stderr);
    assert!(
        done.stderr.contains("SHUT_RDWR) (stopping: wakes our blocked recv)"),
        "{}",
        done.stderr
    );
    // The server closed its side: we read end-of-stream.
    assert_eq!(idle.read(&mut buf).unwrap_or(0), 0);
}

#[test]
fn an_idle_ctrl_c_leaves_no_time_wait_on_the_port() {
    // Stopping wakes accept() with a connection to ourselves; it is closed abortively (RST), so
    // even a server without SO_REUSEADDR can restart on the same port at once. Repeated,
    // because whether a normal close would leave TIME_WAIT here is a race.
    let (srv, addr) = server(&["--port", "0", "--no-reuseaddr"]);
    let port = port_of(&addr);
    srv.stop();
    for _ in 0..10 {
        let (srv, _) = server(&["--port", &port, "--no-reuseaddr"]);
        srv.stop();
    }
}

#[test]
fn bulk_trace_summarises_the_calls_and_the_close() {
    let (_srv, addr) = server(&["--port", "0"]);
    let out = run(echo().args(["client", "--trace", "--bytes", "4M", "--port", &port_of(&addr)]));
    assert!(out.status.success(), "{out:?}");
    for line in [
        "[client] sendall(262144) x 16: 4194304 bytes sent",
        "[client] shutdown(fd ",
        ", SHUT_WR)",
        "4194304 bytes received and checked",
        "[client] close(fd ",
    ] {
        assert!(out.stderr.contains(line), "missing {line:?} in:\n{}", out.stderr);
    }
}

#[cfg(target_os = "linux")]
#[test]
fn trace_says_when_somaxconn_caps_the_backlog() {
    let somaxconn: i32 =
        std::fs::read_to_string("/proc/sys/net/core/somaxconn").unwrap().trim().parse().unwrap();
    let (srv, _) = server(&["--port", "0", "--backlog", "65535", "--trace"]);
    let done = srv.stop();
    if somaxconn < 65535 {
        let expected =
            format!("listen(backlog=65535) (the kernel caps it at somaxconn = {somaxconn})");
        assert!(done.stderr.contains(&expected), "{}", done.stderr);
    }
}

#[test]
fn demo_runs_narrated_and_exits_zero() {
    let out = run(echo().arg("demo"));
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.starts_with("listening on 127.0.0.1:"), "{}", out.stdout);
    assert!(out.stdout.contains("client A: Received b'Hello, world'"), "{}", out.stdout);
    assert!(out.stdout.contains("client B: Received b'Hello again"), "{}", out.stdout);
    assert!(out.stderr.contains("[server] listen(backlog=128)"), "{}", out.stderr);
    // Client B is accepted only after client A closed: one client at a time.
    let a_closes = out.stderr.find("[client A] close(").expect("A closes");
    let b_accepted = out.stderr.rfind("[server] accept() -> ").expect("B accepted");
    assert!(a_closes < b_accepted, "{}", out.stderr);
    assert!(out.stderr.contains("[demo] client B is connected, but waits"), "{}", out.stderr);
    // B half-closes and waits for the server's close, so stopping interrupts no connection.
    assert!(
        out.stderr.contains("[client B] recv(1) -> 0 bytes (the server closed)"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("SHUT_RDWR"), "{}", out.stderr);
    assert!(out.stderr.contains("server stopped: served 2 connections"), "{}", out.stderr);
}

#[test]
fn help_teaches_the_two_terminal_recipe() {
    let out = run(echo().arg("--help"));
    assert!(out.status.success());
    assert!(out.stdout.contains("01-echo server"), "{}", out.stdout);
    assert!(out.stdout.contains("01-echo client"), "{}", out.stdout);
    let out = run(echo().args(["server", "--help"]));
    assert!(out.stdout.contains("--no-reuseaddr"), "{}", out.stdout);
    assert!(out.stdout.contains("[default: 65432]"), "{}", out.stdout);
}

/// Tries to connect to `addr`; the port is not listening, so the kernel answers RST.
fn closed_port() -> String {
    // A socket that is bound but not listening owns the port, so no one else can take it, and
    // a connect() to it is refused.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&"127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap().into()).unwrap();
    let port = socket.local_addr().unwrap().as_socket().unwrap().port();
    std::mem::forget(socket); // Held for the rest of the test process.
    port.to_string()
}

#[test]
fn connection_refused_explains_itself() {
    let port = closed_port();
    let out = run(echo().args(["client", "--port", &port]));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.starts_with(&format!(
            "error: could not connect to 127.0.0.1:{port}: Connection refused"
        )),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("hint: nothing is listening there"), "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"));
}

#[test]
fn address_in_use_explains_itself() {
    let (_srv, addr) = server(&["--port", "0"]);
    let out = run(echo().args(["server", "--port", &port_of(&addr)]));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.contains(&format!("error: could not bind {addr}: Address already in use")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("hint: another socket is bound to that address and port"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_address_of_no_interface_cannot_be_bound() {
    // 203.0.113.1 is reserved for documentation (RFC 5737, TEST-NET-3): no machine has it, and bind() fails
    // before any packet is sent.
    let out = run(echo().args(["server", "--host", "203.0.113.1", "--port", "0"]));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("Cannot assign requested address"), "{}", out.stderr);
    assert!(out.stderr.contains("hint: no network interface"), "{}", out.stderr);
}

#[test]
fn unknown_host_names_the_host() {
    let out = run(echo().args(["client", "--host", "no-such-host.invalid"]));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.starts_with("error: could not resolve host \"no-such-host.invalid\""),
        "{}",
        out.stderr
    );
}

#[test]
fn usage_mistakes_exit_2_without_a_backtrace() {
    for args in [
        &["client", "--bytes", "ten"][..],
        &["server", "--buf-size", "0"],
        &["server", "--port", "70000"],
        &["client", "--stdin", "--bytes", "1M"],
        &["client", "--size", "8"],
        &["server", "--unix", "/tmp/x.sock", "--port", "1"],
        &["serve"],
    ] {
        let out = run(echo().args(args));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(out.stderr.starts_with("error: "), "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{args:?}");
    }
}

/// Starts a server, connects a client, and stops the server with Ctrl-C while the client is
/// connected: the server closes first, so *its* side of the connection enters TIME_WAIT and
/// holds the port for a minute or so. Returns the port.
fn leave_time_wait(server_args: &[&str]) -> String {
    let (srv, addr) = server(server_args);
    let mut client = TcpStream::connect(&addr).unwrap();
    client.write_all(b"x").unwrap();
    let mut buf = [0u8; 1];
    client.read_exact(&mut buf).unwrap();
    srv.stop();
    assert_eq!(client.read(&mut buf).unwrap(), 0, "the server closed first");
    port_of(&addr)
}

#[test]
fn without_reuseaddr_a_restart_hits_time_wait() {
    let port = leave_time_wait(&["--port", "0"]);

    let again = run(echo().args(["server", "--port", &port, "--no-reuseaddr"]));
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    assert!(again.stderr.contains("Address already in use"), "{}", again.stderr);
    assert!(again.stderr.contains("TIME_WAIT"), "the hint names the cause: {}", again.stderr);

    // With SO_REUSEADDR (the default) the same port binds at once.
    let (_srv, addr) = server(&["--port", &port]);
    assert!(addr.ends_with(&format!(":{port}")));
}

#[cfg(target_os = "linux")]
#[test]
fn on_linux_the_old_socket_needs_reuseaddr_too() {
    // The TIME_WAIT socket inherits SO_REUSEADDR from the listener that accepted it. Linux lets
    // a new bind through only when both the old and the new socket set it.
    let port = leave_time_wait(&["--port", "0", "--no-reuseaddr"]);
    let again = run(echo().args(["server", "--port", &port]));
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    assert!(again.stderr.contains("Address already in use"), "{}", again.stderr);
}

#[cfg(unix)]
mod unix_socket {
    use super::*;
    use std::os::unix::net::{UnixListener, UnixStream};

    /// A fresh folder for one test's socket files, removed when the test ends.
    fn folder() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn echo_and_bulk_over_a_unix_socket_then_the_file_is_removed() {
        let dir = folder();
        let path = dir.path().join("echo.sock");
        let p = path.to_str().unwrap();
        let (srv, addr) = server(&["--unix", p]);
        assert_eq!(addr, format!("unix:{p}"));
        let out = run(echo().args(["client", "--unix", p, "--message", "over AF_UNIX"]));
        assert_eq!(out.stdout, "Received b'over AF_UNIX'\n", "{out:?}");
        let out = run(echo().args(["client", "--unix", p, "--bytes", "16M"]));
        assert!(out.status.success(), "{out:?}");
        let done = srv.stop();
        assert!(done.stdout.contains("Connected by an unnamed unix socket"), "{}", done.stdout);
        assert!(!path.exists(), "the server removes its socket file on exit");
    }

    #[test]
    fn a_stale_socket_file_is_replaced_with_a_message() {
        let dir = folder();
        let path = dir.path().join("stale.sock");
        drop(UnixListener::bind(&path).unwrap()); // Leaves the file, like a crashed server.
        assert!(path.exists());
        let (srv, _addr) = server(&["--unix", path.to_str().unwrap()]);
        UnixStream::connect(&path).unwrap();
        let done = srv.stop();
        assert!(done.stderr.contains("removed stale socket file"), "{}", done.stderr);
    }

    #[test]
    fn a_live_socket_or_a_plain_file_is_left_alone() {
        let dir = folder();
        let live = dir.path().join("live.sock");
        let _holder = UnixListener::bind(&live).unwrap();
        let out = run(echo().args(["server", "--unix", live.to_str().unwrap()]));
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(out.stderr.contains("another server is already listening on"), "{}", out.stderr);

        let plain = dir.path().join("notes.txt");
        std::fs::write(&plain, "keep me").unwrap();
        let out = run(echo().args(["server", "--unix", plain.to_str().unwrap()]));
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(out.stderr.contains("exists and is not a socket"), "{}", out.stderr);
        assert_eq!(std::fs::read_to_string(&plain).unwrap(), "keep me");
    }

    #[test]
    fn a_socket_path_that_is_too_long_is_refused_clearly() {
        let dir = folder();
        let path = dir.path().join("x".repeat(120));
        let out = run(echo().args(["server", "--unix", path.to_str().unwrap()]));
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(
            out.stderr.contains("is not a usable socket path (at most 107 bytes"),
            "{}",
            out.stderr
        );
    }

    #[test]
    fn client_without_a_server_explains_itself() {
        let dir = folder();
        let path = dir.path().join("nobody.sock");
        let out = run(echo().args(["client", "--unix", path.to_str().unwrap()]));
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(out.stderr.contains("No such file or directory"), "{}", out.stderr);
        assert!(out.stderr.contains("hint: nothing exists at that path"), "{}", out.stderr);
    }

    /// The same ENOENT from bind() means a missing folder, not a missing server.
    #[test]
    fn a_server_whose_folder_is_missing_is_told_about_the_folder() {
        let dir = folder();
        let path = dir.path().join("no-such-folder").join("echo.sock");
        let out = run(echo().args(["server", "--unix", path.to_str().unwrap()]));
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(out.stderr.contains("No such file or directory"), "{}", out.stderr);
        assert!(out.stderr.contains("hint: the folder for the socket file"), "{}", out.stderr);
        assert!(!out.stderr.contains("start the server"), "{}", out.stderr);
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_privileged_port_explains_itself() {
    // Tests run as root here, and root may bind port 80; so this test drops to user `nobody`
    // for one run with setpriv(1). Where that is not possible, it says why and passes.
    let unprivileged_start =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
            .ok()
            .and_then(|text| text.trim().parse::<u16>().ok())
            .unwrap_or(1024);
    let root = run(Command::new("id").arg("-u")).stdout.trim() == "0";
    if !root || unprivileged_start <= 80 {
        return testkit::skip("needs root (to drop to nobody) and port 80 to be privileged");
    }
    let out = run(Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_01-echo"))
        .args(["server", "--port", "80"]));
    if !out.stderr.starts_with("error: could not bind") {
        return testkit::skip(&format!("could not run the binary as nobody: {}", out.stderr));
    }
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.contains("could not bind 127.0.0.1:80: Permission denied"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("hint: the kernel refused: ports below 1024 need root"),
        "{}",
        out.stderr
    );
}

/// Out of file descriptors, `accept()` fails with EMFILE for as long as the shortage lasts. The
/// server pauses between tries (common::accept), says so once, and serves the waiting client
/// when descriptors free up (here: the limit is raised back).
#[cfg(target_os = "linux")]
#[test]
fn out_of_descriptors_the_server_pauses_quietly_and_serves_again() {
    let (proc, addr) = server(&["--port", "0"]);
    let limit = testkit::limit_open_files(proc.pid(), 0);
    let clients = testkit::assert_idle_while_out_of_descriptors(&proc, &addr, 1);
    testkit::set_open_files_limit(proc.pid(), limit + 16);
    let mut client = &clients[0];
    client.set_read_timeout(Some(testkit::PATIENCE)).unwrap();
    client.write_all(b"ping").unwrap();
    let mut echo = [0u8; 4];
    client.read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"ping");
    proc.stop();
}
