//! What a server does when `accept()` fails: one policy, written once, used by every accept
//! loop in the workspace.
//!
//! `accept()` fails for three very different reasons, and a server that treats them alike
//! either dies on a harmless error or spins at 100 % CPU on a lasting one:
//!
//! - **this one connection** went wrong ([`AcceptError::Transient`]): the client gave up while
//!   it waited in the queue (`ECONNABORTED`), a signal interrupted the call (`EINTR`), or, on
//!   Linux, the new connection already carries a network error (`EPROTO`, `ENETDOWN`,
//!   `EHOSTUNREACH`, … which accept(2) says to treat like "try again"). The next client in
//!   the queue is fine, so accept again at once.
//! - **the process or the system ran out of something** ([`AcceptError::Exhausted`]):
//!   descriptors (`EMFILE` for this process, `ENFILE` for the whole system) or kernel memory
//!   (`ENOBUFS`, `ENOMEM`). Trying again at once fails again at once, forever: that is the
//!   busy loop. The clients are not lost, they wait in the kernel's accept queue, so the
//!   server pauses accepting for [`ACCEPT_BACKOFF`] (an event loop: until a timer fires) and
//!   says so once, not once per attempt.
//! - **anything else** ([`AcceptError::Fatal`]): the listening socket itself is broken
//!   (`EBADF`, `EINVAL`, `ENOTSOCK`); retrying cannot help, so the server reports it and ends.
//!
//! A non-blocking listener adds a fourth answer, [`AcceptError::QueueEmpty`] (`EAGAIN`): not
//! an error at all, just "wait for the next readiness event".

use std::io;
use std::time::Duration;

use crate::narrate;
use crate::narrate::Narrator;

/// How long a server waits before accepting again when it is out of descriptors or memory:
/// long enough that a lasting shortage costs about ten failed calls a second, short enough that
/// the queued clients barely notice once a connection closes and frees a descriptor.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The four kinds of `accept()` failure, each with its own answer (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptError {
    /// Non-blocking listener, nobody waiting: wait for readiness.
    QueueEmpty,
    /// This connection failed; accept the next one at once.
    Transient,
    /// Out of descriptors or memory; pause accepting, then try again.
    Exhausted,
    /// The listener is broken; stop and report.
    Fatal,
}

/// Sorts an `accept()` error into its kind, by name (never by a number written by hand: the
/// numbers differ between systems, and a wrong one turns an unrelated error into a wrong
/// answer).
pub fn classify(err: &io::Error) -> AcceptError {
    use io::ErrorKind::*;
    match err.kind() {
        WouldBlock => return AcceptError::QueueEmpty,
        Interrupted | ConnectionAborted | ConnectionReset | HostUnreachable
        | NetworkUnreachable | NetworkDown => return AcceptError::Transient,
        OutOfMemory => return AcceptError::Exhausted,
        _ => {}
    }
    classify_errno(err)
}

/// The errors `io::ErrorKind` has no name for, by their `libc` names.
#[cfg(unix)]
fn classify_errno(err: &io::Error) -> AcceptError {
    match err.raw_os_error() {
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => AcceptError::Exhausted,
        // accept(2) on Linux: "treat them like EAGAIN by retrying"; EPERM is a firewall rule
        // refusing this one connection.
        Some(
            libc::EPROTO
            | libc::ENOPROTOOPT
            | libc::EHOSTDOWN
            | libc::EOPNOTSUPP
            | libc::ETIMEDOUT
            | libc::EPERM,
        ) => AcceptError::Transient,
        #[cfg(target_os = "linux")]
        Some(libc::ENONET) => AcceptError::Transient,
        _ => AcceptError::Fatal,
    }
}

/// Elsewhere only the named kinds above are known; the rest is reported rather than retried.
#[cfg(not(unix))]
fn classify_errno(_err: &io::Error) -> AcceptError {
    AcceptError::Fatal
}

/// What the accept loop should do next, after [`AcceptPolicy::after_error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptStep {
    /// Call `accept()` again now.
    AcceptAgain,
    /// The queue is empty: go back to waiting for readiness.
    WaitForReadiness,
    /// Stop accepting for this long (a blocking loop sleeps; an event loop sets a timer).
    BackOff(Duration),
    /// The listener is broken: end the loop and report the error.
    GiveUp,
}

