//! The response: its head, parsed with httparse, and its body, framed by hand.
//!
//! TCP delivers a byte stream, not messages, so the client must know where the response ends
//! from the response itself. RFC 9112 §6.3 gives the rules, in this order:
//!
//! 1. a response to `HEAD`, and every 1xx, 204 and 304 response, has no body at all;
//! 2. `Transfer-Encoding: chunked`: the body comes in chunks, each preceded by its size in hex
//!    on a line of its own; a chunk of size 0 ends it (then optional trailer lines, then a
//!    blank line);
//! 3. `Content-Length: N`: exactly N bytes;
//! 4. neither: the body ends when the server closes the connection (so the connection cannot
//!    be reused).
//!
//! What the tutorial did instead, "read until a `recv` returns fewer than 1024 bytes", is not one
//! of them: `recv` returns what has arrived so far, which can be fewer bytes in the middle of a
//! body (truncation) or exactly 1024 at the very end (a hang). The book shows both.
//!
//! This module reads the head and applies the rules; `body.rs` reads the body by them.
//! Every read here is bounded by a named limit, and every wait by the connection's timeouts.

use crate::conn::Connection;
use crate::error::{Kind, fail, protocol};

/// 64 KiB: the largest response head we accept. Real heads are well under 8 KiB; curl allows
/// 100 KiB per header. Past this a server is broken or hostile.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// 100: the most header lines in one head (httparse needs a fixed array; curl has no fixed cap).
pub const MAX_HEADERS: usize = 100;
/// 16: the most 1xx interim responses (`100 Continue`, `103 Early Hints`) before the real one.
pub const MAX_INTERIM: usize = 16;

/// A parsed response head.
#[derive(Debug, Clone)]
pub struct Head {
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    /// The status code: 200, 404, ...
    pub status: u16,
    /// The reason phrase: `OK`, `Not Found` (informative only).
    pub reason: String,
    /// The header fields in order; values are bytes, since HTTP does not promise UTF-8.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The head exactly as received, status line to blank line, for `-i` and `-v`.
    pub raw: Vec<u8>,
}

impl Head {
    /// The first value of header `name` (case-insensitive), as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).trim().to_owned())
    }

    /// The first value of header `name` as the server sent its bytes, trimmed of blanks.
    pub fn header_bytes(&self, name: &str) -> Option<&[u8]> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim_ascii())
    }

    /// Every value of `name`, each comma-separated list split into its items.
    fn list(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| {
                String::from_utf8_lossy(v)
                    .split(',')
                    .map(|item| item.trim().to_ascii_lowercase())
                    .filter(|item| !item.is_empty())
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Does the server let us send another request on this connection? HTTP/1.1 keeps
    /// connections open unless told `Connection: close`; HTTP/1.0 closes them unless told
    /// `Connection: keep-alive`.
    pub fn keeps_alive(&self) -> bool {
        let tokens = self.list("Connection");
        if self.version >= 1 {
            !tokens.iter().any(|t| t == "close")
        } else {
            tokens.iter().any(|t| t == "keep-alive")
        }
    }
}

/// Where the body ends: the three rules, plus "there is none".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (HEAD, 1xx, 204, 304).
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunks until a zero-size one.
    Chunked,
    /// Until the server closes the connection.
    UntilClose,
}

// ANCHOR: read_head
/// Reads and parses one response head. Bytes after the blank line stay in the connection's
/// buffer: they are the start of the body.
///
/// # Errors
/// A protocol error (8) when the bytes are not an HTTP/1.x head or exceed a limit; `Partial`
/// (18) when the server closes first; or the connection's timeout (28).
pub fn read_head(conn: &mut Connection) -> anyhow::Result<Head> {
    loop {
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Response::new(&mut slots);
        match parsed.parse(conn.buffered()) {
            Ok(httparse::Status::Complete(len)) => {
                let head = Head {
                    version: parsed.version.unwrap_or(1),
                    status: parsed.code.unwrap_or_default(),
                    reason: parsed.reason.unwrap_or_default().to_owned(),
                    headers: parsed
                        .headers
                        .iter()
                        .map(|h| (h.name.to_owned(), h.value.to_vec()))
                        .collect(),
                    raw: conn.buffered()[..len].to_vec(),
                };
                conn.consume(len);
                return Ok(head);
            }
            Ok(httparse::Status::Partial) => {}
            Err(httparse::Error::TooManyHeaders) => {
                return Err(protocol(format!("more than {MAX_HEADERS} header lines")));
            }
            Err(e) => {
                let start = common::text::py_bytes_preview(conn.buffered(), 40);
                return Err(protocol(format!("not an HTTP/1.x response ({e}): {start}")));
            }
        }
        // ANCHOR_END: read_head
        // ANCHOR: read_more
        if conn.buffered().len() >= MAX_HEAD_BYTES {
            return Err(protocol(format!(
                "response head larger than {} KiB",
                MAX_HEAD_BYTES / 1024
            )));
        }
        if conn.fill()? == 0 {
            let got = conn.buffered().len();
            return Err(fail(
                Kind::Partial,
                format!("the server closed the connection after {got} bytes of the response head"),
            ));
        }
    }
}
// ANCHOR_END: read_more

