//! One connection type for the two kinds of stream socket this chapter uses.
//!
//! A TCP socket (`AF_INET`/`AF_INET6`) and a Unix-domain socket (`AF_UNIX`) behave the same
//! once connected: `recv`, `send`, `shutdown`, `close`. Only the addresses differ (an IP and a
//! port, or a path in the file system). [`Conn`] and [`Listener`] let the echo code stay the
//! same for both.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
#[cfg(unix)]
use std::os::unix::net::{UnixListener, UnixStream};
#[cfg(unix)]
use std::path::PathBuf;
use std::time::Duration;

/// Where a server listens or a client connects.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// An IP host (literal or name) and a TCP port.
    Tcp {
        /// `127.0.0.1`, `::1`, `localhost`, …
        host: String,
        /// The TCP port; 0 asks the kernel to pick a free one.
        port: u16,
    },
    /// A Unix-domain socket: a path in the file system.
    #[cfg(unix)]
    Unix(PathBuf),
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // An IPv6 literal needs brackets before the port, unless the user typed them.
            Self::Tcp { host, port } if host.contains(':') && !host.starts_with('[') => {
                write!(f, "[{host}]:{port}")
            }
            Self::Tcp { host, port } => write!(f, "{host}:{port}"),
            #[cfg(unix)]
            Self::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// A connected stream socket, TCP or Unix-domain.
#[derive(Debug)]
pub enum Conn {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A Unix-domain stream connection.
    #[cfg(unix)]
    Unix(UnixStream),
}

/// Runs the same expression on whichever stream a [`Conn`] holds.
macro_rules! either {
    ($conn:expr, $s:ident => $body:expr) => {
        match $conn {
            Conn::Tcp($s) => $body,
            #[cfg(unix)]
            Conn::Unix($s) => $body,
        }
    };
}

impl Conn {
    /// A second handle to the same socket (`dup`), so one thread can send while another
    /// receives.
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(match self {
            Self::Tcp(s) => Self::Tcp(s.try_clone()?),
            #[cfg(unix)]
            Self::Unix(s) => Self::Unix(s.try_clone()?),
        })
    }

    /// `shutdown(how)`: closes one or both directions for *both* handles of the socket.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        either!(self, s => s.shutdown(how))
    }

    /// `SO_RCVTIMEO` and `SO_SNDTIMEO`: how long one `recv` or `send` may block.
    pub fn set_timeouts(&self, timeout: Option<Duration>) -> io::Result<()> {
        either!(self, s => {
            s.set_read_timeout(timeout)?;
            s.set_write_timeout(timeout)
        })
    }

    /// The descriptor as narration shows it (`fd 4`).
    pub fn fd(&self) -> String {
        either!(self, s => common::narrate::fd(s))
    }

    /// Prepares the connection a stop's self-connect woke `accept()` with to be dropped: an
    /// abortive close (RST) for TCP, see [`common::stop::discard_woken`]. Unix sockets have no
    /// `TIME_WAIT`, so there it does nothing.
    pub fn discard_woken(&self) {
        match self {
            Self::Tcp(s) => common::stop::discard_woken(s),
            #[cfg(unix)]
            Self::Unix(_) => {}
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        either!(self, s => s.read(buf))
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        either!(self, s => s.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        either!(self, s => s.flush())
    }
}

/// A listening socket, TCP or Unix-domain.
#[derive(Debug)]
pub enum Listener {
    /// A TCP listener.
    Tcp(TcpListener),
    /// A Unix-domain listener and the socket file it owns (removed when dropped).
    #[cfg(unix)]
    Unix(UnixListener, SocketFile),
}

impl Listener {
    /// `accept()`: takes the next connection off the queue the kernel filled while we were
    /// busy, and names the peer for printing.
    pub fn accept(&self) -> io::Result<(Conn, String)> {
        match self {
            Self::Tcp(l) => l.accept().map(|(s, peer)| (Conn::Tcp(s), peer.to_string())),
            #[cfg(unix)]
            Self::Unix(l, _) => l.accept().map(|(s, peer)| {
                // A client that never called bind() has an unnamed address: nothing to print.
                let name = match peer.as_pathname() {
                    Some(path) => format!("unix:{}", path.display()),
                    None => "an unnamed unix socket".to_owned(),
                };
                (Conn::Unix(s), name)
            }),
        }
    }

    /// The address actually bound, which tells the real port after binding port 0.
    pub fn local_endpoint(&self) -> io::Result<String> {
        match self {
            Self::Tcp(l) => l.local_addr().map(|a| a.to_string()),
            #[cfg(unix)]
            Self::Unix(_, file) => Ok(format!("unix:{}", file.0.display())),
        }
    }

    /// The descriptor as narration shows it.
    pub fn fd(&self) -> String {
        match self {
            Self::Tcp(l) => common::narrate::fd(l),
            #[cfg(unix)]
            Self::Unix(l, _) => common::narrate::fd(l),
        }
    }
}

/// The path of a Unix socket this process bound. Binding creates the file; nothing removes it
/// when the socket closes, so we do, or the next `bind` fails with "Address already in use".
#[cfg(unix)]
#[derive(Debug)]
pub struct SocketFile(pub PathBuf);

#[cfg(unix)]
impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
