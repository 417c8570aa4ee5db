//! The adversarial peer: written once, used by every check.
//!
//! On one side it is a client that talks to the student's server the ways real clients do
//! and naive code does not expect ([`Mode`]): one byte per write, two messages in one write,
//! connecting and saying nothing, a slow drip, a half-close, a reset in the middle of a
//! message, a flood. On the other side ([`DripServer`]) it is a server for the student's
//! client, which answers in pieces, the way a real network delivers.
//!
//! Every wait has a deadline; every flood is bounded in bytes and in time.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::text::{py_bytes, py_bytes_preview};
use common::timeout::is_timeout;
use socket2::SockRef;

/// How much of a byte string a message shows before it says how long the rest was.
pub const SHOWN_BYTES: usize = 60;

/// The receive buffer of a client that reads slowly: the kernel doubles it and keeps a
/// minimum, but it stays far below what loopback's autotuning gives (megabytes).
const SMALL_WINDOW: usize = 16 * 1024;

/// What a slow reader takes per read.
const SLOW_READ: usize = 16 * 1024;

/// How long the peer waits for a connection to be accepted by the kernel.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The ways the adversarial peer sends, each one a thing real networks and clients do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A message in one `send`, the way well-behaved clients send it.
    Whole,
    /// Every byte in its own `send`, Nagle off: the receiver's `recv` sees pieces.
    OneBytePerWrite,
    /// Two messages in a single `send`: the receiver's one `recv` sees both.
    Coalesced,
    /// Connect and send nothing, as browsers do with their spare connections.
    Silent,
    /// A few bytes, a pause, a few more: a slow network or a person typing.
    SlowDrip,
    /// Send, then `shutdown(SHUT_WR)`: "no more from me", while still reading the reply.
    HalfClose,
    /// Close with `SO_LINGER` 0 in the middle of a message: the peer gets a reset (RST).
    Reset,
    /// Send a lot without reading the reply (bounded in bytes and time).
    Flood,
    /// Never read what the program sends: its send buffer fills up.
    NeverReads,
}

impl Mode {
    /// How the mode is named in reports and in the exercise list.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Whole => "in one write",
            Mode::OneBytePerWrite => "one byte per write",
            Mode::Coalesced => "two messages in one write",
            Mode::Silent => "connect and send nothing",
            Mode::SlowDrip => "slow drip",
            Mode::HalfClose => "half-close",
            Mode::Reset => "reset mid-message (SO_LINGER 0)",
            Mode::Flood => "flood (bounded)",
            Mode::NeverReads => "a client that never reads",
        }
    }
}

/// How a read that waited for something ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// It got what it waited for.
    Done,
    /// The program closed the connection (`recv` returned 0).
    Closed,
    /// The deadline passed.
    TimedOut,
    /// Some other error, such as a reset.
    Error(String),
}

impl Ending {
    /// The ending in words, for the "got" line of a failure.
    pub fn describe(&self, limit: Duration) -> String {
        match self {
            Ending::Done => "everything".to_owned(),
            Ending::Closed => "then the connection closed (recv returned 0 bytes)".to_owned(),
            Ending::TimedOut => format!("then nothing more for {limit:?}"),
            Ending::Error(e) => format!("then an error: {e}"),
        }
    }
}

/// A client connection to the program under test.
pub struct Peer {
    stream: TcpStream,
}

