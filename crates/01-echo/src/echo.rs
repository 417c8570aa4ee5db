//! The echo itself: chapter 01's recipe, which chapters 02, 03 and 05 call too.
//!
//! The tutorial's `while True` loop, on any connected stream socket (TCP or Unix-domain, it
//! works on anything that is [`Read`] and [`Write`]):
//!
//! 1. `recv(buf)` returns as soon as at least one byte is there, with as many as have arrived,
//!    up to the buffer's size: TCP is a byte stream, not a sequence of messages;
//! 2. `recv` returning 0 bytes means the peer closed its sending side: we are done;
//! 3. `sendall` hands every received byte back to the kernel, looping over short `send`s.

use std::io::{self, Read, Write};

use common::narrate;
use common::narrate::{Key, Narrator, Watch};
use common::step;

// ANCHOR: echo
/// recv → sendall until the peer closes (`recv` returns 0); returns the bytes echoed.
///
/// # Errors
/// The first failed `recv` or `send`, for instance a reset by the peer or a timeout
/// (`SO_RCVTIMEO`, `SO_SNDTIMEO`); see [`Tally`] to count what was echoed before it.
pub fn echo_until_closed<S: Read + Write + Watch>(
    conn: &mut S,
    buf: &mut [u8],
    n: Narrator,
) -> io::Result<u64> {
    // ANCHOR: echo_loop
    let mut echoed = 0;
    loop {
        // recv() returns whatever has arrived, from 1 byte up to buf.len(): TCP is a byte
        // stream, not a sequence of messages. 0 means the peer closed its sending side.
        step!(n, &*conn, "recv({})", buf.len());
        let received = match conn.read(buf) {
            Ok(0) => {
                narrate!(n, &*conn, "recv({}) -> 0 bytes (peer closed)", buf.len());
                return Ok(echoed);
            }
            Ok(received) => received,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        narrate!(n, &*conn, "recv({}) -> {received} bytes", buf.len());

        // sendall(): send() may take only part of the data when the socket's send buffer is
        // nearly full; write_all() loops until every byte is handed to the kernel.
        step!(n, &*conn, "sendall({received} bytes)");
        conn.write_all(&buf[..received])?;
        narrate!(n, &*conn, "sendall({received} bytes)");
        echoed += received as u64;
    }
    // ANCHOR_END: echo_loop
}
// ANCHOR_END: echo

/// A stream that counts the bytes each completed `sendall` (`write_all`) handed to the kernel,
/// so that a server's summary counts the echoes of a connection that ended in an error too
/// ([`echo_until_closed`] returns its count only when the peer closes).
#[derive(Debug)]
pub struct Tally<S> {
    stream: S,
    sent: u64,
}

impl<S> Tally<S> {
    /// Counts from zero what is sent through `stream`.
    pub fn new(stream: S) -> Self {
        Self { stream, sent: 0 }
    }

    /// Bytes of every `write_all` that completed.
    pub fn sent(&self) -> u64 {
        self.sent
    }
}

/// `--kernel` looks through the tally at the socket it counts (borrowed by the tally, as
/// chapter 01's session and chapter 02's threads do).
impl<S: Watch + ?Sized> Watch for Tally<&mut S> {
    fn key(&self) -> Option<Key> {
        self.stream.key()
    }
}

impl<S: Watch + ?Sized> Watch for Tally<&S> {
    fn key(&self) -> Option<Key> {
        self.stream.key()
    }
}

impl<S: Read> Read for Tally<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.read(buf)
    }
}

impl<S: Write> Write for Tally<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }

    /// Counted only once all of `buf` is sent, as `sendall` reports only then.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.stream.write_all(buf)?;
        self.sent += buf.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A peer in memory: what it "sent" is read from `incoming`, then a close, or an error.
    struct Peer {
        incoming: io::Cursor<Vec<u8>>,
        then_fail: bool,
        echoed: Vec<u8>,
    }

    impl Read for Peer {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.incoming.read(buf)? {
                0 if self.then_fail => Err(io::ErrorKind::ConnectionReset.into()),
                read => Ok(read),
            }
        }
    }

    impl Write for Peer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.echoed.write(buf)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// No descriptor, so nothing for `--kernel` to look up.
    impl Watch for Peer {
        fn key(&self) -> Option<Key> {
            None
        }
    }

    fn peer(sends: &[u8], then_fail: bool) -> Peer {
        Peer { incoming: io::Cursor::new(sends.to_vec()), then_fail, echoed: Vec::new() }
    }

    #[test]
    fn echoes_every_byte_until_the_peer_closes() {
        let mut conn = peer(b"more than one small buffer", false);
        let quiet = Narrator::new("test", false);
        let echoed = echo_until_closed(&mut conn, &mut [0; 4], quiet).expect("no error");
        assert_eq!(echoed, 26);
        assert_eq!(conn.echoed, b"more than one small buffer");
    }

    #[test]
    fn a_tally_keeps_the_count_when_the_connection_fails() {
        let mut peer = peer(b"abc", true);
        let mut conn = Tally::new(&mut peer);
        let quiet = Narrator::new("test", false);
        let err = echo_until_closed(&mut conn, &mut [0; 4], quiet).expect_err("reset");
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
        assert_eq!(conn.sent(), 3);
    }
}
