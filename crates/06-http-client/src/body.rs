//! The response body, read by the framing [`crate::response::framing`] chose: exactly N bytes,
//! chunks until a zero-size one, or everything until the server closes. Bytes go to a [`Sink`]
//! as they arrive, so a large download never sits in memory.
//!
//! Every read is bounded by a named limit, and every wait by the connection's timeouts.

use std::io::Write;

use crate::conn::Connection;
use crate::error::{Kind, fail, fail_because, protocol};
use crate::response::{Framing, MAX_HEAD_BYTES};

/// 4 KiB: the longest chunk-size line (the size in hex, plus optional `;extensions`).
pub const MAX_CHUNK_LINE: usize = 4 * 1024;

// ANCHOR: read_body
/// Reads the body as `framing` says, delivering it to `sink`. On return the connection is at
/// the start of the next response (unless the framing was read-to-close).
///
/// # Errors
/// Partial (18) when the server closes early, protocol (8) for bad chunk framing, file size
/// (63), write (23), or the connection's timeout (28).
pub fn read_body(conn: &mut Connection, framing: Framing, sink: &mut Sink) -> anyhow::Result<()> {
    match framing {
        Framing::None => Ok(()),
        Framing::Length(len) => copy_exact(conn, len, sink),
        Framing::Chunked => read_chunked(conn, sink),
        Framing::UntilClose => loop {
            let data = conn.buffered().len();
            if data > 0 {
                sink.write(&conn.buffered()[..data])?;
                conn.consume(data);
            } else if conn.fill()? == 0 {
                return Ok(());
            }
        },
    }
}

// ANCHOR_END: read_body

// ANCHOR: copy_exact
/// Copies exactly `len` bytes of body, failing if the connection ends first.
fn copy_exact(conn: &mut Connection, len: u64, sink: &mut Sink) -> anyhow::Result<()> {
    let mut left = len;
    while left > 0 {
        if conn.buffered().is_empty() && conn.fill()? == 0 {
            return Err(fail(
                Kind::Partial,
                format!(
                    "the server closed the connection after {} of {len} body bytes",
                    len - left
                ),
            ));
        }
        let take = conn.buffered().len().min(usize::try_from(left).unwrap_or(usize::MAX));
        sink.write(&conn.buffered()[..take])?;
        conn.consume(take);
        left -= take as u64;
    }
    Ok(())
}

// ANCHOR_END: copy_exact

// ANCHOR: read_chunked
/// Chunked transfer coding: `SIZE-IN-HEX[;ext]\r\n DATA \r\n` ... `0\r\n [trailers] \r\n`.
fn read_chunked(conn: &mut Connection, sink: &mut Sink) -> anyhow::Result<()> {
    loop {
        let size = loop {
            match httparse::parse_chunk_size(conn.buffered()) {
                Ok(httparse::Status::Complete((line_len, size))) => {
                    conn.consume(line_len);
                    break size;
                }
                Ok(httparse::Status::Partial) => {
                    if conn.buffered().len() > MAX_CHUNK_LINE {
                        return Err(protocol(format!(
                            "chunk-size line longer than {MAX_CHUNK_LINE} bytes"
                        )));
                    }
                    if conn.fill()? == 0 {
                        return Err(fail(
                            Kind::Partial,
                            "the server closed the connection inside the chunked body",
                        ));
                    }
                }
                Err(_) => {
                    // httparse refuses non-hex digits and sizes that overflow 64 bits.
                    let line = conn.buffered().split(|&b| b == b'\n').next().unwrap_or_default();
                    let line = common::text::py_bytes_preview(line, 40);
                    return Err(protocol(format!("bad chunk size line {line}")));
                }
            }
        };
        if size == 0 {
            return skip_trailers(conn);
        }
        copy_exact(conn, size, sink)?;
        expect_crlf(conn)?;
    }
}

// ANCHOR_END: read_chunked

/// Every chunk's data is followed by CRLF; anything else means we lost the framing.
fn expect_crlf(conn: &mut Connection) -> anyhow::Result<()> {
    while conn.buffered().len() < 2 {
        if conn.fill()? == 0 {
            return Err(fail(
                Kind::Partial,
                "the server closed the connection inside the chunked body",
            ));
        }
    }
    if &conn.buffered()[..2] != b"\r\n" {
        return Err(protocol("chunk data is not followed by CRLF (wrong chunk size?)"));
    }
    conn.consume(2);
    Ok(())
}

/// After the last chunk: trailer header lines (which we do not use) and a blank line.
fn skip_trailers(conn: &mut Connection) -> anyhow::Result<()> {
    let mut seen = 0;
    loop {
        if let Some(end) = conn.buffered().iter().position(|&b| b == b'\n') {
            let blank = conn.buffered()[..end].iter().all(|&b| b == b'\r');
            conn.consume(end + 1);
            seen += end + 1;
            if blank {
                return Ok(());
            }
        } else if conn.fill()? == 0 {
            return Err(fail(
                Kind::Partial,
                "the server closed the connection inside the trailers",
            ));
        }
        if seen + conn.buffered().len() > MAX_HEAD_BYTES {
            return Err(protocol(format!("trailers larger than {} KiB", MAX_HEAD_BYTES / 1024)));
        }
    }
}

/// Where body bytes go, with the `--max-filesize` limit and progress reporting.
pub struct Sink<'a> {
    out: &'a mut dyn Write,
    /// Bytes delivered so far.
    pub written: u64,
    max: Option<u64>,
    progress: Option<&'a indicatif::ProgressBar>,
    /// Refuse bytes that look binary (a NUL byte, curl's test): the output is a terminal,
    /// where they could be taken as control sequences, and the user did not say `-o -`.
    pub refuse_binary: bool,
}

impl<'a> Sink<'a> {
    /// A sink writing to `out`, failing past `max` bytes.
    pub fn new(
        out: &'a mut dyn Write,
        max: Option<u64>,
        progress: Option<&'a indicatif::ProgressBar>,
    ) -> Self {
        Sink { out, written: 0, max, progress, refuse_binary: false }
    }

    fn write(&mut self, data: &[u8]) -> anyhow::Result<()> {
        let total = self.written + data.len() as u64;
        if let Some(max) = self.max.filter(|&max| total > max) {
            return Err(fail(
                Kind::FileSize,
                format!("the body is larger than --max-filesize {max}"),
            ));
        }
        if self.refuse_binary && data.contains(&0) {
            return Err(fail(
                Kind::Write,
                "Binary output can mess up your terminal. Use \"--output -\" to tell \
                 06-http-client to output it to your terminal anyway, or consider \
                 \"--output <FILE>\" to save to a file.",
            ));
        }
        self.out
            .write_all(data)
            .map_err(|e| fail_because(Kind::Write, "could not write the body", e))?;
        self.written = total;
        if let Some(bar) = self.progress {
            bar.set_position(total);
        }
        Ok(())
    }

    /// Flushes the output.
    ///
    /// # Errors
    /// A write error (23).
    pub fn flush(&mut self) -> anyhow::Result<()> {
        self.out.flush().map_err(|e| fail_because(Kind::Write, "could not write the body", e))
    }
}
