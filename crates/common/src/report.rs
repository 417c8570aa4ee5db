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

/// What the program was doing when an error happened. The same error number means different
/// things in different calls (`ENOENT` from `bind` on a Unix socket is a missing folder, from
/// `connect` a server that is not there), so the hint is chosen by both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Doing {
    /// Binding a socket of this kind to an address or a path.
    Bind(Transport),
    /// Connecting a socket of this kind.
    Connect(Transport),
    /// Sending on a socket of this kind.
    Send(Transport),
    /// Opening a packet socket to capture traffic (chapter 07's `capture`).
    Capture,
}

/// The kind of socket an operation was on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP over IPv4 or IPv6.
    Tcp,
    /// UDP over IPv4 or IPv6.
    Udp,
    /// A Unix-domain stream socket (a path in the file system).
    Unix,
}

/// An error context that also says what was being done: its text is what `error:` shows, its
/// [`Doing`] is what [`hint_for`] reads. Attach it like any context:
/// `.with_context(|| report::doing(Doing::Bind(Transport::Udp), format!("could not bind {a}")))`.
#[derive(Debug)]
pub struct DoingContext {
    doing: Doing,
    message: String,
}

impl std::fmt::Display for DoingContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The context `message`, marked as happening while `doing`.
pub fn doing(doing: Doing, message: impl Into<String>) -> DoingContext {
    DoingContext { doing, message: message.into() }
}

/// The teaching hint for an error, chosen by the operating-system error underneath it and,
/// when the error says so (a [`DoingContext`] in its chain), by what was being done.
pub fn hint_for(err: &anyhow::Error) -> Option<&'static str> {
    let io_err = err.chain().find_map(|cause| cause.downcast_ref::<io::Error>())?;
    // anyhow finds a context of this type at any depth of the chain.
    let doing = err.downcast_ref::<DoingContext>();
    match doing {
        Some(context) => hint_while(io_err.kind(), context.doing),
        None => hint_for_kind(io_err.kind()),
    }
}

/// The hint for `kind` met while `doing`, where the operation changes the meaning; otherwise
/// the general hint of [`hint_for_kind`].
pub fn hint_while(kind: io::ErrorKind, doing: Doing) -> Option<&'static str> {
    use Transport::*;
    use io::ErrorKind::*;
    Some(match (kind, doing) {
        (AddrInUse, Doing::Bind(Udp)) => {
            "another UDP socket is bound to that address and port (`ss -uapn` lists them); UDP \
             has no connections and so no TIME_WAIT: the port is free as soon as that program \
             closes its socket"
        }
        (AddrInUse, Doing::Bind(Unix)) => {
            "a file already exists at that path (perhaps another server's socket: `ss -xlp` \
             lists them), and bind() never replaces one: choose another path, or remove the \
             file once you know nothing uses it"
        }
        (NotFound, Doing::Bind(Unix)) => {
            "the folder for the socket file does not exist: bind() creates the socket file, \
             but not the folders above it (create them first, e.g. with mkdir -p)"
        }
        (PermissionDenied, Doing::Bind(Unix)) => {
            "bind() creates the socket file, which needs write permission on its folder"
        }
        (PermissionDenied, Doing::Bind(Tcp | Udp)) => {
            "the kernel refused: ports below 1024 need root or CAP_NET_BIND_SERVICE \
             (`sysctl net.ipv4.ip_unprivileged_port_start` shows where they start)"
        }
        (PermissionDenied, Doing::Send(Udp)) => {
            "the kernel refused the datagram: a broadcast address needs SO_BROADCAST, and a \
             firewall rule can refuse a destination too"
        }
        (PermissionDenied, Doing::Connect(Unix)) => {
            "connecting to a Unix socket needs write permission on the socket file"
        }
        (PermissionDenied, Doing::Capture) => {
            "a packet socket sees every packet on the machine, so the kernel opens one only for \
             root or a program with CAP_NET_RAW: run it with sudo (`sudo 07-ip-notes capture \
             --port PORT`), or give the binary that capability once (`sudo setcap cap_net_raw+ep \
             $(command -v 07-ip-notes)`)"
        }
        (NotFound, Doing::Connect(Unix)) => {
            "nothing exists at that path: a Unix socket file appears when a server binds it, \
             so start the server (with --unix PATH) first"
        }
        _ => return hint_for_kind(kind),
    })
}

/// The hint for one kind of I/O error when nothing is known of the operation, or `None` when
/// there is nothing useful to add.
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

    fn hint_while_doing(kind: io::ErrorKind, what: Doing) -> String {
        let err = Err::<(), _>(io::Error::from(kind))
            .with_context(|| doing(what, "could not do it"))
            .context("outer")
            .unwrap_err();
        hint_for(&err).unwrap_or_default().to_owned()
    }

    #[test]
    fn the_operation_chooses_the_hint() {
        use io::ErrorKind::*;
        let udp_in_use = hint_while_doing(AddrInUse, Doing::Bind(Transport::Udp));
        assert!(udp_in_use.contains("no TIME_WAIT"), "{udp_in_use}");
        let tcp_in_use = hint_while_doing(AddrInUse, Doing::Bind(Transport::Tcp));
        assert!(tcp_in_use.contains("SO_REUSEADDR"), "{tcp_in_use}");
        let no_folder = hint_while_doing(NotFound, Doing::Bind(Transport::Unix));
        assert!(no_folder.contains("folder") && !no_folder.contains("start the server"));
        let no_server = hint_while_doing(NotFound, Doing::Connect(Transport::Unix));
        assert!(no_server.contains("start the server"), "{no_server}");
        let capture = hint_while_doing(PermissionDenied, Doing::Capture);
        assert!(capture.contains("CAP_NET_RAW") && capture.contains("sudo"), "{capture}");
        let low_port = hint_while_doing(PermissionDenied, Doing::Bind(Transport::Tcp));
        assert!(low_port.contains("below 1024") && !low_port.contains("SO_BROADCAST"));
    }

    #[test]
    fn plain_errors_have_no_hint() {
        assert!(hint_for(&anyhow::anyhow!("bad input")).is_none());
    }
}
