//! How every `main` ends: the result of the run becomes an exit code and, on failure, an
//! `error: …` line and, where it helps, one `hint:` line that teaches.
//!
//! ```text
//! error: could not bind 127.0.0.1:65432: Address already in use (os error 98)
//! hint: another program is listening on that address, or ...
//! ```
//!
//! Exit codes follow the workspace convention: 0 success, 1 runtime error (network, I/O),
//! 2 usage error (clap reports those itself before `run` is reached).

use std::io;
use std::process::ExitCode;

/// Exit code for a runtime failure (network, I/O). Usage errors exit with 2, from clap.
pub const EXIT_RUNTIME: u8 = 1;

/// Replaces the panic message and backtrace, which a user should never see, with plain words.
///
/// `println!` panics when stdout is a pipe whose reader has gone (`01-echo client | head`): Rust
/// ignores SIGPIPE, which would have ended a C program quietly. That case exits quietly with
/// [`EXIT_RUNTIME`]. Any other panic is a bug, and says so in one `error:` line.
/// Call it first thing in `main`.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("(no message)");
        if message.contains("Broken pipe") {
            std::process::exit(i32::from(EXIT_RUNTIME));
        }
        let place = info.location().map(|l| format!(" at {l}")).unwrap_or_default();
        eprintln!("error: internal error{place}: {message} (this is a bug; please report it)");
    }));
}

/// Prints `error: …` (the whole context chain, outermost first) and a hint, then returns the
/// exit code for `result`.
pub fn exit_code(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            if let Some(hint) = hint_for(&err) {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

/// The teaching hint for an error, chosen by the operating-system error underneath it.
///
/// The hints are about the socket idea behind the error, so they fit every chapter.
pub fn hint_for(err: &anyhow::Error) -> Option<&'static str> {
    let io_err = err.chain().find_map(|cause| cause.downcast_ref::<io::Error>())?;
    hint_for_kind(io_err.kind())
}

/// The hint for one kind of I/O error, or `None` when there is nothing useful to add.
pub fn hint_for_kind(kind: io::ErrorKind) -> Option<&'static str> {
    use io::ErrorKind::*;
    Some(match kind {
        ConnectionRefused => {
            "nothing is listening there (TCP hears this as a reset, UDP as an ICMP port \
             unreachable): is the server running? Start it with `server` in another terminal, \
             on the same host and port"
        }
        AddrInUse => {
            "another socket is bound to that address and port (`ss -tulpn` lists them), or a TCP \
             server that just stopped left connections in TIME_WAIT (binding over them needs \
             SO_REUSEADDR, on Linux on both the old and the new socket)"
        }
        AddrNotAvailable => {
            "no network interface of this machine has that address; `ip addr` lists the ones it \
             has (127.0.0.1 and ::1 always work)"
        }
        PermissionDenied => {
            "the kernel refused: ports below 1024 need root or CAP_NET_BIND_SERVICE, a broadcast \
             address needs SO_BROADCAST, and a Unix socket path needs write permission on its \
             folder"
        }
        NotFound => {
            "nothing exists at that path: a Unix socket file appears when a server binds it, \
             so start the server (with --unix PATH) first"
        }
        ConnectionReset => "the peer closed the connection abruptly (it sent RST), e.g. it crashed",
        BrokenPipe => "the peer closed its end while we were still sending",
        TimedOut | WouldBlock => "the peer did not answer within the timeout",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn hint_is_found_beneath_context() {
        let err = Err::<(), _>(io::Error::from(io::ErrorKind::ConnectionRefused))
            .context("could not connect to 127.0.0.1:1")
            .unwrap_err();
        assert!(hint_for(&err).unwrap_or_default().contains("is the server running"));
    }

    #[test]
    fn privileged_port_hint_names_the_rule() {
        let hint = hint_for_kind(io::ErrorKind::PermissionDenied).unwrap_or_default();
        assert!(hint.contains("below 1024") && hint.contains("SO_BROADCAST"));
    }

    #[test]
    fn plain_errors_have_no_hint() {
        assert!(hint_for(&anyhow::anyhow!("bad input")).is_none());
    }
}
