//! The client: fetch each URL, reuse the connection when the next URL is on the same origin,
//! follow redirects with `-L`, and put bodies where they belong.
//!
//! One request, one response, in order, on one connection at a time: HTTP/1.1 without
//! pipelining. After a response whose end we know (Content-Length or chunked) and whose server
//! did not say `Connection: close`, the connection is kept; the next request to the same
//! scheme, host and port is sent on it, skipping DNS, the TCP handshake and, for https, the TLS
//! handshake. That is keep-alive, and `-v` says `Re-using existing connection`.

use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::conn::{self, Connection, Family, IdleState, Timeouts};
use crate::error::{Kind, fail, fail_because, kind_of};
use crate::request::{self, Request};
use crate::response::{self, Framing, Head, Sink};
use crate::target::Target;
use crate::tls::{self, Trust};
use crate::wire::Wire;

/// 10 s for each `connect()` and TLS handshake: on loopback a connect takes microseconds and
/// across the world well under a second, so ten seconds of silence is a dead or filtered host.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// 30 s of silence in the middle of a response and we stop waiting (`--idle-timeout`).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// 10 redirects at most by default, as curl's `--max-redirs` (and browsers allow about 20).
pub const DEFAULT_MAX_REDIRS: u32 = 10;
/// 1 MiB: a redirect's own body is read and dropped to keep the connection; past this size we
/// close the connection instead of reading it.
const MAX_DISCARD: u64 = 1024 * 1024;
/// 1 MiB: downloads to a file larger than this (or of unknown size) get a progress bar.
const PROGRESS_MIN: u64 = 1024 * 1024;

/// Where a response body goes.
#[derive(Debug, Clone)]
pub enum Output {
    /// Standard output, unless it is a terminal and the body is binary (curl's rule).
    Stdout,
    /// Standard output whatever the body is (`-o -`).
    StdoutAnyway,
    /// A file (`-o FILE`), created when the response arrives.
    File(PathBuf),
}

/// Everything the command line decides.
#[derive(Debug, Clone)]
pub struct Options {
    /// The URLs, fetched in order.
    pub urls: Vec<Target>,
    /// `-o` files, paired with the URLs in order; the rest go to stdout.
    pub outputs: Vec<PathBuf>,
    /// Method, headers, body.
    pub request: Request,
    /// The `Accept` header (`*/*`, or `application/json` with `--json`).
    pub accept: String,
    /// `-i`: print the response head before the body.
    pub include_head: bool,
    /// `-s`: no progress bar, no warnings.
    pub silent: bool,
    /// `-L`: follow redirects.
    pub follow: bool,
    /// `--max-redirs`.
    pub max_redirs: u32,
    /// `--fail`: a status of 400 or more is an error (22) and its body is not shown.
    pub fail_on_error: bool,
    /// `--max-filesize`.
    pub max_filesize: Option<u64>,
    /// `-4` / `-6`.
    pub family: Family,
    /// `--connect-timeout`.
    pub connect_timeout: Duration,
    /// `--max-time`.
    pub max_time: Option<Duration>,
    /// `--idle-timeout`.
    pub idle_timeout: Duration,
    /// Whom TLS trusts.
    pub trust: Trust,
}

impl Options {
    /// Defaults for fetching `urls` with a plain GET, as the command line has them.
    pub fn new(urls: Vec<Target>) -> Self {
        Options {
            urls,
            outputs: Vec::new(),
            request: Request::get(),
            accept: "*/*".into(),
            include_head: false,
            silent: false,
            follow: false,
            max_redirs: DEFAULT_MAX_REDIRS,
            fail_on_error: false,
            max_filesize: None,
            family: Family::Any,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_time: None,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            trust: Trust::WebPkiRoots,
        }
    }
}

/// A run over several URLs: the options, the TLS settings, and the kept-alive connection.
pub struct Session {
    options: Options,
    tls: Option<Arc<rustls::ClientConfig>>,
    /// The connection left open by the last response, if the server allowed it.
    idle: Option<Connection>,
    next_id: u32,
    timeouts: Timeouts,
    wire: Wire,
}

/// Fetches every URL of `options`, in order, stopping at the first failure.
///
/// # Errors
/// The first failure, with its [`Kind`] (and so its exit code).
pub fn run(options: Options, wire: Wire) -> anyhow::Result<()> {
    let mut session = Session::new(options, wire);
    let result = session.run_all();
    session.close_idle();
    result
}

impl Session {
    /// A session with no connection yet.
    pub fn new(options: Options, wire: Wire) -> Self {
        let timeouts = Timeouts {
            connect: options.connect_timeout,
            idle: options.idle_timeout,
            deadline: options.max_time.map(|t| Instant::now() + t),
        };
        Session { options, tls: None, idle: None, next_id: 0, timeouts, wire }
    }

