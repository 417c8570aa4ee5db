//! The client: fetch each URL, reuse the connection when the next URL is on the same origin,
//! follow redirects with `-L`, and put bodies where they belong.
//!
//! One request, one response, in order, on one connection at a time: HTTP/1.1 without
//! pipelining. After a response whose end we know (Content-Length or chunked) and whose server
//! did not say `Connection: close`, the connection is kept; the next request to the same
//! scheme, host and port is sent on it, skipping DNS, the TCP handshake and, for https, the TLS
//! handshake. That is keep-alive, and `-v` says `Re-using existing connection`.
//!
//! The file reads in the order of one fetch: [`run`], then each URL's `fetch`, which connects
//! (resolve, connect, TLS: [`crate::connect`]), sends the request, reads the response head
//! ([`crate::response`]), then the body ([`crate::body`]), and keeps or closes the connection.

use std::io;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;

use crate::body::{self, Sink};
use crate::conn::{Connection, IdleState, Timeouts};
use crate::connect;
use crate::error::{Kind, fail, kind_of};
use crate::options::Options;
use crate::output::{self, Output};
use crate::redirect::{self, Hops};
use crate::request::{self, Request};
use crate::response::{self, Framing, Head};
use crate::target::Target;
use crate::tls::{self, Trust};
use crate::wire::Wire;

/// 1 MiB: a redirect's own body is read and dropped to keep the connection; past this size we
/// close the connection instead of reading it.
const MAX_DISCARD: u64 = 1024 * 1024;

// ANCHOR: run
/// Fetches every URL of `options`, in order, stopping at the first failure.
///
/// # Errors
/// The first failure, with its [`Kind`] (and so its exit code).
pub fn run(options: Options, wire: Wire) -> anyhow::Result<()> {
    let mut client = Client::new(options, wire);
    let urls = client.options.urls.clone();
    let result = urls.iter().enumerate().try_for_each(|(i, url)| {
        let output = Output::for_url(client.options.outputs.get(i));
        client.fetch(url, &output).with_context(|| format!("{url}"))
    });
    client.close_idle();
    result
}
// ANCHOR_END: run

/// A run over several URLs: the options, the TLS settings, and the kept-alive connection.
pub struct Client {
    options: Options,
    tls: Option<Arc<rustls::ClientConfig>>,
    /// The connection left open by the last response, if the server allowed it.
    idle: Option<Connection>,
    next_id: u32,
    timeouts: Timeouts,
    wire: Wire,
}

impl Client {
    /// A client with no connection yet.
    pub fn new(options: Options, wire: Wire) -> Self {
        let timeouts = Timeouts {
            connect: options.connect_timeout,
            idle: options.idle_timeout,
            deadline: options.max_time.map(|t| Instant::now() + t),
        };
        Client { options, tls: None, idle: None, next_id: 0, timeouts, wire }
    }

    // ANCHOR: fetch
    /// Fetches one URL, following redirects with `-L`, and writes the body to `output`.
    ///
    /// # Errors
    /// See [`Kind`].
    pub fn fetch(&mut self, url: &Target, output: &Output) -> anyhow::Result<()> {
        let mut request = self.options.request.clone();
        let mut target = url.clone();
        let mut hops = Hops::new(&request, &target, self.options.max_redirs);
        loop {
            let (conn, head) = self.exchange(&request, &target)?;
            let framing = response::framing(&head, request.is_head())?;
            if self.options.include_head || request.is_head() {
                output::write_head(&head)?;
            }
            if let Some(location) = redirect::location(&head).filter(|_| self.options.follow) {
                self.finish_quietly(conn, &head, framing);
                let from = (&request, &target);
                (request, target) = hops.follow(from, head.status, &location, &self.wire)?;
                continue;
            }
            if self.options.fail_on_error && head.status >= 400 {
                // Like curl --fail: no body, and the connection is not worth keeping.
                conn.close();
                let why = format!("the server answered {} {}", head.status, head.reason);
                return Err(fail(Kind::HttpStatus, why));
            }
            return self.deliver(conn, &head, framing, output);
        }
    }
    // ANCHOR_END: fetch

