//! One request and its response, as the code that answers it sees them: the connection to
//! write to, the buffer the response head is built in, whether the connection stays open, and
//! what went out, for the access log and the statistics.
//!
//! This module only defines it. The methods that answer are in the modules above, next to
//! what they do: `dispatch.rs` decides what a request gets, `file_response.rs` answers with a
//! file, and `send.rs` writes the bytes out under the response's deadline.

use std::net::{SocketAddr, TcpStream};

use crate::deadline::SendDeadline;
use crate::shared::Shared;

/// What one request and its response amounted to, for the access log and the statistics.
pub struct Exchange<'a> {
    /// The connection.
    pub stream: &'a TcpStream,
    /// The response head, and a small body after it, built here and sent in one write.
    pub out: &'a mut Vec<u8>,
    /// The served folder, the limits, the counters.
    pub shared: &'a Shared,
    /// The connection stays open after this response.
    pub keep_alive: bool,
    /// The request was HTTP/1.0, which closes unless told `keep-alive`.
    pub http10: bool,
    /// `HEAD`: the same head as `GET`, and no body.
    pub head_only: bool,
    /// The status sent (0 until a head has been built).
    pub status: u16,
    /// Body bytes sent, counted as they go, so a body cut short is logged as such.
    pub body_sent: u64,
    /// This response's send deadline, from its first write on.
    pub deadline: Option<SendDeadline>,
}

impl<'a> Exchange<'a> {
    /// A response, not yet started, that closes the connection after it (as an error on a
    /// request that could not be read must); set `keep_alive`, `http10` and `head_only` from
    /// a request that could.
    pub fn new(stream: &'a TcpStream, out: &'a mut Vec<u8>, shared: &'a Shared) -> Self {
        Self {
            stream,
            out,
            shared,
            keep_alive: false,
            http10: false,
            head_only: false,
            status: 0,
            body_sent: 0,
            deadline: None,
        }
    }

    /// Writes the access-log line, unless `--quiet` or nothing was answered.
    pub fn log(&self, peer: SocketAddr, request_line: &str) {
        if !self.shared.quiet && self.status != 0 {
            crate::log::write(&crate::log::line(
                peer.ip(),
                request_line,
                self.status,
                self.body_sent,
            ));
        }
    }
}
