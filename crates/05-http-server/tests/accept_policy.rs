//! Out of file descriptors, both servers pause accepting (common::accept) instead of retrying
//! at once: they use next to no CPU, say so once, and serve again when descriptors free up.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]
#![cfg(target_os = "linux")]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

use testkit::{PATIENCE, Proc};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_05-http-server"))
}

/// Sends one GET on `stream` and returns the status line.
fn status_line(mut stream: &TcpStream) -> String {
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    String::from_utf8_lossy(&reply).lines().next().unwrap_or_default().to_owned()
}

#[test]
fn serve_out_of_descriptors_pauses_and_serves_again_once_descriptors_free_up() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("index.html"), "hi\n").unwrap();
    let server = Proc::spawn(bin().arg("serve").arg(root.path()).args(["--port", "0"]));
    let addr = server.listening_addr();
    // Room for a few connections; the other clients find accept() failing with EMFILE.
    let limit = testkit::limit_open_files(server.pid(), 3);
    let clients = testkit::assert_idle_while_out_of_descriptors(&server, &addr, 12);
    drop(clients);
    // The queued clients' connections are accepted and closed by their own threads while our
    // next request is served, and that request also opens a file: with only 3 descriptors to
    // spare it could meet EMFILE again (a 500). Give descriptors back, as an operator would.
    testkit::set_open_files_limit(server.pid(), limit + 16);
    assert_eq!(status_line(&TcpStream::connect(&addr).unwrap()), "HTTP/1.1 200 OK");
    server.stop();
}

#[test]
fn hello_out_of_descriptors_pauses_and_serves_again_once_descriptors_free_up() {
    let server = Proc::spawn(bin().args(["hello", "--port", "0"]));
    let addr = server.listening_addr();
    // One client at a time: with no room at all, even the first accept() fails.
    let limit = testkit::limit_open_files(server.pid(), 0);
    let clients = testkit::assert_idle_while_out_of_descriptors(&server, &addr, 1);
    testkit::set_open_files_limit(server.pid(), limit + 16);
    assert_eq!(status_line(&clients[0]), "HTTP/1.1 200 OK");
    server.stop();
}
