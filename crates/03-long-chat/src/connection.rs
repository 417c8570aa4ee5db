//! Frames over a blocking socket: [`Connection`] reads them, [`FrameWriter`] sends them.
//!
//! The client and the one-to-one server give each direction a thread of its own and block in
//! `recv` and `send`, so they need the [`Decoder`] wrapped in a loop that calls `recv` until a
//! whole frame is in, and a writer that several threads can share without mixing up the bytes
//! of two frames. (The room server's event loop feeds its decoders itself, in `room.rs`.)

use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use common::narrate;
use common::narrate::Narrator;
use common::step;

use crate::frame::{Decoder, Frame, FrameError};

/// Why [`Connection::read_frame`] could not return a frame.
#[derive(Debug)]
pub enum ReadError {
    /// The socket failed (a reset, a timeout, ...).
    Io(io::Error),
    /// The peer sent a bad frame.
    Frame(FrameError),
    /// The peer closed the connection in the middle of a frame.
    Truncated {
        /// Bytes of the frame that arrived.
        have: usize,
        /// Bytes the frame should have had (prefix included).
        want: usize,
    },
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "{e}"),
            ReadError::Frame(e) => write!(f, "{e}"),
            ReadError::Truncated { have, want } => write!(
                f,
                "the peer closed the connection in the middle of a frame ({have} of {want} bytes)"
            ),
        }
    }
}

impl std::error::Error for ReadError {}

impl ReadError {
    /// Is this a read timeout (`SO_RCVTIMEO` fired: nothing arrived in time), after which
    /// reading can go on?
    pub fn is_timeout(&self) -> bool {
        matches!(self, ReadError::Io(e) if common::timeout::is_timeout(e))
    }
}

/// A [`Decoder`] over a blocking reader (a `TcpStream`, or `&TcpStream`): one call, one frame.
#[derive(Debug)]
pub struct Connection<R> {
    reader: R,
    decoder: Decoder,
}

impl<R: Read> Connection<R> {
    /// Frames from `reader`.
    pub fn new(reader: R) -> Self {
        Self { reader, decoder: Decoder::new() }
    }

    // ANCHOR: read_frame
    /// The next frame; `Ok(None)` when the peer closed the connection between frames.
    /// A read timeout set on the socket surfaces as an error for which
    /// [`ReadError::is_timeout`] is true; the partial frame stays buffered, so calling again
    /// carries on where it stopped.
    ///
    /// # Errors
    /// [`ReadError`]: the socket's error, a bad frame, or a close in the middle of a frame.
    pub fn read_frame(&mut self) -> Result<Option<Frame>, ReadError> {
        loop {
            if let Some(frame) = self.decoder.next_frame().map_err(ReadError::Frame)? {
                return Ok(Some(frame));
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }
    // ANCHOR_END: read_frame

    // ANCHOR: fill
    /// One `recv` into the decoder: `true` when bytes arrived, `false` when the peer closed
    /// between frames.
    fn fill(&mut self) -> Result<bool, ReadError> {
        loop {
            match self.decoder.read_from(&mut self.reader) {
                // recv() returning 0: the peer closed its sending side. Between frames that
                // is a goodbye; inside one, the frame is lost and we say so.
                Ok(0) => {
                    return match self.decoder.unfinished() {
                        None => Ok(false),
                        Some((have, want)) => Err(ReadError::Truncated { have, want }),
                    };
                }
                Ok(_) => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ReadError::Io(e)),
            }
        }
    }
    // ANCHOR_END: fill

    /// The reader underneath.
    pub fn get_ref(&self) -> &R {
        &self.reader
    }
}

/// A socket whose reads can time out: what [`Connection::read_frame_before`] needs.
pub trait TimedRead: Read {
    /// Sets the read timeout (`SO_RCVTIMEO`).
    ///
    /// # Errors
    /// The socket's error.
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
}

impl TimedRead for TcpStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
}

impl TimedRead for &TcpStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
}

impl<R: TimedRead> Connection<R> {
    // ANCHOR: deadline
    /// Like [`Connection::read_frame`], but gives up at `deadline` however the bytes arrive.
    ///
    /// A read timeout alone is not a deadline: it restarts with every `recv`, so a peer that
    /// sends one byte of a frame just before each timeout would keep us waiting for ever. Here
    /// each `recv` may only wait for what is left of the time. Only a whole frame is returned,
    /// so a caller that counts frames as signs of life cannot be fooled by a trickle. On a
    /// timeout ([`ReadError::is_timeout`]) the partial frame stays buffered for the next call.
    ///
    /// # Errors
    /// As [`Connection::read_frame`], and a `TimedOut` error once `deadline` has passed.
    pub fn read_frame_before(&mut self, deadline: Instant) -> Result<Option<Frame>, ReadError> {
        loop {
            if let Some(frame) = self.decoder.next_frame().map_err(ReadError::Frame)? {
                return Ok(Some(frame));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ReadError::Io(io::ErrorKind::TimedOut.into()));
            }
            // SO_RCVTIMEO of 0 would mean "no timeout": at least a millisecond.
            self.reader
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .map_err(ReadError::Io)?;
            if !self.fill()? {
                return Ok(None);
            }
        }
    }
    // ANCHOR_END: deadline
}

// ANCHOR: writer
/// Sends frames on a blocking socket that several threads share (the keyboard's thread sends
/// TEXT, the network thread answers PINGs). The lock keeps each frame's bytes together: two
/// `write_all`s racing could interleave their pieces and corrupt the stream.
#[derive(Debug)]
pub struct FrameWriter {
    stream: Arc<TcpStream>,
    lock: Mutex<()>,
    n: Narrator,
}
// ANCHOR_END: writer

impl FrameWriter {
    /// A writer for `stream`.
    pub fn new(stream: Arc<TcpStream>, n: Narrator) -> Self {
        Self { stream, lock: Mutex::new(()), n }
    }

    // ANCHOR: send
    /// Encodes and sends one frame: `sendall`, looping over partial writes.
    ///
    /// # Errors
    /// The socket's error (the peer reset the connection, the write timed out, ...).
    pub fn send(&self, frame: &Frame) -> io::Result<()> {
        let bytes = frame.to_bytes();
        // Paused before taking the lock: a thread waiting at the prompt holds nothing another
        // thread needs to send.
        step!(self.n, &*self.stream, "send frame {} {} bytes", frame.kind, bytes.len());
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        (&*self.stream).write_all(&bytes)?;
        narrate!(
            self.n,
            &*self.stream,
            "send frame {} {} bytes: {}",
            frame.kind,
            bytes.len(),
            hex(&bytes, 12)
        );
        Ok(())
    }
    // ANCHOR_END: send

    /// The socket.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }
}

/// The first `max` bytes of a frame as hex, for narration: `00 00 00 03 01 68 69`.
pub fn hex(bytes: &[u8], max: usize) -> String {
    let mut out: Vec<String> = bytes.iter().take(max).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > max {
        out.push("..".into());
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Kind;

    #[test]
    fn a_close_inside_a_frame_is_reported_with_its_size() {
        let wire = Frame::new(Kind::Text, "cut short").to_bytes();
        let mut conn = Connection::new(&wire[..6]);
        match conn.read_frame() {
            Err(ReadError::Truncated { have: 6, want: 14 }) => {}
            other => panic!("expected a truncated frame, got {other:?}"),
        }
        let mut conn = Connection::new(&wire[..]);
        assert!(matches!(conn.read_frame(), Ok(Some(_))));
        assert!(matches!(conn.read_frame(), Ok(None)));
    }
}