    // ANCHOR: exchange
    /// Sends one request and reads the response head (skipping 1xx interim responses), on the
    /// kept-alive connection when it fits, else on a new one.
    ///
    /// A server may close an idle kept-alive connection at any moment; if the reused connection
    /// turns out dead before a single byte of response came back, the request is sent once more
    /// on a fresh connection, as curl and browsers do.
    fn exchange(
        &mut self,
        request: &Request,
        target: &Target,
    ) -> anyhow::Result<(Connection, Head)> {
        let bytes = request::format(request, target, &self.options.accept);
        if let Some(mut conn) = self.take_idle(target) {
            let id = conn.id;
            self.wire
                .info(&format!("Re-using existing connection #{id} with host {}", target.host));
            match self.send_request(&mut conn, &bytes) {
                Ok(head) => return Ok((conn, head)),
                Err(err) if is_stale(&err, &conn) => {
                    self.wire.info(&format!(
                        "Connection #{id} died before answering ({err:#}); retrying on a new one"
                    ));
                    conn.close();
                }
                Err(err) => return Err(err),
            }
        }
        let mut conn = self.connect(target)?;
        let head = self.send_request(&mut conn, &bytes)?;
        Ok((conn, head))
    }
    // ANCHOR_END: exchange

    /// A new connection to `target`: resolve, connect and, for https, the TLS handshake.
    fn connect(&mut self, target: &Target) -> anyhow::Result<Connection> {
        let tls = if connect::needs_tls(target) {
            if self.tls.is_none() {
                self.tls = Some(tls::client_config(&self.options.trust)?);
                // Said here, at the first https connection, not at start: -k changes nothing
                // for plain http, and a redirect may lead from http to https.
                if matches!(self.options.trust, Trust::Insecure) && !self.options.silent {
                    eprintln!(
                        "warning: -k: server certificates are NOT verified; the connection is \
                         encrypted, but anyone on the path could pose as the server"
                    );
                }
            }
            self.tls.as_ref()
        } else {
            None
        };
        let id = self.next_id;
        self.next_id += 1;
        connect::open(target, id, self.options.family, tls, self.timeouts, &self.wire)
    }

    /// Sends the request (head and body, one buffer) and reads the final response's head.
    fn send_request(&self, conn: &mut Connection, bytes: &[u8]) -> anyhow::Result<Head> {
        self.wire.request_head(head_part(bytes));
        conn.send_all(bytes)?;
        self.read_final_head(conn)
    }

    fn read_final_head(&self, conn: &mut Connection) -> anyhow::Result<Head> {
        for _ in 0..=response::MAX_INTERIM {
            let head = response::read_head(conn)?;
            self.wire.response_head(&head.raw);
            match head.status {
                101 => {
                    return Err(fail(
                        Kind::Protocol,
                        "the server switched protocols (101), unasked",
                    ));
                }
                100..=199 => {
                    self.wire.info(&format!("interim response {}, reading on", head.status))
                }
                _ => return Ok(head),
            }
        }
        Err(fail(
            Kind::Protocol,
            format!("more than {} interim (1xx) responses", response::MAX_INTERIM),
        ))
    }

    /// Reads the final response's body into `output`, then keeps or closes the connection.
    fn deliver(
        &mut self,
        mut conn: Connection,
        head: &Head,
        framing: Framing,
        output: &Output,
    ) -> anyhow::Result<()> {
        if let (Framing::Length(len), Some(max)) = (framing, self.options.max_filesize) {
            if len > max {
                conn.close();
                return Err(fail(
                    Kind::FileSize,
                    format!("the body ({len} bytes) is larger than --max-filesize {max}"),
                ));
            }
        }
        let mut out = output.open()?;
        let bar = output.progress_bar(framing, self.options.silent);
        let mut sink = Sink::new(&mut out, self.options.max_filesize, bar.as_ref());
        sink.refuse_binary = output.refuses_binary();
        let result = body::read_body(&mut conn, framing, &mut sink).and_then(|()| sink.flush());
        if let Some(bar) = &bar {
            bar.finish_and_clear();
        }
        result?;
        if framing == Framing::UntilClose && conn.tls_unclean_close {
            self.wire.info("the TLS server closed without close_notify: the body may be cut short");
        }
        self.keep_or_close(conn, head, framing);
        Ok(())
    }

