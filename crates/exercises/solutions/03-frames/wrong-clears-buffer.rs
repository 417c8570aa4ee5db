//! Exercise 03-frames, a wrong answer: the whole buffer cleared after a frame.
//!
//! Right when every read holds exactly one frame, as on a quiet loopback; two frames in one
//! read lose the second.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

/// The address used when none is given: chapter 03's port.
const DEFAULT_ADDR: &str = "127.0.0.1:7878";

/// The largest frame accepted: the length field's value (kind byte + text). A peer that
/// announces more gets an error before we keep any of it.
const MAX_FRAME_LEN: usize = 64 * 1024;

/// The size of the length prefix: a big-endian `u32`.
const LEN_PREFIX: usize = 4;

/// One decoded message.
#[derive(Debug, PartialEq, Eq)]
struct Frame {
    kind: u8,
    text: String,
}

/// What can be wrong with a frame; after either, the stream cannot go on.
#[derive(Debug, PartialEq, Eq)]
enum FrameError {
    /// The length prefix is above MAX_FRAME_LEN.
    TooLong(u32),
    /// A length of 0: there must be at least the kind byte.
    Empty,
}

/// Bytes in, frames out, whatever pieces the bytes arrive in.
#[derive(Default)]
struct Decoder {
    buf: Vec<u8>,
}

impl Decoder {
    /// Adds what one `recv` returned.
    fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole frame, taken out of the buffer; `None` until one is complete.
    fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        let Some(prefix) = self.buf.first_chunk::<LEN_PREFIX>() else { return Ok(None) };
        // Network byte order: the most significant byte first.
        let len = u32::from_be_bytes(*prefix);
        // Checked before waiting for the bytes: a peer that announces 4 GiB gets an error, not
        // a buffer that grows until we run out of memory.
        if len as usize > MAX_FRAME_LEN {
            return Err(FrameError::TooLong(len));
        }
        if len == 0 {
            return Err(FrameError::Empty);
        }
        let end = LEN_PREFIX + len as usize;
        if self.buf.len() < end {
            return Ok(None);
        }
        let kind = self.buf[LEN_PREFIX];
        let text = String::from_utf8_lossy(&self.buf[LEN_PREFIX + 1..end]).into_owned();
        self.buf.clear();
        Ok(Some(Frame { kind, text }))
    }
}

fn main() -> io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    let listener = TcpListener::bind(&addr)?;
    println!("listening on {}", listener.local_addr()?);
    for conn in listener.incoming() {
        let conn = match conn {
            Ok(conn) => conn,
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        thread::spawn(move || {
            if let Err(e) = serve(conn) {
                eprintln!("connection ended with an error: {e}");
            }
        });
    }
    Ok(())
}

/// Answers each frame with a line, `KIND TEXT\n` (`1 hi\n`), until the client closes; a bad
/// frame gets `error: ...\n` and the connection ends.
fn serve(mut conn: TcpStream) -> io::Result<()> {
    let mut decoder = Decoder::default();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        decoder.push(&buf[..n]);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => {
                    conn.write_all(format!("{} {}\n", frame.kind, frame.text).as_bytes())?
                }
                Ok(None) => break,
                Err(e) => {
                    let line = match e {
                        FrameError::TooLong(_) => "error: frame too long\n",
                        FrameError::Empty => "error: empty frame\n",
                    };
                    conn.write_all(line.as_bytes())?;
                    return close_without_reset(conn);
                }
            }
        }
    }
}

/// Closes after an error so that the client reads the error line: closing with unread input
/// would send a reset, which may destroy the line in the client's buffer. So: FIN first, then
/// read and drop what the client still sends (for a second at most), then close.
fn close_without_reset(mut conn: TcpStream) -> io::Result<()> {
    conn.shutdown(Shutdown::Write)?;
    conn.set_read_timeout(Some(Duration::from_secs(1)))?;
    let mut sink = [0u8; 16 * 1024];
    while matches!(conn.read(&mut sink), Ok(1..)) {}
    Ok(())
}
