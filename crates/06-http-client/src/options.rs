//! What the command line decides for a run: the URLs, the request, where bodies go, and the
//! limits. A leaf: `main.rs` fills it in, `client.rs` reads it.

use std::path::PathBuf;
use std::time::Duration;

use crate::connect::Family;
use crate::request::Request;
use crate::target::Target;
use crate::tls::Trust;

/// 10 s for each `connect()` and TLS handshake: on loopback a connect takes microseconds and
/// across the world well under a second, so ten seconds of silence is a dead or filtered host.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// 30 s of silence in the middle of a response and we stop waiting (`--idle-timeout`).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// 10 redirects at most by default, as curl's `--max-redirs` (and browsers allow about 20).
pub const DEFAULT_MAX_REDIRS: u32 = 10;

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
