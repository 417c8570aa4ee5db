//! Sending a response: every byte of it, under its deadline.
//!
//! A `write` may take only part of what it is given (a short write), so the head and a small
//! body are written in a loop until all of it has gone; a large file goes out with
//! `sendfile(2)`, from the page cache straight into the socket. Every one of these writes
//! waits at most for what is left of the response's [`SendDeadline`], so a client that reads
//! slowly, or not at all, cannot hold the connection for ever.

use std::fs::File;
use std::io::{self, Write};
#[cfg(not(target_os = "linux"))]
use std::io::{Read, Seek, SeekFrom};
use std::sync::atomic::Ordering;
#[cfg(target_os = "linux")]
use std::time::Instant;

use common::narrate;
use common::narrate::fd;
use common::step;

use crate::deadline::SendDeadline;
#[cfg(target_os = "linux")]
use crate::deadline::too_slow;
use crate::exchange::Exchange;
use crate::response::{Status, end_head, error_page, header, start_head};

/// Bodies up to this size go out in the same `write` as the head: one syscall, one segment
/// on loopback. Larger ones are sent with `sendfile` (see `send_file_range`).
pub const SMALL_BODY: u64 = 64 << 10;

/// The most one `sendfile` call is asked for: 1 MiB, small enough that the deadline and the
/// byte counts see progress often, large enough that the system call costs nothing next to
/// the copy. The kernel sends what the socket buffer takes and says how much.
#[cfg(target_os = "linux")]
const SENDFILE_CHUNK: usize = 1 << 20;

