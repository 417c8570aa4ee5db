//! Peers that misbehave: the server must survive each one and serve the next client.
//!
//! An echo server has no message format to break, so "hostile" here means the ways a TCP peer
//! can behave badly: vanish at once, reset mid-stream, trickle, go silent, or send without ever
//! reading. Chapter 01 serves one client at a time, so the last two would hold it forever; its
//! `--timeout` is what lets the next client in.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use socket2::{Domain, Socket, Type};
use testkit::Proc;

mod support;

/// Starts `01-echo server ARGS`; these tests talk to it with raw sockets, so they want an address.
fn server(args: &[&str]) -> (Proc, SocketAddr) {
    let (proc, addr) = support::server(args);
    (proc, addr.parse().unwrap())
}

/// A well-behaved client gets its echo: the server is alive and free.
fn assert_still_serves(addr: SocketAddr) {
    let mut client = TcpStream::connect(addr).unwrap();
    client.set_read_timeout(Some(testkit::PATIENCE)).unwrap();
    client.write_all(b"still there?").unwrap();
    let mut reply = [0u8; 12];
    client.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"still there?");
}

#[test]
fn clients_that_connect_and_vanish() {
    let (_srv, addr) = server(&["--port", "0"]);
    for _ in 0..50 {
        drop(TcpStream::connect(addr).unwrap());
    }
    assert_still_serves(addr);
}

#[test]
fn a_client_that_resets_mid_stream() {
    let (srv, addr) = server(&["--port", "0"]);
    for _ in 0..5 {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        socket.connect(&addr.into()).unwrap();
        socket.send(&[7u8; 64 * 1024]).unwrap();
        // SO_LINGER with a zero timeout turns close() into an abortive close: the kernel
        // discards unsent data and sends RST instead of FIN.
        socket.set_linger(Some(Duration::ZERO)).unwrap();
        drop(socket);
    }
    assert_still_serves(addr);
    let done = srv.stop();
    assert!(!done.stderr.contains("panicked"), "{}", done.stderr);
}

#[test]
fn a_client_that_sends_but_never_reads_is_dropped_after_the_timeout() {
    let (srv, addr) = server(&["--port", "0", "--timeout", "1"]);
    let mut flooder = TcpStream::connect(addr).unwrap();
    flooder.set_write_timeout(Some(testkit::PATIENCE)).unwrap();
    let flood = thread::spawn(move || {
        // Both directions' buffers fill, the server blocks in sendall, and after --timeout it
        // gives up on us; our next write then fails. Bounded at 1 GiB in any case.
        let chunk = vec![1u8; 64 * 1024];
        for _ in 0..16 * 1024 {
            if flooder.write_all(&chunk).is_err() {
                return true;
            }
        }
        false
    });
    assert_still_serves(addr);
    assert!(flood.join().unwrap(), "the flooder was cut off");
    let done = srv.stop();
    assert!(done.stderr.contains("no progress for 1 s (--timeout), closed it"), "{}", done.stderr);
}

#[test]
fn a_silent_client_is_dropped_after_the_timeout() {
    let (srv, addr) = server(&["--port", "0", "--timeout", "1"]);
    let mut silent = TcpStream::connect(addr).unwrap();
    assert_still_serves(addr); // Waits in the queue until the silent one is dropped.
    let mut buf = [0u8; 1];
    assert_eq!(silent.read(&mut buf).unwrap_or(0), 0, "the server closed the silent one");
    assert!(srv.stop().stderr.contains("no progress for 1 s"));
}

#[test]
fn a_trickling_client_gets_every_byte_back() {
    let (_srv, addr) = server(&["--port", "0"]);
    let mut client = TcpStream::connect(addr).unwrap();
    client.set_nodelay(true).unwrap();
    let message = b"one byte at a time";
    for byte in message {
        client.write_all(&[*byte]).unwrap();
    }
    let mut reply = vec![0u8; message.len()];
    client.read_exact(&mut reply).unwrap();
    assert_eq!(reply, message);
}

#[test]
fn every_byte_value_and_a_large_write_echo_exactly() {
    let (_srv, addr) = server(&["--port", "0"]);
    let mut client = TcpStream::connect(addr).unwrap();
    let mut message: Vec<u8> = (0..=255).collect();
    message.extend((0..1 << 20).map(|i: u32| (i % 253) as u8));
    let mut writer = client.try_clone().unwrap();
    let expected = message.clone();
    let sending = thread::spawn(move || {
        writer.write_all(&message).unwrap();
        // Half-close: we are done sending, but still reading the echo.
        writer.shutdown(Shutdown::Write).unwrap();
    });
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).unwrap(); // Ends when the server closes after our FIN.
    sending.join().unwrap();
    assert_eq!(reply, expected);
}