// ANCHOR: framing
/// Decides where the body ends (RFC 9112 §6.3), given the request's method and the head.
///
/// # Errors
/// A protocol error for a head that frames its body two ways or in a way we cannot read.
pub fn framing(head: &Head, request_was_head: bool) -> anyhow::Result<Framing> {
    if request_was_head || (100..200).contains(&head.status) || matches!(head.status, 204 | 304) {
        return Ok(Framing::None);
    }
    let codings = head.list("Transfer-Encoding");
    let lengths = head.list("Content-Length");
    if !codings.is_empty() && !lengths.is_empty() {
        // RFC 9112 §6.3 lets Transfer-Encoding win but says such a message "ought to be
        // handled as an error": two framings are how request smuggling and response splitting
        // work. We refuse it, as curl does not yet; strict is the safe teaching choice.
        return Err(protocol("the response has both Content-Length and Transfer-Encoding"));
    }
    if !codings.is_empty() {
        // We send no `TE` header, so the only coding a server may use is chunked, alone.
        return if codings == ["chunked"] {
            Ok(Framing::Chunked)
        } else {
            Err(protocol(format!("unsupported Transfer-Encoding: {}", codings.join(", "))))
        };
    }
    // ANCHOR_END: framing
    // ANCHOR: framing_length
    if let Some(first) = lengths.first() {
        // `Content-Length: 5, 5` and two equal lines are allowed; different values are not.
        if lengths.iter().any(|l| l != first) {
            return Err(protocol(format!("conflicting Content-Length values: {lengths:?}")));
        }
        let ok = !first.is_empty() && first.bytes().all(|b| b.is_ascii_digit());
        return match first.parse::<u64>() {
            Ok(n) if ok => Ok(Framing::Length(n)),
            _ => Err(protocol(format!("bad Content-Length: {first:?}"))),
        };
    }
    Ok(Framing::UntilClose)
}
// ANCHOR_END: framing_length

#[cfg(test)]
mod tests {
    use super::*;

    fn head(status: u16, headers: &[(&str, &str)]) -> Head {
        Head {
            version: 1,
            status,
            reason: String::new(),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec()))
                .collect(),
            raw: Vec::new(),
        }
    }

    #[test]
    fn the_three_rules_and_no_body() {
        let cl = head(200, &[("Content-Length", "12")]);
        assert_eq!(framing(&cl, false).ok(), Some(Framing::Length(12)));
        assert_eq!(framing(&cl, true).ok(), Some(Framing::None));
        let te = head(200, &[("Transfer-Encoding", "Chunked")]);
        assert_eq!(framing(&te, false).ok(), Some(Framing::Chunked));
        assert_eq!(framing(&head(200, &[]), false).ok(), Some(Framing::UntilClose));
        for status in [100, 204, 304] {
            assert_eq!(
                framing(&head(status, &[("Content-Length", "5")]), false).ok(),
                Some(Framing::None)
            );
        }
    }

    #[test]
    fn two_framings_and_bad_lengths_are_errors() {
        let both = head(200, &[("Content-Length", "5"), ("Transfer-Encoding", "chunked")]);
        assert!(framing(&both, false).is_err());
        assert!(
            framing(&head(200, &[("Content-Length", "5"), ("Content-Length", "6")]), false)
                .is_err()
        );
        assert_eq!(
            framing(&head(200, &[("Content-Length", "5, 5")]), false).ok(),
            Some(Framing::Length(5))
        );
        for bad in ["-1", "+5", "0x10", "99999999999999999999999"] {
            assert!(framing(&head(200, &[("Content-Length", bad)]), false).is_err(), "{bad}");
        }
        assert!(framing(&head(200, &[("Transfer-Encoding", "gzip, chunked")]), false).is_err());
    }

    #[test]
    fn keep_alive_depends_on_version_and_connection() {
        assert!(head(200, &[]).keeps_alive());
        assert!(!head(200, &[("Connection", "Close")]).keeps_alive());
        let mut old = head(200, &[]);
        old.version = 0;
        assert!(!old.keeps_alive());
        old.headers.push(("Connection".into(), b"keep-alive".to_vec()));
        assert!(old.keeps_alive());
    }
}
