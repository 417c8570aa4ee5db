//! What went wrong, as an exit code a script can test.
//!
//! A shell script that calls a downloader wants to know more than "it failed": a name that does
//! not resolve is a typo, a refused connection is a server that is down, a timeout may be worth
//! retrying, a certificate error never is. So every failure carries a [`Kind`], and the kind
//! picks the exit code. The numbers are curl's own (see `man curl`, "EXIT CODES"), so a script
//! written for curl reads ours the same way; 2 stays the workspace's usage error (clap).

use std::fmt;
use std::io;

/// The kinds of failure, each with its own exit code (curl's numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 1: anything else (reading `--data-binary @FILE`, an unsupported scheme, ...).
    Other,
    /// 3: the URL (on the command line or in a redirect's `Location`) is malformed.
    Malformed,
    /// 6: the host name did not resolve (getaddrinfo failed or gave no address).
    Resolve,
    /// 7: every address refused or was unreachable.
    Connect,
    /// 8: the server's bytes are not HTTP/1.x as RFC 9112 frames it.
    Protocol,
    /// 18: the connection closed before the body was complete.
    Partial,
    /// 22: `--fail` and a status of 400 or more.
    HttpStatus,
    /// 23: the body could not be written to the output (or would mess up the terminal).
    Write,
    /// 28: `--connect-timeout`, `--max-time` or the idle timeout ran out.
    Timeout,
    /// 35: the TLS handshake failed (not a certificate problem).
    Tls,
    /// 47: more redirects than `--max-redirs`, or a redirect loop.
    Redirects,
    /// 55: sending the request failed (the server reset or closed the connection meanwhile).
    Send,
    /// 56: receiving failed: the server reset the connection (TCP RST).
    Recv,
    /// 60: the server's certificate could not be verified.
    Certificate,
    /// 63: the body is larger than `--max-filesize`.
    FileSize,
}

// ANCHOR: exit_code
impl Kind {
    /// The process exit code for this kind of failure.
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Other => 1,
            Kind::Malformed => 3,
            Kind::Resolve => 6,
            Kind::Connect => 7,
            Kind::Protocol => 8,
            Kind::Partial => 18,
            Kind::HttpStatus => 22,
            Kind::Write => 23,
            Kind::Timeout => 28,
            Kind::Tls => 35,
            Kind::Redirects => 47,
            Kind::Send => 55,
            Kind::Recv => 56,
            Kind::Certificate => 60,
            Kind::FileSize => 63,
        }
    }
}
// ANCHOR_END: exit_code

/// An error with its [`Kind`] and, when an I/O error caused it, that error as its `source`.
/// `anyhow` context can be stacked on top, and [`kind_of`] finds it again underneath.
///
/// The cause is kept *inside* the `Failure`, never the other way round: a `Failure` given to
/// `.context(...)` as an `anyhow::Error` is only a message to `anyhow`, its kind cannot be
/// found again, and the exit code fell back to a guess from the bare I/O error (a reset
/// exited 1, an unwritable `-o` file 1, a TLS peer closing mid-handshake 18).
#[derive(Debug)]
pub struct Failure {
    /// What kind of failure, hence the exit code.
    pub kind: Kind,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A new error of `kind`.
pub fn fail(kind: Kind, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Failure { kind, message: message.into(), source: None })
}

/// A new error of `kind`, caused by `source` (an I/O error, say), which stays in the chain:
/// `error: could not read from the server: Connection reset by peer (os error 104)`.
pub fn fail_because(
    kind: Kind,
    message: impl Into<String>,
    source: impl std::error::Error + Send + Sync + 'static,
) -> anyhow::Error {
    anyhow::Error::new(Failure { kind, message: message.into(), source: Some(Box::new(source)) })
}

/// Shorthand for the most common kind: the server broke the protocol.
pub fn protocol(message: impl Into<String>) -> anyhow::Error {
    fail(Kind::Protocol, message)
}

/// The kind of an error: the [`Failure`] in its chain, else a guess from the I/O error in it,
/// else [`Kind::Other`].
pub fn kind_of(err: &anyhow::Error) -> Kind {
    if let Some(failure) = err.chain().find_map(|cause| cause.downcast_ref::<Failure>()) {
        return failure.kind;
    }
    match err.chain().find_map(|cause| cause.downcast_ref::<io::Error>()) {
        Some(io_err) => kind_of_io(io_err),
        None => Kind::Other,
    }
}

/// The kind of an I/O error met while talking to the server.
pub fn kind_of_io(err: &io::Error) -> Kind {
    use io::ErrorKind::*;
    if let Some(tls) = err.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        return kind_of_tls(tls);
    }
    if common::timeout::is_timeout(err) {
        return Kind::Timeout;
    }
    match err.kind() {
        UnexpectedEof => Kind::Partial,
        // The peer's kernel sent a RST: the connection is gone, whatever we were doing.
        ConnectionReset | ConnectionAborted => Kind::Recv,
        ConnectionRefused | HostUnreachable | NetworkUnreachable | AddrNotAvailable => {
            Kind::Connect
        }
        _ => Kind::Other,
    }
}

/// A certificate problem is 60, any other TLS failure 35, as curl counts them.
pub fn kind_of_tls(err: &rustls::Error) -> Kind {
    match err {
        rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => {
            Kind::Certificate
        }
        _ => Kind::Tls,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn the_kind_is_found_under_context() {
        let err = Err::<(), _>(protocol("bad chunk size")).context("could not read").unwrap_err();
        assert_eq!(kind_of(&err), Kind::Protocol);
        assert_eq!(kind_of(&err).exit_code(), 8);
    }

    #[test]
    fn the_kind_survives_wrapping_an_io_error_and_the_io_error_stays_visible() {
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        let err = Err::<(), _>(fail_because(Kind::Write, "could not write the body", reset))
            .context("http://h/")
            .unwrap_err();
        assert_eq!(kind_of(&err), Kind::Write);
        assert!(err.chain().any(|c| c.downcast_ref::<io::Error>().is_some()));
        assert!(format!("{err:#}").ends_with("could not write the body: connection reset"));
    }

    #[test]
    fn io_errors_map_to_curl_codes() {
        let timeout = anyhow::Error::new(io::Error::from(io::ErrorKind::TimedOut));
        assert_eq!(kind_of(&timeout).exit_code(), 28);
        let refused = anyhow::Error::new(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert_eq!(kind_of(&refused).exit_code(), 7);
        let tls = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert_eq!(kind_of(&anyhow::Error::new(tls)).exit_code(), 60);
    }
}