/// One accept loop's memory of its errors: whether it has already said that it is backing off,
/// so a lasting shortage prints one line, when it starts.
#[derive(Debug)]
pub struct AcceptPolicy {
    backing_off: bool,
    n: Narrator,
}

impl AcceptPolicy {
    /// A policy for one accept loop; `n` narrates the transient errors under `--trace`.
    pub fn new(n: Narrator) -> Self {
        Self { backing_off: false, n }
    }

    /// Decides what to do after `accept()` returned `err`, saying so on stderr when a shortage
    /// starts (once) or the listener breaks.
    pub fn after_error(&mut self, err: &io::Error) -> AcceptStep {
        match classify(err) {
            AcceptError::QueueEmpty => AcceptStep::WaitForReadiness,
            AcceptError::Transient => {
                narrate!(self.n, "accept() -> {err}: that client is lost, the next is not");
                AcceptStep::AcceptAgain
            }
            AcceptError::Exhausted => {
                if !self.backing_off {
                    self.backing_off = true;
                    // The queued clients are not lost: they wait until a descriptor is free.
                    eprintln!(
                        "accept: {err}; pausing accept for {} ms at a time",
                        ACCEPT_BACKOFF.as_millis()
                    );
                }
                AcceptStep::BackOff(ACCEPT_BACKOFF)
            }
            AcceptError::Fatal => {
                eprintln!("accept: {err}; the listening socket is broken, stopping");
                AcceptStep::GiveUp
            }
        }
    }

    /// Call after each successful `accept()`: the shortage is over, and the next one will be
    /// reported again.
    pub fn accepted(&mut self) {
        self.backing_off = false;
    }

    /// For a blocking accept loop: acts on `err` in place (sleeps through a back-off) and
    /// returns `Ok` when the loop should go on.
    ///
    /// # Errors
    /// Returns `err` itself when it is fatal: the loop should end and report it.
    pub fn recover(&mut self, err: io::Error) -> io::Result<()> {
        match self.after_error(&err) {
            AcceptStep::AcceptAgain | AcceptStep::WaitForReadiness => Ok(()),
            AcceptStep::BackOff(pause) => {
                std::thread::sleep(pause);
                Ok(())
            }
            AcceptStep::GiveUp => Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_sorted_by_name() {
        let kind = |e: io::Error| classify(&e);
        assert_eq!(kind(io::ErrorKind::WouldBlock.into()), AcceptError::QueueEmpty);
        assert_eq!(kind(io::ErrorKind::ConnectionAborted.into()), AcceptError::Transient);
        assert_eq!(kind(io::ErrorKind::Interrupted.into()), AcceptError::Transient);
        assert_eq!(kind(io::ErrorKind::OutOfMemory.into()), AcceptError::Exhausted);
        #[cfg(unix)]
        {
            let os = io::Error::from_raw_os_error;
            assert_eq!(kind(os(libc::EMFILE)), AcceptError::Exhausted);
            assert_eq!(kind(os(libc::ENFILE)), AcceptError::Exhausted);
            assert_eq!(kind(os(libc::ENOBUFS)), AcceptError::Exhausted);
            assert_eq!(kind(os(libc::EPROTO)), AcceptError::Transient);
            assert_eq!(kind(os(libc::ECONNABORTED)), AcceptError::Transient);
            assert_eq!(kind(os(libc::EBADF)), AcceptError::Fatal);
            assert_eq!(kind(os(libc::EINVAL)), AcceptError::Fatal);
        }
    }

    #[test]
    fn a_shortage_backs_off_and_a_broken_listener_gives_up() {
        let mut policy = AcceptPolicy::new(Narrator::new("test", false));
        let exhausted = io::Error::from(io::ErrorKind::OutOfMemory);
        assert_eq!(policy.after_error(&exhausted), AcceptStep::BackOff(ACCEPT_BACKOFF));
        assert_eq!(policy.after_error(&exhausted), AcceptStep::BackOff(ACCEPT_BACKOFF));
        let broken = io::Error::from(io::ErrorKind::InvalidInput);
        assert!(policy.recover(broken).is_err());
    }
}
