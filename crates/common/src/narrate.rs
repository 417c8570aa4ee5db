//! Narration: `--trace` prints every socket call as it happens.
//!
//! Each line names the call as the BSD socket API (and Python's `socket` module) does, so a
//! student can hold the output next to the tutorial:
//!
//! ```text
//! [server] bind(127.0.0.1:65432)
//! [server] listen(backlog=128)
//! [server] accept() -> fd 4, peer 127.0.0.1:53022
//! ```
//!
//! Narration goes to stderr, so stdout stays the program's result. When it is off, the
//! [`narrate!`](crate::narrate!) macro checks one `bool` and formats nothing.
//!
//! A program with a line editor on the terminal (chapter 03's prompt) must not have anything
//! else write to that terminal: a line written straight to stderr lands in the middle of the
//! prompt and of what is being typed. Such a program hands its printer to [`route_through`],
//! and narration goes through it, above the prompt, like every other line.

use std::fmt;
use std::io::Write;
use std::sync::{Mutex, PoisonError};

/// Prints one narration line (no newline) somewhere other than stderr; `false` if it could
/// not, and the line goes to stderr after all.
pub type Route = Box<dyn Fn(&str) -> bool + Send + Sync>;

/// Where narration goes instead of stderr, if anywhere: one per process, as the terminal is.
static ROUTE: Mutex<Option<Route>> = Mutex::new(None);

/// Sends every narration line through `route` from now on (`None`: back to stderr). A line
/// editor calls this with its printer while it owns the terminal, and `None` when it lets go.
pub fn route_through(route: Option<Route>) {
    *ROUTE.lock().unwrap_or_else(PoisonError::into_inner) = route;
}

/// Who is speaking (`server`, `client`) and whether narration is on.
///
/// It is `Copy`, so each side of a program keeps its own and passes it by value.
#[derive(Debug, Clone, Copy)]
pub struct Narrator {
    role: &'static str,
    on: bool,
}

impl Narrator {
    /// A narrator for `role` (printed in brackets), on when `on` is true.
    pub fn new(role: &'static str, on: bool) -> Self {
        Self { role, on }
    }

    /// Is narration on? [`narrate!`](crate::narrate!) checks this before formatting anything.
    #[inline]
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// Prints one narration line to stderr. Prefer the [`narrate!`](crate::narrate!) macro,
    /// which skips the formatting entirely when narration is off.
    pub fn say(&self, line: fmt::Arguments<'_>) {
        if self.on {
            // Formatted first, then written with one call: stderr is unbuffered, and a line
            // written in pieces can be split by another thread's output (stdout shares the
            // terminal). A failed write to stderr is not worth dying for.
            let line = format!("[{}] {}", self.role, line);
            if let Some(route) = ROUTE.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
                if route(&line) {
                    return;
                }
            }
            let _ = std::io::stderr().lock().write_all(format!("{line}\n").as_bytes());
        }
    }
}

/// Prints one narration line when narration is on: `narrate!(n, "bind({addr})")`.
///
/// The arguments are not even formatted when it is off, so narration costs one branch.
#[macro_export]
macro_rules! narrate {
    ($narrator:expr, $($arg:tt)*) => {
        if $narrator.is_on() {
            $narrator.say(format_args!($($arg)*));
        }
    };
}

/// The C name of an IP address's family, for narration: `AF_INET` or `AF_INET6`.
pub fn family(ip: std::net::IpAddr) -> &'static str {
    if ip.is_ipv4() { "AF_INET" } else { "AF_INET6" }
}

/// A socket's descriptor as narration shows it: `fd 3` on Unix, `socket 412` on Windows.
#[cfg(unix)]
pub fn fd<S: std::os::fd::AsRawFd>(socket: &S) -> String {
    format!("fd {}", socket.as_raw_fd())
}

/// A socket's descriptor as narration shows it: `fd 3` on Unix, `socket 412` on Windows.
#[cfg(windows)]
pub fn fd<S: std::os::windows::io::AsRawSocket>(socket: &S) -> String {
    format!("socket {}", socket.as_raw_socket())
}