impl Exchange<'_> {
    /// An error (or redirect) status with its small HTML page.
    pub fn send_error(
        &mut self,
        status: Status,
        detail: &str,
        extra: &[(&str, &str)],
    ) -> io::Result<()> {
        let page = error_page(status, detail);
        self.send_body(status, page.as_bytes(), extra)
    }

    /// A response with a body from memory (a listing), as `text/html`.
    pub fn send_body(
        &mut self,
        status: Status,
        body: &[u8],
        extra: &[(&str, &str)],
    ) -> io::Result<()> {
        self.status = status.code;
        start_head(self.out, status);
        header(self.out, "Content-Type", "text/html; charset=utf-8");
        header(self.out, "Content-Length", body.len());
        for (name, value) in extra {
            header(self.out, name, value);
        }
        end_head(self.out, self.keep_alive, self.http10);
        if !self.head_only {
            self.out.extend_from_slice(body);
            self.body_sent = body.len() as u64;
        }
        self.write_out()
    }

    /// Sends what is in `out`, all of it, looping on short writes, under the response's
    /// deadline.
    pub fn write_out(&mut self) -> io::Result<()> {
        let shared = self.shared;
        let deadline = self
            .deadline
            .get_or_insert_with(|| SendDeadline::new(&shared.limits, self.out.len() as u64));
        let mut stream = self.stream;
        let mut rest = &self.out[..];
        step!(shared.narrator, self.stream, "sendall({}, {} bytes)", fd(self.stream), rest.len());
        while !rest.is_empty() {
            match deadline.write(self.stream, || stream.write(rest)) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        narrate!(
            self.shared.narrator,
            self.stream,
            "sendall({}, {} bytes) -> status {}",
            fd(self.stream),
            self.out.len(),
            self.status
        );
        self.shared.stats.bytes.fetch_add(self.out.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    // ANCHOR: zero_copy
    /// Sends `count` bytes of `file` from offset `start` with `sendfile(2)`: the kernel copies
    /// from the page cache into the socket's buffer, and the bytes never visit this process.
    /// The bytes are counted as each call returns, so the access log and the summary see a
    /// body cut short too.
    ///
    /// The socket is non-blocking meanwhile, and we wait for room with `poll(POLLOUT)`, for at
    /// most `--send-timeout` and never past the response's deadline. A blocking `sendfile`
    /// could not be bounded: `SO_SNDTIMEO` limits each wait *inside* it, and a client that
    /// reads a few bytes now and then keeps every wait short and the call going for ever.
    ///
    /// Not `io::copy(file, socket)`: std uses `sendfile` only where it cannot change what the
    /// caller sees, and a file's later changes could show up in bytes still queued in a
    /// socket, so for a file and a socket it falls back to `read` and `write` through an 8 KiB
    /// buffer. We accept that race on purpose, as nginx does: a file rewritten *while* it is
    /// being sent is sent mixed, whatever the server.
    ///
    /// Returns how many bytes went out: fewer than `count` if the file shrank meanwhile.
    #[cfg(target_os = "linux")]
    pub fn send_file_range(&mut self, file: &File, start: u64, count: u64) -> io::Result<u64> {
        self.stream.set_nonblocking(true)?;
        let result = self.sendfile_until_deadline(file, start, count);
        self.stream.set_nonblocking(false)?;
        result
    }
    // ANCHOR_END: zero_copy

    // ANCHOR: sendfile_loop
    /// The loop of [`Exchange::send_file_range`]: `sendfile` while the socket takes bytes,
    /// `poll` for room when it does not, and the deadline checked on every round.
    #[cfg(target_os = "linux")]
    fn sendfile_until_deadline(&mut self, file: &File, start: u64, count: u64) -> io::Result<u64> {
        use rustix::event::{PollFd, PollFlags, poll};
        use rustix::io::Errno;
        let deadline = self.deadline.as_ref().expect("the head was sent under a deadline");
        let end = start + count;
        // The kernel advances `offset`; the file's own position is not used, nor changed.
        let mut offset = start;
        while offset < end {
            // Checked on every round, not only when `poll` times out: a client that reads
            // steadily, but slower than `--min-send-rate`, makes `poll` succeed every time.
            if Instant::now() >= deadline.at {
                return Err(too_slow());
            }
            let chunk = usize::try_from(end - offset).unwrap_or(usize::MAX).min(SENDFILE_CHUNK);
            match rustix::fs::sendfile(self.stream, file, Some(&mut offset), chunk) {
                Ok(0) => break, // End of file, earlier than its size said.
                Ok(n) => {
                    self.body_sent += n as u64;
                    self.shared.stats.bytes.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(Errno::AGAIN) => {
                    // The socket buffer is full: the client has not read what we sent.
                    let left = deadline.at.saturating_duration_since(Instant::now());
                    let wait = rustix::event::Timespec::try_from(left.min(deadline.idle))
                        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
                    let mut fds = [PollFd::new(self.stream, PollFlags::OUT)];
                    match poll(&mut fds, Some(&wait)) {
                        Ok(0) => return Err(too_slow()),
                        Ok(_) | Err(Errno::INTR) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(offset - start)
    }
    // ANCHOR_END: sendfile_loop

    /// Elsewhere: a plain copy loop, from `start`, through a buffer.
    #[cfg(not(target_os = "linux"))]
    pub fn send_file_range(&mut self, mut file: &File, start: u64, count: u64) -> io::Result<u64> {
        let deadline = self.deadline.as_ref().expect("the head was sent under a deadline");
        file.seek(SeekFrom::Start(start))?;
        let mut buf = vec![0u8; SMALL_BODY as usize];
        let mut stream = self.stream;
        let mut sent = 0;
        while sent < count {
            let want = usize::try_from(count - sent).unwrap_or(usize::MAX).min(buf.len());
            let n = file.read(&mut buf[..want])?;
            if n == 0 {
                break;
            }
            let mut rest = &buf[..n];
            while !rest.is_empty() {
                let written = deadline.write(self.stream, || stream.write(rest))?;
                if written == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
                rest = &rest[written..];
                self.body_sent += written as u64;
                self.shared.stats.bytes.fetch_add(written as u64, Ordering::Relaxed);
            }
            sent += n as u64;
        }
        Ok(sent)
    }
}
