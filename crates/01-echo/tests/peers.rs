//! Chapter 01 against programs nobody here wrote: Python's `socket` module, in the
//! tutorial's own style, on both sides of the connection.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use testkit::{Proc, run};

mod support;
use support::{echo, server as our_server};

/// The tutorial's client, nearly verbatim: one sendall, one recv(1024).
const PYTHON_CLIENT: &str = r#"
import socket, sys
HOST, PORT = sys.argv[1], int(sys.argv[2])
with socket.socket(socket.AF_INET6 if ":" in HOST else socket.AF_INET, socket.SOCK_STREAM) as s:
    s.connect((HOST, PORT))
    s.sendall(b"Hello, world")
    data = s.recv(1024)
print(f"Received {data!r}")
"#;

/// The tutorial's server, serving one client after another until killed. It prints our
/// readiness line so the test can wait for it.
const PYTHON_SERVER: &str = r#"
import socket
with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen()
    print(f"listening on 127.0.0.1:{s.getsockname()[1]}", flush=True)
    while True:
        conn, addr = s.accept()
        with conn:
            while True:
                data = conn.recv(1024)
                if not data:
                    break
                conn.sendall(data)
"#;

#[test]
fn python_tutorial_client_talks_to_our_server() {
    let (srv, addr) = our_server(&["--port", "0"]);
    let port = addr.rsplit(':').next().unwrap();
    let out = run(Command::new("python3").args(["-c", PYTHON_CLIENT, "127.0.0.1", port]));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, "Received b'Hello, world'\n");
    assert!(srv.stop().stderr.contains("echoed 12 B"));
}

#[test]
fn python_tutorial_client_over_ipv6() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        return testkit::skip("this machine has no IPv6 loopback (::1)");
    }
    let (_srv, addr) = our_server(&["--host", "::1", "--port", "0"]);
    let port = addr.rsplit(':').next().unwrap();
    let out = run(Command::new("python3").args(["-c", PYTHON_CLIENT, "::1", port]));
    assert_eq!(out.stdout, "Received b'Hello, world'\n", "{out:?}");
}

#[cfg(unix)]
#[test]
fn python_unix_socket_client_talks_to_our_server() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("echo.sock");
    let (_srv, _addr) = our_server(&["--unix", path.to_str().unwrap()]);
    let script = r#"
import socket, sys
with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
    s.connect(sys.argv[1])
    s.sendall(b"local only")
    data = b""
    while len(data) < 10:
        data += s.recv(1024)
print(f"Received {data!r}")
"#;
    let out = run(Command::new("python3").args(["-c", script, path.to_str().unwrap()]));
    assert_eq!(out.stdout, "Received b'local only'\n", "{out:?}");
}

#[test]
fn our_client_talks_to_the_python_tutorial_server() {
    let python = Proc::spawn(Command::new("python3").args(["-c", PYTHON_SERVER]));
    let addr = python.listening_addr();
    let port = addr.rsplit(':').next().unwrap();

    let out = run(echo().args(["client", "--port", port]));
    assert_eq!(out.stdout, "Received b'Hello, world'\n", "{out:?}");

    // 10 MiB through a server that reads 1024 bytes at a time: the echo arrives in pieces of
    // every size, and the client still verifies every byte.
    let out = run(echo().args(["client", "--port", port, "--bytes", "10M"]));
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.starts_with("echoed and verified 10.0 MiB"), "{}", out.stdout);
}
