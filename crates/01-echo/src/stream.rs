//! What this chapter does with a connected socket besides `recv` and `send`, named once for
//! TCP and Unix-domain streams alike.
//!
//! Once connected, a TCP socket (`AF_INET`, `AF_INET6`) and a Unix-domain one (`AF_UNIX`)
//! behave the same: `recv`, `send`, `shutdown`, `close`. The standard library gives
//! `TcpStream` and `UnixStream` the same methods under the same names, but no shared trait
//! besides [`Read`] and [`Write`]; [`Stream`] is that trait, so the code that serves one client
//! (`session`) and the client's jobs are written once for both.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
#[cfg(unix)]
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// A connected stream socket: TCP or Unix-domain. (`Watch`: `--kernel` can look it up.)
pub trait Stream: Read + Write + common::narrate::Watch + Sized + Send + 'static {
    /// A second handle to the same socket (`dup`), so one thread can send while another
    /// receives, or a Ctrl-C handler can shut down a socket another thread is blocked on.
    fn try_clone(&self) -> io::Result<Self>;

    /// `shutdown(how)`: closes one or both directions for *every* handle of the socket.
    fn shutdown(&self, how: Shutdown) -> io::Result<()>;

    /// `SO_RCVTIMEO` and `SO_SNDTIMEO`: how long one `recv` or `send` may block.
    fn set_timeouts(&self, timeout: Option<Duration>) -> io::Result<()>;

    /// `TCP_NODELAY`: send small segments at once instead of waiting (Nagle's algorithm).
    fn set_nodelay(&self, nodelay: bool) -> io::Result<()>;

    /// The descriptor as narration shows it (`fd 4`).
    fn fd(&self) -> String;
}

impl Stream for TcpStream {
    fn try_clone(&self) -> io::Result<Self> {
        TcpStream::try_clone(self)
    }

    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        TcpStream::shutdown(self, how)
    }

    fn set_timeouts(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(timeout)?;
        self.set_write_timeout(timeout)
    }

    fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        TcpStream::set_nodelay(self, nodelay)
    }

    fn fd(&self) -> String {
        common::narrate::fd(self)
    }
}

#[cfg(unix)]
impl Stream for UnixStream {
    fn try_clone(&self) -> io::Result<Self> {
        UnixStream::try_clone(self)
    }

    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        UnixStream::shutdown(self, how)
    }

    fn set_timeouts(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(timeout)?;
        self.set_write_timeout(timeout)
    }

    /// A Unix socket never leaves the machine and has no Nagle delay: nothing to turn off.
    fn set_nodelay(&self, _nodelay: bool) -> io::Result<()> {
        Ok(())
    }

    fn fd(&self) -> String {
        common::narrate::fd(self)
    }
}