impl Peer {
    /// Connects to `addr`.
    ///
    /// # Errors
    /// The reason in words ("Connection refused"), for a failure's "got" line.
    pub fn connect(addr: SocketAddr) -> Result<Self, String> {
        let stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)
            .map_err(|e| format!("connect({addr}) failed: {e}"))?;
        // Nagle off, so that each of our writes leaves as its own segment when we mean it to.
        let _ = stream.set_nodelay(true);
        Ok(Self { stream })
    }

    /// Sends `data` the way `mode` says (whole, one byte per write, or a slow drip).
    ///
    /// # Errors
    /// The send error (the program reset or closed the connection).
    pub fn send(&mut self, data: &[u8], mode: Mode) -> io::Result<()> {
        self.stream.set_write_timeout(Some(Duration::from_secs(5)))?;
        match mode {
            Mode::OneBytePerWrite => {
                for byte in data {
                    self.stream.write_all(std::slice::from_ref(byte))?;
                }
            }
            Mode::SlowDrip => {
                // Pieces of 3 bytes, 20 ms apart: slow for a program, quick for a test.
                for piece in data.chunks(3) {
                    self.stream.write_all(piece)?;
                    thread::sleep(Duration::from_millis(20));
                }
            }
            _ => self.stream.write_all(data)?,
        }
        Ok(())
    }

    /// Reads until exactly `expected.len()` bytes came back, the connection closed, or
    /// `limit` passed. Returns what came and how it ended.
    pub fn read_len(&mut self, len: usize, limit: Duration) -> (Vec<u8>, Ending) {
        let deadline = Instant::now() + limit;
        let mut got = Vec::with_capacity(len.min(1 << 20));
        let mut buf = vec![0u8; 64 * 1024];
        while got.len() < len {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return (got, Ending::TimedOut);
            }
            let _ = self.stream.set_read_timeout(Some(left));
            let want = (len - got.len()).min(buf.len());
            match self.stream.read(&mut buf[..want]) {
                Ok(0) => return (got, Ending::Closed),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if is_timeout(&e) => return (got, Ending::TimedOut),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return (got, Ending::Error(e.to_string())),
            }
        }
        (got, Ending::Done)
    }

    /// Reads `len` bytes the way a slow client does: 16 KiB at a time, 1 ms apart (16 MiB/s
    /// at most), so a server always finds this client's buffers full and has to wait for
    /// room. The pauses are the thing under test.
    pub fn read_len_slowly(&mut self, len: usize, limit: Duration) -> (Vec<u8>, Ending) {
        let deadline = Instant::now() + limit;
        let mut got = Vec::with_capacity(len.min(16 << 20));
        while got.len() < len {
            let left = deadline.saturating_duration_since(Instant::now());
            let (piece, ending) = self.read_len((len - got.len()).min(SLOW_READ), left);
            got.extend_from_slice(&piece);
            if ending != Ending::Done {
                return (got, ending);
            }
            thread::sleep(Duration::from_millis(1));
        }
        (got, Ending::Done)
    }

    /// Waits up to `limit` for whatever arrives next (one `recv`), for readers that look for
    /// an end themselves, such as an HTTP head's blank line.
    ///
    /// # Errors
    /// How the wait ended instead: the program closed, the deadline passed, or an error.
    pub fn read_some(&mut self, limit: Duration) -> Result<Vec<u8>, Ending> {
        let mut buf = vec![0u8; 64 * 1024];
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Ending::TimedOut);
            }
            let _ = self.stream.set_read_timeout(Some(left));
            match self.stream.read(&mut buf) {
                Ok(0) => return Err(Ending::Closed),
                Ok(n) => return Ok(buf[..n].to_vec()),
                Err(e) if is_timeout(&e) => return Err(Ending::TimedOut),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(Ending::Error(e.to_string())),
            }
        }
    }

    /// Reads until the program closes the connection (within `limit`, at most `max` bytes).
    pub fn read_to_close(&mut self, max: usize, limit: Duration) -> (Vec<u8>, Ending) {
        let (got, ending) = self.read_len(max + 1, limit);
        match ending {
            Ending::Closed => (got, Ending::Done),
            Ending::Done => (got, Ending::Error(format!("more than {max} bytes"))),
            other => (got, other),
        }
    }

    /// Waits `quiet` and returns whatever arrived in that time (nothing, for a program that
    /// waits for the rest of a line). The wait is the thing under test.
    pub fn read_for(&mut self, quiet: Duration) -> (Vec<u8>, Ending) {
        self.read_len(usize::MAX, quiet)
    }

    /// `shutdown(SHUT_WR)`: we will send no more; the program's `recv` returns 0.
    pub fn half_close(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Sends `partial`, then closes with `SO_LINGER` 0, so the kernel sends a reset (RST)
    /// instead of a FIN: the program's next `recv` or `send` fails with ECONNRESET.
    pub fn reset_after(mut self, partial: &[u8]) {
        let _ = self.stream.write_all(partial);
        let _ = SockRef::from(&self.stream).set_linger(Some(Duration::ZERO));
    }

    /// Sends up to `max` bytes without reading anything, until the program stops taking them
    /// (no progress for `stall`) or `limit` passes. Returns how many bytes the kernel took.
    pub fn flood(&mut self, max: usize, stall: Duration, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        let chunk = vec![b'x'; 64 * 1024];
        let mut sent = 0;
        let _ = self.stream.set_write_timeout(Some(stall));
        while sent < max && Instant::now() < deadline {
            let piece = &chunk[..chunk.len().min(max - sent)];
            match self.stream.write(piece) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        sent
    }

    /// Connects with a small receive buffer (`SO_RCVBUF` set before `connect`, so the window
    /// it advertises is small too): a slow client whose echo backs up into the server at once.
    ///
    /// # Errors
    /// The reason in words, as for [`Peer::connect`].
    pub fn connect_small_window(addr: SocketAddr) -> Result<Self, String> {
        let socket =
            socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None)
                .map_err(|e| format!("socket() failed: {e}"))?;
        let _ = socket.set_recv_buffer_size(SMALL_WINDOW);
        socket
            .connect_timeout(&addr.into(), CONNECT_TIMEOUT)
            .map_err(|e| format!("connect({addr}) failed: {e}"))?;
        Ok(Self { stream: socket.into() })
    }

    /// The socket, for a second thread to write on while this one reads.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }
}

