//! The tutorial's Python server, as the book shows it (`docs/src/python/05-hello-server.py`),
//! run for real: its two quiet bugs are what the page says they are, and `hello` has neither.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

use testkit::{Proc, run};

/// Sends a GET and reads until the server closes (or resets): the raw response bytes.
fn raw_get(addr: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut response = Vec::new();
    let mut chunk = [0u8; 4096];
    // A reset after the bytes (bug 2) ends the read as an error; the bytes before it count.
    while let Ok(n @ 1..) = stream.read(&mut chunk) {
        response.extend_from_slice(&chunk[..n]);
    }
    response
}

fn body(response: &[u8]) -> &[u8] {
    let end = response.windows(4).position(|w| w == b"\r\n\r\n").expect("a head");
    &response[end + 4..]
}

#[test]
fn the_tutorials_server_sends_13_body_bytes_for_a_content_length_of_11() {
    let script = testkit::workspace_root().join("docs/src/python/05-hello-server.py");
    let python = Proc::spawn(Command::new("python3").arg(&script).arg("0"));
    let addr = python.listening_addr();

    let response = raw_get(&addr);
    assert!(response.starts_with(b"HTTP/1.1 200 OK\r\n"), "{response:?}");
    assert!(String::from_utf8_lossy(&response).contains("Content-Length: 11\r\n"));
    assert_eq!(body(&response), b"hello world\r\n", "bug 1: the body is 13 bytes");

    // curl reads 11 bytes and reports the 2 it did not expect.
    let curl = run(Command::new("curl").args(["-sv", &format!("http://{addr}/")]));
    assert_eq!(curl.stdout.trim_end(), "hello world");
    assert!(curl.stderr.contains("Excess found"), "curl did not see the excess:\n{}", curl.stderr);

    // The chapter's `hello` sends what it announces.
    let hello = Proc::spawn(
        Command::new(env!("CARGO_BIN_EXE_05-http-server")).args(["hello", "--port", "0"]),
    );
    assert_eq!(body(&raw_get(&hello.listening_addr())), b"hello world");
}
