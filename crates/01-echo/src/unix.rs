//! The same echo over a Unix-domain socket (`--unix PATH`): server side and client side.
//!
//! A Unix-domain socket (`AF_UNIX`) connects processes on one machine. Its address is a path in
//! the file system instead of an IP address and a port; everything else is the TCP lesson
//! again: `socket`, `bind`, `listen`, `accept`, then `recv` and `send` until the peer closes.
//! So the server here is the TCP server's loop with another listener type, and it serves each
//! client with the same [`crate::session::serve_one`] and echo loop, which work on any
//! [`crate::stream::Stream`]. What is new is the file: `bind` creates it, nothing removes it
//! when the socket closes, and a crashed server leaves it behind.

use std::io;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use common::accept::AcceptPolicy;
use common::narrate;
use common::narrate::Narrator;
use common::report::{Doing, Transport, doing};
use common::step;
use common::stop::Stop;
use socket2::{Domain, SockAddr, Socket, Type};

use crate::listen::backlog_cap_note;
use crate::session::{Config, Summary, serve_one};

// ANCHOR: run_server
/// The `server --unix PATH` command: listen at `path`, serve until Ctrl-C, print a summary.
///
/// # Errors
/// When the listening socket cannot be set up; see [`listen`].
pub fn run_server(path: &Path, config: &Config) -> Result<()> {
    let stop = Stop::new();
    stop.trigger_on_ctrl_c()?;
    let (listener, file) = listen(path, config.backlog, config.narrator)?;
    println!("listening on unix:{}", path.display());
    // On stop, connect to ourselves through the file: accept() returns, the loop sees the flag.
    let wake = SockAddr::unix(path).ok();
    let _wake_accept = stop.watch(move || {
        if let (Some(addr), Ok(socket)) = (&wake, Socket::new(Domain::UNIX, Type::STREAM, None)) {
            let _ = socket.connect(addr);
        }
    });
    let summary = accept_loop(&listener, config, &stop);
    narrate::close(config.narrator, listener, " (the listening socket)");
    // Closing the socket does not remove its file; dropping `file` does.
    drop(file);
    eprintln!("server stopped: {summary}");
    Ok(())
}
// ANCHOR_END: run_server

// ANCHOR: listen_unix
/// Builds a listening Unix-domain socket at `path`: the address is a file, not a port.
///
/// # Errors
/// When the path is too long, is taken by a live server or a file that is not a socket, or
/// `bind`/`listen` fail (a missing folder, no permission).
pub fn listen(path: &Path, backlog: i32, n: Narrator) -> Result<(UnixListener, SocketFile)> {
    remove_stale_socket_file(path)?;
    step!(n, "socket(AF_UNIX, SOCK_STREAM)");
    let socket =
        Socket::new(Domain::UNIX, Type::STREAM, None).context("could not create a socket")?;
    narrate!(n, &socket, "socket(AF_UNIX, SOCK_STREAM) -> {}", narrate::fd(&socket));
    // sockaddr_un holds the path in a fixed array (sun_path): 108 bytes on Linux, 104 on macOS,
    // including the terminating NUL.
    let addr = SockAddr::unix(path).with_context(|| {
        format!("{} is not a usable socket path (at most 107 bytes on Linux)", path.display())
    })?;
    step!(n, &socket, "bind({:?})", path);
    socket.bind(&addr).with_context(|| {
        doing(Doing::Bind(Transport::Unix), format!("could not bind {}", path.display()))
    })?;
    narrate!(n, &socket, "bind({:?})", path);
    // From here the file exists and is ours: SocketFile removes it when the server ends.
    let file = SocketFile(path.to_owned());
    step!(n, &socket, "listen(backlog={backlog})");
    socket.listen(backlog).with_context(|| format!("could not listen on {}", path.display()))?;
    narrate!(n, &socket, "listen(backlog={backlog}){}", backlog_cap_note(backlog));
    let listener = UnixListener::from(std::os::fd::OwnedFd::from(socket));
    Ok((listener, file))
}
// ANCHOR_END: listen_unix

// ANCHOR: stale
/// A server that crashed leaves its socket file behind, and `bind` then fails with "Address
/// already in use". A file nobody answers on is stale and safe to remove; anything else is not
/// ours to delete.
fn remove_stale_socket_file(path: &Path) -> Result<()> {
    use std::os::unix::fs::FileTypeExt;

    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(()); // Nothing there: the normal case.
    };
    if !meta.file_type().is_socket() {
        anyhow::bail!("{} exists and is not a socket; not replacing it", path.display());
    }
    match UnixStream::connect(path) {
        Ok(_) => anyhow::bail!("another server is already listening on {}", path.display()),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            std::fs::remove_file(path).with_context(|| {
                format!("could not remove stale socket file {}", path.display())
            })?;
            eprintln!(
                "removed stale socket file {} (no server was listening on it)",
                path.display()
            );
            Ok(())
        }
        Err(e) => Err(e).with_context(|| format!("could not check {}", path.display())),
    }
}
// ANCHOR_END: stale

/// The TCP server's loop over a Unix listener: accept one client, serve it, close, repeat.
fn accept_loop(listener: &UnixListener, config: &Config, stop: &Arc<Stop>) -> Summary {
    let n = config.narrator;
    let mut summary = Summary::default();
    let mut buf = vec![0u8; config.buf_size];
    let mut accept_errors = AcceptPolicy::new(n);
    while !stop.is_stopping() {
        step!(n, listener, "accept()");
        let (mut conn, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) => match accept_errors.recover(e) {
                Ok(()) => continue,
                Err(_) => break,
            },
        };
        accept_errors.accepted();
        if stop.is_stopping() {
            break; // Our own wake-up call; a Unix socket leaves no TIME_WAIT behind.
        }
        // A client that never called bind() has an unnamed address: nothing to print.
        let peer = match peer.as_pathname() {
            Some(path) => format!("unix:{}", path.display()),
            None => "an unnamed unix socket".to_owned(),
        };
        narrate!(n, (listener, &conn), "accept() -> {}, peer {peer}", narrate::fd(&conn));
        println!("Connected by {peer}");
        summary.connections += 1;
        summary.bytes_echoed += serve_one(&mut conn, &peer, &mut buf, config, stop);
        narrate::close(n, conn, "");
    }
    summary
}

// ANCHOR: connect_unix
/// The client side: `socket(AF_UNIX)` and `connect(path)`, which std does in one call.
///
/// # Errors
/// When nobody listens at `path` (no file: "No such file or directory"; a stale file:
/// "Connection refused").
pub fn connect(path: &Path, n: Narrator) -> Result<UnixStream> {
    step!(n, "socket(AF_UNIX, SOCK_STREAM) and connect({:?})", path);
    let stream = UnixStream::connect(path).with_context(|| {
        doing(
            Doing::Connect(Transport::Unix),
            format!("could not connect to unix:{}", path.display()),
        )
    })?;
    narrate!(n, "socket(AF_UNIX, SOCK_STREAM) -> {}", narrate::fd(&stream));
    narrate!(n, &stream, "connect({:?})", path);
    Ok(stream)
}
// ANCHOR_END: connect_unix

/// The path of a Unix socket this process bound. Binding creates the file; nothing removes it
/// when the socket closes, so we do, or the next `bind` fails with "Address already in use".
#[derive(Debug)]
pub struct SocketFile(pub PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
