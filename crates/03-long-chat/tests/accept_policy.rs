//! Out of file descriptors, both chat servers pause accepting (common::accept) instead of
//! retrying at once: they use next to no CPU, say so once, and serve again afterwards.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]
#![cfg(target_os = "linux")]

use std::io::Write;
use std::net::TcpStream;
use std::process::Stdio;

use ch03_long_chat::connection::Connection;
use ch03_long_chat::frame::{Frame, Kind};
use testkit::{PATIENCE, Proc};

mod support;
use support::chat;

/// JOINs on `stream` and returns the first frame the server answers with.
fn join(stream: &TcpStream, name: &str) -> Frame {
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    (&*stream).write_all(&Frame::new(Kind::Join, name).to_bytes()).unwrap();
    Connection::new(stream).read_frame().unwrap().unwrap()
}

#[test]
fn room_out_of_descriptors_pauses_and_serves_again_once_connections_close() {
    let server = Proc::spawn(chat().args(["server", "--port", "0"]));
    let addr = server.listening_addr();
    testkit::limit_open_files(server.pid(), 3);
    let clients = testkit::assert_idle_while_out_of_descriptors(&server, &addr, 12);
    drop(clients);
    let alice = TcpStream::connect(&addr).unwrap();
    assert_eq!(join(&alice, "alice"), Frame::new(Kind::Join, "alice"));
    server.stop();
}

#[test]
fn one_to_one_out_of_descriptors_pauses_and_serves_again_once_descriptors_free_up() {
    let mut server = Proc::spawn(
        chat()
            .args(["server", "--port", "0", "--one-to-one", "--name", "op", "--no-history"])
            .stdin(Stdio::piped()),
    );
    let _operator = server.take_stdin().unwrap();
    let addr = server.listening_addr();
    let limit = testkit::limit_open_files(server.pid(), 0);
    let clients = testkit::assert_idle_while_out_of_descriptors(&server, &addr, 1);
    testkit::set_open_files_limit(server.pid(), limit + 16);
    assert_eq!(join(&clients[0], "alice").kind, Kind::Join);
    drop(clients); // Alice leaves, so the stop has nobody to say goodbye to.
    server.stop();
}
