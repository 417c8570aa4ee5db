//! The tutorial's response loop, kept on purpose so the book and the demo can show it failing.
//!
//! The tutorial's client read a response like this: call `recv(1024)` until one call returns
//! fewer than 1024 bytes, and take that as the end. It confuses "what has arrived so far" with
//! "the whole response". `recv` returns as soon as *some* bytes are in the socket's receive
//! buffer, so:
//!
//! - a response that arrives in pieces (a slow server, a busy network, a body larger than one
//!   TCP segment) looks finished after the first piece: the rest is silently lost;
//! - a response whose length is an exact multiple of 1024 never produces a short read, so the
//!   loop calls `recv` once more and waits for bytes that will never come, because a
//!   keep-alive server leaves the connection open: it hangs.
//!
//! [`crate::response`] does it right, by the response's own framing. Do not copy this one.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// How the tutorial's loop ended.
#[derive(Debug, PartialEq, Eq)]
pub enum TutorialOutcome {
    /// A short read ended the loop; these are the bytes it had by then.
    Stopped(Vec<u8>),
    /// `recv` blocked until `patience` ran out: without a timeout, it would wait forever.
    Hung(Vec<u8>),
}

// ANCHOR: recv_until_short
/// WRONG, on purpose: the tutorial's "read until a recv returns less than 1024 bytes".
///
/// `patience` is the read timeout that turns the tutorial's endless wait into something a demo
/// can report.
///
/// # Errors
/// When the request cannot be sent or a read fails for another reason than the timeout.
pub fn recv_until_short(
    stream: &mut TcpStream,
    request: &[u8],
    patience: Duration,
) -> io::Result<TutorialOutcome> {
    stream.set_read_timeout(Some(patience))?;
    stream.write_all(request)?;
    let mut response = Vec::new();
    loop {
        let mut chunk = [0u8; 1024];
        let n = match stream.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if common::timeout::is_timeout(&e) => {
                return Ok(TutorialOutcome::Hung(response));
            }
            Err(e) => return Err(e),
        };
        response.extend_from_slice(&chunk[..n]);
        if n < 1024 {
            // The tutorial's mistake: a short read means "nothing more right now", not "the end".
            return Ok(TutorialOutcome::Stopped(response));
        }
    }
}
// ANCHOR_END: recv_until_short
