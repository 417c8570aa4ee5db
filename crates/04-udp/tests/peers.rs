//! Chapter 04 against programs nobody here wrote: Python's `socket` module, in the tutorial's
//! style, on both sides.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use testkit::{Proc, run};

fn udp() -> Command {
    Command::new(env!("CARGO_BIN_EXE_04-udp"))
}

/// The tutorial's client: 100 numbered messages, one recvfrom after each. (A timeout is added, so
/// a lost datagram fails the test instead of hanging it.)
const PYTHON_CLIENT: &str = r#"
import socket, sys
HOST, PORT = "127.0.0.1", int(sys.argv[1])
with socket.socket(type=socket.SOCK_DGRAM) as s:
    s.settimeout(5)
    for i in range(100):
        data = "message " + str(i)
        s.sendto(data.encode(), (HOST, PORT))
        data, address = s.recvfrom(1024)
        print(f"server replied {data.decode()}")
"#;

/// A UDP echo server in the tutorial's style, with our readiness line.
const PYTHON_SERVER: &str = r#"
import socket
with socket.socket(type=socket.SOCK_DGRAM) as s:
    s.bind(("127.0.0.1", 0))
    print(f"listening on 127.0.0.1:{s.getsockname()[1]}", flush=True)
    while True:
        data, address = s.recvfrom(65535)
        s.sendto(data, address)
"#;

fn port(addr: &str) -> &str {
    addr.rsplit(':').next().unwrap()
}

#[test]
fn the_tutorials_python_client_talks_to_our_over_server() {
    let srv = Proc::spawn(udp().args(["server", "--port", "0", "--reply", "over"]));
    let addr = srv.listening_addr();
    let out = run(Command::new("python3").args(["-c", PYTHON_CLIENT, port(&addr)]));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        out.stdout.lines().filter(|l| *l == "server replied over").count(),
        100,
        "{}",
        out.stdout
    );
    let done = srv.stop();
    assert!(done.stdout.contains("Received from 127.0.0.1:"), "{}", done.stdout);
    assert!(done.stderr.contains("100 datagrams"), "{}", done.stderr);
}

#[test]
fn our_client_talks_to_a_python_echo_server() {
    let python = Proc::spawn(Command::new("python3").args(["-c", PYTHON_SERVER]));
    let addr = python.listening_addr();
    let out = run(udp().args(["client", "--port", port(&addr)]));
    assert!(out.stdout.ends_with("100 sent, 100 answered\n"), "{out:?}");
    let out = run(udp().args([
        "client",
        "--port",
        port(&addr),
        "ping",
        "--count",
        "20",
        "--interval",
        "1",
    ]));
    assert!(out.stdout.contains("20 sent, 20 received, 0.0% loss"), "{out:?}");
    let out =
        run(udp().args(["client", "--port", port(&addr), "--connect", "messages", "--count", "5"]));
    assert!(out.stdout.ends_with("5 sent, 5 answered\n"), "{out:?}");
}