    /// After a redirect: read and drop its (small) body so the connection can be reused.
    fn finish_quietly(&mut self, mut conn: Connection, head: &Head, framing: Framing) {
        let small = match framing {
            Framing::None => true,
            Framing::Length(len) => len <= MAX_DISCARD,
            Framing::Chunked | Framing::UntilClose => false,
        };
        let mut sink_out = io::sink();
        let mut sink = Sink::new(&mut sink_out, Some(MAX_DISCARD), None);
        if small && body::read_body(&mut conn, framing, &mut sink).is_ok() {
            self.keep_or_close(conn, head, framing);
        } else {
            conn.close();
        }
    }

    // ANCHOR: keep_or_close
    /// Keeps the connection for the next request only when the response ended exactly where
    /// its framing said and the server allows it. Bytes already past that end belong to no
    /// request we sent (a server that miscounted its Content-Length, or a body after a 204):
    /// read as the next response, they would answer the next URL before it is even asked, and
    /// every response after it would be off by one. curl calls this "Excess found".
    fn keep_or_close(&mut self, conn: Connection, head: &Head, framing: Framing) {
        let excess = conn.buffered().len();
        if framing != Framing::UntilClose && excess > 0 {
            self.wire.info(&format!(
                "Excess found: {excess} bytes after the end of the response; closing \
                 connection #{}",
                conn.id
            ));
            conn.close();
        } else if framing != Framing::UntilClose && head.keeps_alive() && !conn.at_eof() {
            self.wire.info(&format!(
                "Connection #{} to host {} left intact",
                conn.id,
                conn.origin().1
            ));
            self.close_idle();
            self.idle = Some(conn);
        } else {
            let why = if framing == Framing::UntilClose {
                "the body ended with the connection"
            } else {
                "the server asked to close it"
            };
            self.wire.info(&format!("Closing connection #{} ({why})", conn.id));
            conn.close();
        }
    }
    // ANCHOR_END: keep_or_close

    /// The kept-alive connection, if it goes to `target`'s origin and is still fit for a
    /// request; any other idle connection is closed.
    fn take_idle(&mut self, target: &Target) -> Option<Connection> {
        let mut conn = self.idle.take()?;
        if *conn.origin() != target.origin() {
            self.wire.info(&format!("Closing connection #{} (another host)", conn.id));
            conn.close();
            return None;
        }
        let why = match conn.check_idle() {
            // Nothing arrived while the connection sat idle: it is ready for a request.
            IdleState::Quiet => {
                conn.set_timeouts(self.timeouts);
                return Some(conn);
            }
            IdleState::Closed => {
                format!("Connection #{} was closed by the server while idle", conn.id)
            }
            IdleState::Unsolicited(n) => format!(
                "Excess found: {n} bytes arrived on idle connection #{} before any request; \
                 closing it",
                conn.id
            ),
        };
        self.wire.info(&why);
        conn.close();
        None
    }

    fn close_idle(&mut self) {
        if let Some(conn) = self.idle.take() {
            conn.close();
        }
    }
}

/// The head of a formatted request (everything up to and including the blank line).
fn head_part(bytes: &[u8]) -> &[u8] {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n").map_or(bytes.len(), |i| i + 4);
    &bytes[..end]
}

/// A reused connection that died before the response started: the server had closed it.
fn is_stale(err: &anyhow::Error, conn: &Connection) -> bool {
    let kind = kind_of(err);
    let nothing_came = conn.buffered().is_empty();
    nothing_came && matches!(kind, Kind::Partial | Kind::Send | Kind::Recv | Kind::Other)
}