/// A server for a student's client: it echoes what it reads, but in two pieces with a pause
/// between them (the way a long message arrives over a real network), and closes once the
/// client has closed its sending side.
pub struct DripServer {
    /// Where it listens (127.0.0.1, a port the kernel chose).
    pub addr: SocketAddr,
    worker: Option<JoinHandle<io::Result<usize>>>,
}

/// How the [`DripServer`] writes its echo back.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    /// Each read's bytes back in two writes, `pause` apart.
    Split {
        /// The pause between the two halves.
        pause: Duration,
    },
    /// Each byte in its own write.
    OneBytePerWrite,
}

impl DripServer {
    /// Listens on 127.0.0.1 port 0 and serves one connection, for at most `limit`.
    ///
    /// # Errors
    /// When the listening socket cannot be made.
    pub fn start(answer: Answer, limit: Duration) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let worker = thread::spawn(move || serve_one(&listener, answer, limit));
        Ok(Self { addr, worker: Some(worker) })
    }

    /// How many bytes the client sent, once it closed (or the limit passed).
    pub fn bytes_received(mut self) -> usize {
        self.worker.take().and_then(|w| w.join().ok()).and_then(Result::ok).unwrap_or(0)
    }
}

fn serve_one(listener: &TcpListener, answer: Answer, limit: Duration) -> io::Result<usize> {
    let deadline = Instant::now() + limit;
    listener.set_nonblocking(true)?;
    // accept() with a deadline: a client that never connects must not keep this thread.
    let mut conn = loop {
        match listener.accept() {
            Ok((conn, _)) => break conn,
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    };
    conn.set_nonblocking(false)?;
    conn.set_nodelay(true)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(total);
        }
        conn.set_read_timeout(Some(left))?;
        let n = match conn.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        total += n;
        match answer {
            Answer::Split { pause } => {
                let half = n.div_ceil(2);
                conn.write_all(&buf[..half])?;
                thread::sleep(pause);
                conn.write_all(&buf[half..n])?;
            }
            Answer::OneBytePerWrite => {
                for byte in &buf[..n] {
                    conn.write_all(std::slice::from_ref(byte))?;
                }
            }
        }
    }
}

/// Bytes for a failure message: `b'...'`, cut after [`SHOWN_BYTES`] with the full length.
pub fn show(data: &[u8]) -> String {
    if data.is_empty() {
        "nothing (0 bytes)".to_owned()
    } else {
        py_bytes_preview(data, SHOWN_BYTES)
    }
}

/// Bytes shown in full, the way Python prints them, for short messages.
pub fn show_all(data: &[u8]) -> String {
    py_bytes(data)
}