    fn run_all(&mut self) -> anyhow::Result<()> {
        let urls = self.options.urls.clone();
        for (i, url) in urls.iter().enumerate() {
            let output = match self.options.outputs.get(i) {
                Some(path) if path.as_os_str() == "-" => Output::StdoutAnyway,
                Some(path) => Output::File(path.clone()),
                None => Output::Stdout,
            };
            self.fetch(url, &output).with_context(|| format!("{url}"))?;
        }
        Ok(())
    }

    // ANCHOR: fetch
    /// Fetches one URL, following redirects with `-L`, and writes the body to `output`.
    ///
    /// # Errors
    /// See [`Kind`].
    pub fn fetch(&mut self, url: &Target, output: &Output) -> anyhow::Result<()> {
        let mut request = self.options.request.clone();
        let mut target = url.clone();
        let mut visited = vec![(request.method.clone(), target.to_string())];
        loop {
            let (conn, head) = self.exchange(&request, &target)?;
            let framing = response::framing(&head, request.is_head())?;
            if self.options.include_head || request.is_head() {
                write_head(&head)?;
            }
            // Byte-wise: a non-ASCII Location is percent-encoded as sent, whatever charset.
            let location = head
                .header_bytes("Location")
                .map(crate::target::encode_bytes)
                .filter(|_| is_redirect(head.status));
            if let (true, Some(location)) = (self.options.follow, location) {
                self.finish_quietly(conn, &head, framing);
                let next = target.join(&location)?;
                request = redirected_request(&request, head.status, &target, &next);
                self.wire.info(&format!(
                    "Following {} redirect: {} {next}",
                    head.status, request.method
                ));
                if visited.len() > self.options.max_redirs as usize {
                    return Err(fail(
                        Kind::Redirects,
                        format!("more than --max-redirs {} redirects", self.options.max_redirs),
                    ));
                }
                let step = (request.method.clone(), next.to_string());
                if visited.contains(&step) {
                    return Err(fail(Kind::Redirects, format!("redirect loop: {next} again")));
                }
                visited.push(step);
                target = next;
                continue;
            }
            if self.options.fail_on_error && head.status >= 400 {
                // Like curl --fail: no body, and the connection is not worth keeping.
                conn.close();
                return Err(fail(
                    Kind::HttpStatus,
                    format!("the server answered {} {}", head.status, head.reason),
                ));
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
            self.wire.info(&format!(
                "Re-using existing connection #{} with host {}",
                conn.id, target.host
            ));
            self.wire.request_head(head_part(&bytes));
            match conn.send_all(&bytes).and_then(|()| self.read_final_head(&mut conn)) {
                Ok(head) => return Ok((conn, head)),
                Err(err) if is_stale(&err, &conn) => {
                    self.wire.info(&format!(
                        "Connection #{} died before answering ({err:#}); retrying on a new one",
                        conn.id
                    ));
                    conn.close();
                }
                Err(err) => return Err(err),
            }
        }
        let mut conn = self.connect(target)?;
        self.wire.request_head(head_part(&bytes));
        conn.send_all(&bytes)?;
        let head = self.read_final_head(&mut conn)?;
        Ok((conn, head))
    }
    // ANCHOR_END: exchange

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

    fn take_idle(&mut self, target: &Target) -> Option<Connection> {
        match self.idle.take() {
            Some(mut conn) if *conn.origin() == target.origin() => match conn.check_idle() {
                // Nothing arrived while the connection sat idle: it is ready for a request.
                IdleState::Quiet => {
                    conn.set_timeouts(self.timeouts);
                    Some(conn)
                }
                IdleState::Closed => {
                    self.wire.info(&format!(
                        "Connection #{} was closed by the server while idle",
                        conn.id
                    ));
                    conn.close();
                    None
                }
                IdleState::Unsolicited(n) => {
                    self.wire.info(&format!(
                        "Excess found: {n} bytes arrived on idle connection #{} before any \
                         request; closing it",
                        conn.id
                    ));
                    conn.close();
                    None
                }
            },
            Some(other) => {
                self.wire.info(&format!("Closing connection #{} (another host)", other.id));
                other.close();
                None
            }
            None => None,
        }
    }

    fn connect(&mut self, target: &Target) -> anyhow::Result<Connection> {
        let tls = if conn::needs_tls(target) {
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
        conn::open(target, id, self.options.family, tls, self.timeouts, &self.wire)
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
        let mut stdout;
        let mut file;
        let out: &mut dyn Write = match output {
            Output::Stdout | Output::StdoutAnyway => {
                stdout = io::stdout().lock();
                &mut stdout
            }
            Output::File(path) => {
                file = File::create(path).map_err(|e| {
                    fail_because(Kind::Write, format!("could not create {}", path.display()), e)
                })?;
                &mut file
            }
        };
        let bar = self.progress_bar(framing, output);
        let mut sink = Sink::new(out, self.options.max_filesize, bar.as_ref());
        sink.refuse_binary = matches!(output, Output::Stdout) && io::stdout().is_terminal();
        let result = response::read_body(&mut conn, framing, &mut sink).and_then(|()| sink.flush());
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
        if small && response::read_body(&mut conn, framing, &mut sink).is_ok() {
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

    fn close_idle(&mut self) {
        if let Some(conn) = self.idle.take() {
            conn.close();
        }
    }

    fn progress_bar(&self, framing: Framing, output: &Output) -> Option<indicatif::ProgressBar> {
        let to_file = matches!(output, Output::File(_));
        if self.options.silent || !to_file || !io::stderr().is_terminal() {
            return None;
        }
        let style = |template: &str| {
            indicatif::ProgressStyle::with_template(template)
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        };
        match framing {
            Framing::Length(len) if len >= PROGRESS_MIN => {
                let bar = indicatif::ProgressBar::new(len);
                bar.set_style(style(
                    "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
                ));
                Some(bar)
            }
            Framing::Chunked | Framing::UntilClose => {
                let bar = indicatif::ProgressBar::new_spinner();
                bar.set_style(style("{spinner} {bytes} {binary_bytes_per_sec}"));
                Some(bar)
            }
            _ => None,
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

fn write_head(head: &Head) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(&head.raw)
        .and_then(|()| out.flush())
        .map_err(|e| fail_because(Kind::Write, "could not write the head", e))
}

/// The statuses `-L` follows.
fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

// ANCHOR: redirect_rules
/// The request to send to a redirect's target (RFC 9110 §15.4):
/// - 303 See Other: always `GET` (a `HEAD` stays `HEAD`), without the body;
/// - 301 and 302: a `POST` becomes a `GET` without body, as every browser and curl do, though
///   the RFC only allows it; other methods are kept;
/// - 307 and 308: method and body are kept, which is why those two codes exist.
///
/// `Authorization` and `Cookie` headers are dropped when the redirect leaves the origin, so a
/// password is never handed to another host.
fn redirected_request(request: &Request, status: u16, from: &Target, to: &Target) -> Request {
    let mut next = request.clone();
    let becomes_get = match status {
        303 => !request.is_head(),
        301 | 302 => request.method.eq_ignore_ascii_case("POST"),
        _ => false,
    };
    if becomes_get {
        next.method = "GET".into();
        next.body = None;
        next.headers.retain(|(name, _)| !name.eq_ignore_ascii_case("Content-Type"));
    }
    if from.origin() != to.origin() {
        next.headers.retain(|(name, _)| {
            !name.eq_ignore_ascii_case("Authorization") && !name.eq_ignore_ascii_case("Cookie")
        });
    }
    next
}
// ANCHOR_END: redirect_rules

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Body;

    fn post() -> Request {
        Request {
            method: "POST".into(),
            headers: vec![("Authorization".into(), Some("Bearer x".into()))],
            body: Some(Body { data: b"a=1".to_vec(), content_type: "x/form" }),
        }
    }

    #[test]
    fn redirect_rules_per_status() {
        let here = Target::parse("http://h/a").expect("url");
        let there = Target::parse("http://h/b").expect("url");
        for status in [301, 302, 303] {
            let next = redirected_request(&post(), status, &here, &there);
            assert_eq!((next.method.as_str(), next.body.is_none()), ("GET", true), "{status}");
        }
        for status in [307, 308] {
            let next = redirected_request(&post(), status, &here, &there);
            assert_eq!((next.method.as_str(), next.body.is_some()), ("POST", true), "{status}");
        }
        let head = Request { method: "HEAD".into(), ..Request::get() };
        assert_eq!(redirected_request(&head, 303, &here, &there).method, "HEAD");
        let put = Request { method: "PUT".into(), ..post() };
        assert_eq!(redirected_request(&put, 301, &here, &there).method, "PUT");
    }

    #[test]
    fn credentials_stay_on_their_origin() {
        let here = Target::parse("http://h/a").expect("url");
        let same = Target::parse("http://h/b").expect("url");
        let other = Target::parse("http://evil/b").expect("url");
        assert_eq!(redirected_request(&post(), 307, &here, &same).headers.len(), 1);
        assert!(redirected_request(&post(), 307, &here, &other).headers.is_empty());
    }
}
