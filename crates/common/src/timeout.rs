//! Did a socket timeout fire? One predicate for every chapter.
//!
//! A `recv` or `send` on a socket with `SO_RCVTIMEO`/`SO_SNDTIMEO` set fails when the time runs
//! out, but not with a "timed out" error everywhere: Unix reports `EAGAIN`/`EWOULDBLOCK` (the
//! same error a non-blocking socket gives when nothing is ready), and Windows `WSAETIMEDOUT`.
//! Rust maps these to `WouldBlock` and `TimedOut`, so a chapter asks this function rather than
//! matching one kind and missing the other platform.

use std::io;

/// Whether `err` is a socket timeout (`SO_RCVTIMEO`, `SO_SNDTIMEO`, or a connect timeout).
pub fn is_timeout(err: &io::Error) -> bool {
    matches!(err.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receive_timeout_is_seen_as_one() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let mut client =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        client.set_read_timeout(Some(std::time::Duration::from_millis(10))).expect("timeout");
        let err = io::Read::read(&mut client, &mut [0; 1]).expect_err("nothing was sent");
        assert!(is_timeout(&err), "{err:?}");
        assert!(!is_timeout(&io::Error::from(io::ErrorKind::ConnectionReset)));
    }
}
