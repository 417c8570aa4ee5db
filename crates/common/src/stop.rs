//! Stopping cleanly on Ctrl-C.
//!
//! A server blocked in `accept()` or `recv()` does not look at flags: a signal has to *wake*
//! it. So a [`Stop`] keeps, besides its flag, a list of wake-up actions that the code holding a
//! blocking socket registers with [`Stop::watch`] (for example "shut this connection down", so
//! the `recv` blocked on it returns). Ctrl-C runs them all; a second Ctrl-C exits at once.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

type Wake = Box<dyn Fn() + Send>;

/// A shared "time to stop" flag plus the actions that wake whatever is blocked.
#[derive(Default)]
pub struct Stop {
    stopping: AtomicBool,
    next_id: AtomicU64,
    wakers: Mutex<Vec<(u64, Wake)>>,
}

impl Stop {
    /// A fresh, un-triggered stop.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Makes Ctrl-C (SIGINT, and SIGTERM on Unix) trigger this stop. The second Ctrl-C exits
    /// the process at once with 130, the shell's code for "killed by SIGINT".
    ///
    /// # Errors
    /// When a handler is already installed in this process.
    pub fn trigger_on_ctrl_c(self: &Arc<Self>) -> anyhow::Result<()> {
        self.trigger_on_ctrl_c_then(|| {})
    }

    /// Like [`Stop::trigger_on_ctrl_c`], and the second Ctrl-C runs `last_words` (a server's
    /// summary, say) before it exits: stopping at once should not lose what was done.
    ///
    /// # Errors
    /// When a handler is already installed in this process.
    pub fn trigger_on_ctrl_c_then(
        self: &Arc<Self>,
        last_words: impl Fn() + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = Arc::clone(self);
        ctrlc::set_handler(move || {
            if stop.is_stopping() {
                last_words();
                std::process::exit(130);
            }
            // A `--step` prompt waiting for Enter would hold the program; Ctrl-C means stop.
            crate::narrate::step::run_on();
            stop.trigger();
        })?;
        Ok(())
    }

    /// Has the stop been triggered?
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Triggers the stop: sets the flag, then runs every registered wake-up action.
    pub fn trigger(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        for (_, wake) in self.wakers.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            wake();
        }
    }

    /// Registers `wake` to run when the stop triggers, until the returned guard is dropped.
    /// If the stop has already triggered, `wake` runs at once.
    pub fn watch(self: &Arc<Self>, wake: impl Fn() + Send + 'static) -> Watch {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut wakers = self.wakers.lock().unwrap_or_else(PoisonError::into_inner);
        // Checked under the lock, so a trigger cannot slip in between and miss this waker.
        if self.is_stopping() {
            wake();
        }
        wakers.push((id, Box::new(wake)));
        Watch { stop: Arc::clone(self), id }
    }
}

/// Wakes a thread blocked in `accept()` on a TCP listener bound to `bound`: connects to it and
/// closes at once. The close is abortive (`SO_LINGER` 0 sends RST), so that this connection
/// leaves no `TIME_WAIT` behind on the listener's port. The woken loop must check
/// [`Stop::is_stopping`] and drop what it accepted after [`discard_woken`].
pub fn wake_accept(bound: std::net::SocketAddr) {
    use socket2::{Domain, Socket, Type};
    let addr = crate::host::reachable(bound);
    if let Ok(socket) = Socket::new(Domain::for_address(addr), Type::STREAM, None) {
        let _ = socket.connect_timeout(&addr.into(), std::time::Duration::from_secs(1));
        let _ = socket.set_linger(Some(std::time::Duration::ZERO));
    }
}

/// The accepting side of [`wake_accept`]: marks the connection a woken `accept()` returned for
/// an abortive close (`SO_LINGER` 0), so that dropping it sends RST. A normal close from the
/// server's side would leave a `TIME_WAIT` on the server's own port.
pub fn discard_woken(stream: &std::net::TcpStream) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(std::time::Duration::ZERO));
}

/// Keeps a wake-up action registered; dropping it unregisters the action.
pub struct Watch {
    stop: Arc<Stop>,
    id: u64,
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut wakers = self.stop.wakers.lock().unwrap_or_else(PoisonError::into_inner);
        wakers.retain(|(id, _)| *id != self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn trigger_runs_registered_wakers_only() {
        let stop = Stop::new();
        let woken = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&woken);
        let kept = stop.watch(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        let counter = Arc::clone(&woken);
        drop(stop.watch(move || {
            counter.fetch_add(100, Ordering::SeqCst);
        }));
        stop.trigger();
        assert!(stop.is_stopping());
        assert_eq!(woken.load(Ordering::SeqCst), 1);
        drop(kept);
    }

    #[test]
    fn watching_after_trigger_wakes_at_once() {
        let stop = Stop::new();
        stop.trigger();
        let woken = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&woken);
        let _watch = stop.watch(move || flag.store(true, Ordering::SeqCst));
        assert!(woken.load(Ordering::SeqCst));
    }
}
