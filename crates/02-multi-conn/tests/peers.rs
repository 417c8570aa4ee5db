//! Chapter 02 against programs nobody here wrote: Python's `socket` and `selectors` modules,
//! in the tutorial's style, on both sides.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use testkit::{Proc, run};

fn multi() -> Command {
    Command::new(env!("CARGO_BIN_EXE_02-multi-conn"))
}

/// The tutorial's multi-connection client, condensed: `selectors`, non-blocking connects,
/// two messages per connection, each connection closed once its echo is back.
const PYTHON_CLIENT: &str = r#"
import selectors, socket, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
sel = selectors.DefaultSelector()
messages = [b"Message 1 from client.", b"Message 2 from client."]
for i in range(count):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.connect_ex(("127.0.0.1", port))
    data = {"id": i + 1, "out": b"".join(messages), "expect": sum(len(m) for m in messages), "got": b""}
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, data=data)
done = 0
while done < count:
    for key, mask in sel.select(timeout=10):
        s, data = key.fileobj, key.data
        if mask & selectors.EVENT_READ:
            chunk = s.recv(1024)
            data["got"] += chunk
            if not chunk or len(data["got"]) == data["expect"]:
                print(f"connection {data['id']} got {data['got']!r}")
                sel.unregister(s)
                s.close()
                done += 1
                continue
        if mask & selectors.EVENT_WRITE and data["out"]:
            sent = s.send(data["out"])
            data["out"] = data["out"][sent:]
"#;

/// The tutorial's `selectors` server, kept as the tutorial wrote it in one respect: it asks
/// for read *and* write readiness on every connection, all the time.
const PYTHON_SERVER: &str = r#"
import selectors, socket
sel = selectors.DefaultSelector()
lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
lsock.bind(("127.0.0.1", 0))
lsock.listen()
print(f"listening on 127.0.0.1:{lsock.getsockname()[1]}", flush=True)
lsock.setblocking(False)
sel.register(lsock, selectors.EVENT_READ, data=None)
while True:
    for key, mask in sel.select(timeout=None):
        if key.data is None:
            conn, addr = key.fileobj.accept()
            conn.setblocking(False)
            sel.register(conn, selectors.EVENT_READ | selectors.EVENT_WRITE, data={"outb": b""})
            continue
        sock, data = key.fileobj, key.data
        if mask & selectors.EVENT_READ:
            recv_data = sock.recv(1024)
            if recv_data:
                data["outb"] += recv_data
            else:
                sel.unregister(sock)
                sock.close()
                continue
        if mask & selectors.EVENT_WRITE and data["outb"]:
            sent = sock.send(data["outb"])
            data["outb"] = data["outb"][sent:]
"#;

#[test]
fn python_selectors_clients_talk_to_both_our_servers() {
    for mode in ["poll", "threads"] {
        let srv = Proc::spawn(multi().args(["server", "--port", "0", "--mode", mode]));
        let addr = srv.listening_addr();
        let port = addr.rsplit(':').next().unwrap();
        let out = run(Command::new("python3").args(["-c", PYTHON_CLIENT, port, "25"]));
        assert!(out.status.success(), "{mode}: {out:?}");
        let good = out
            .stdout
            .lines()
            .filter(|l| l.ends_with("got b'Message 1 from client.Message 2 from client.'"))
            .count();
        assert_eq!(good, 25, "{mode}: {}", out.stdout);
    }
}

#[test]
fn our_client_talks_to_the_tutorials_python_selectors_server() {
    let python = Proc::spawn(Command::new("python3").args(["-c", PYTHON_SERVER]));
    let addr = python.listening_addr();
    let port = addr.rsplit(':').next().unwrap();
    let out = run(multi().args(["client", "--port", port]));
    assert!(
        out.stdout.contains("2 connections, 4 messages, 88 bytes echoed and verified"),
        "{out:?}"
    );
    let out = run(multi().args([
        "client",
        "--port",
        port,
        "--connections",
        "50",
        "--messages",
        "4",
        "--size",
        "3000",
        "-q",
    ]));
    assert!(
        out.stdout.starts_with("50 connections, 200 messages, 600000 bytes echoed and verified"),
        "{out:?}"
    );
}
