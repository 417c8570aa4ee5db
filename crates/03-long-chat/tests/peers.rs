//! Chapter 03 against a peer nobody here wrote the framing for: a Python 3 client, written for
//! this test from the protocol's description (`struct` with `!`, network byte order), chats with
//! our Rust clients through the room.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use testkit::Proc;

mod support;
use support::chat;

/// A Python client: joins as `py`, says hello, answers PINGs, prints every frame as
/// `KIND text`; when alice says goodbye it says its own, half-closes, and reads until the
/// server closes.
const PYTHON_CLIENT: &str = r#"
import socket, struct, sys

TEXT, JOIN, LEAVE, NICK, LIST, ERROR, PING, PONG = range(1, 9)
NAMES = {1: "TEXT", 2: "JOIN", 3: "LEAVE", 4: "NICK", 5: "LIST", 6: "ERROR", 7: "PING", 8: "PONG"}
MAX_FRAME_LEN = 64 * 1024

def send_frame(sock, kind, text):
    body = text.encode("utf-8")
    # "!" is network byte order: the 4-byte length (kind + content), then the kind byte.
    sock.sendall(struct.pack("!IB", 1 + len(body), kind) + body)

def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None if not data else sys.exit(f"closed mid-frame ({len(data)} of {n})")
        data += chunk
    return data

def recv_frame(sock):
    header = recv_exact(sock, 5)
    if header is None:
        return None
    length, kind = struct.unpack("!IB", header)
    if not 1 <= length <= MAX_FRAME_LEN:
        sys.exit(f"bad length {length}")
    return kind, recv_exact(sock, length - 1).decode("utf-8")

sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
send_frame(sock, JOIN, "py")
send_frame(sock, TEXT, "hello from Python, ünïcode too")
while True:
    frame = recv_frame(sock)
    if frame is None:
        print("CLOSED", flush=True)
        break
    kind, text = frame
    print(NAMES.get(kind, kind), text, flush=True)
    if kind == PING:
        send_frame(sock, PONG, text)
    if kind == TEXT and text == "alice: bye, py":
        send_frame(sock, TEXT, "bye, alice")
        sock.shutdown(socket.SHUT_WR)
"#;

#[test]
fn a_python_client_chats_with_rust_clients() {
    let server = Proc::spawn(chat().args(["server", "--port", "0"]));
    let port = server.listening_addr().rsplit(':').next().unwrap().to_owned();
    let mut alice = Proc::spawn(
        chat()
            .args(["client", "--port", &port, "--name", "alice", "--no-history"])
            .stdin(Stdio::piped()),
    );
    let mut alice_keys = alice.take_stdin().unwrap();
    alice.expect_line("* you are alice");

    let python = Proc::spawn(Command::new("python3").args(["-c", PYTHON_CLIENT, &port]));
    assert_eq!(python.expect_line("JOIN "), "JOIN py");
    assert_eq!(python.expect_line("LIST "), "LIST alice py");
    alice.expect_line("* py joined");
    assert_eq!(alice.expect_line("py: "), "py: hello from Python, ünïcode too");

    alice_keys.write_all("héllo, python\nbye, py\n".as_bytes()).unwrap();
    assert_eq!(python.expect_line("TEXT "), "TEXT alice: héllo, python");
    assert_eq!(python.expect_line("TEXT "), "TEXT alice: bye, py");
    assert_eq!(alice.expect_line("py: "), "py: bye, alice");
    alice.expect_line("* py left");
    python.expect_line("CLOSED");
    assert!(python.finish().status.success());

    alice_keys.write_all(b"/quit\n").unwrap();
    assert!(alice.finish().status.success());
    server.stop();
}
