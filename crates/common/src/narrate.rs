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
//! Two more flags build on it, for stepping through a chapter in front of a class:
//! - `--step` ([`step`]) pauses before each socket call, naming it, until Enter is pressed on
//!   the terminal: the [`step!`](crate::step!) lines sit right above the calls;
//! - `--kernel` ([`kernel`]) adds, after a call's line, the kernel's view of its socket: TCP
//!   state, accept queue, receive and send queues. A call site names the socket:
//!   `narrate!(n, &conn, "recv(1024) -> {got} bytes")`.
//!
//! Every chapter's command line flattens [`TraceArgs`] to get all three.
//!
//! A program with a line editor on the terminal (chapter 03's prompt) must not have anything
//! else write to that terminal: a line written straight to stderr lands in the middle of the
//! prompt and of what is being typed. Such a program hands its printer to [`route_through`],
//! and narration goes through it, above the prompt, like every other line.

use std::fmt;
use std::io::Write;
use std::sync::{Mutex, PoisonError};

pub mod kernel;
pub mod step;

pub use kernel::{Key, Watch};

/// `--trace`, `--step` and `--kernel`, flattened into every chapter's command line.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct TraceArgs {
    /// Print every socket call as it happens (to stderr), named as in C and Python.
    #[arg(long, global = true)]
    pub trace: bool,

    /// Pause before each socket call, naming it, until Enter is pressed on the terminal
    /// (c + Enter runs on). Implies --trace. Reads the terminal, so stdin stays the program's.
    #[arg(long, global = true)]
    pub step: bool,

    /// After each socket call, show the kernel's view of its socket: TCP state, accept queue,
    /// bytes in the receive and send queues. Implies --trace. Linux only (reads /proc/net).
    #[arg(long, global = true)]
    pub kernel: bool,
}

impl TraceArgs {
    /// Turns on what was asked and says whether narration is on. `--step` with no terminal,
    /// or `--kernel` off Linux, is a usage error of `C`'s command line (exit 2).
    pub fn start<C: clap::CommandFactory>(&self) -> bool {
        let started = (if self.step { step::start() } else { Ok(()) })
            .and_then(|()| if self.kernel { kernel::start() } else { Ok(()) });
        if let Err(message) = started {
            C::command().error(clap::error::ErrorKind::ArgumentConflict, message).exit();
        }
        self.trace || self.step || self.kernel
    }
}

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

impl Narrator {
    /// Prints a call's line and, under it, the kernel's view of `keys`, in one write, so that
    /// another thread's narration cannot come between them.
    pub fn say_with_kernel(&self, line: fmt::Arguments<'_>, keys: &[Option<Key>]) {
        let keys: Vec<Key> = keys.iter().flatten().cloned().collect();
        if keys.is_empty() {
            return self.say(line);
        }
        self.say(format_args!("{line}\n[{}] {}", self.role, kernel::view(&keys)));
    }

    /// Pauses before a call, if `--step` is on: shows `call` (and, with `--kernel`, the view
    /// of `keys`), then waits for Enter. Prefer the [`step!`](crate::step!) macro.
    pub fn pause(&self, call: fmt::Arguments<'_>, keys: &[Option<Key>]) {
        if self.on && step::is_on() {
            let keys: Vec<Key> = keys.iter().flatten().cloned().collect();
            let mut prompt = format!("[{}] next: {call}", self.role);
            if kernel::is_on() && !keys.is_empty() {
                prompt.push_str(&format!("\n[{}] {}", self.role, kernel::view(&keys)));
            }
            prompt.push_str(&format!("\n[{}] (Enter runs it, c + Enter runs on)", self.role));
            step::pause(&prompt);
        }
    }
}

/// Prints one narration line when narration is on: `narrate!(n, "bind({addr})")`.
///
/// Given a socket first, `narrate!(n, &conn, "recv(1024) -> {got} bytes")`, it also prints
/// the kernel's view of that socket under the line when `--kernel` is on; a call that involves
/// two sockets names both: `narrate!(n, (&listener, &conn), "accept() -> ...")`.
///
/// The arguments are not even formatted when it is off, so narration costs one branch.
#[macro_export]
macro_rules! narrate {
    ($narrator:expr, $fmt:literal $($arg:tt)*) => {
        if $narrator.is_on() {
            $narrator.say(format_args!($fmt $($arg)*));
        }
    };
    ($narrator:expr, ($($socket:expr),+), $fmt:literal $($arg:tt)*) => {
        if $narrator.is_on() {
            if $crate::narrate::kernel::is_on() {
                let keys = [$($crate::narrate::Watch::key($socket)),+];
                $narrator.say_with_kernel(format_args!($fmt $($arg)*), &keys);
            } else {
                $narrator.say(format_args!($fmt $($arg)*));
            }
        }
    };
    ($narrator:expr, $socket:expr, $fmt:literal $($arg:tt)*) => {
        $crate::narrate!($narrator, ($socket), $fmt $($arg)*)
    };
}

/// With `--step`, pauses before a socket call until Enter: `step!(n, "accept()")`.
///
/// Given the socket the call uses, `step!(n, &conn, "recv({})", buf.len())`, the pause also
/// shows the kernel's view of it *before* the call (with `--kernel`): the bytes waiting in the
/// receive queue, the connections waiting to be accepted. Off, it costs one branch.
#[macro_export]
macro_rules! step {
    ($narrator:expr, $fmt:literal $($arg:tt)*) => {
        if $narrator.is_on() && $crate::narrate::step::is_on() {
            $narrator.pause(format_args!($fmt $($arg)*), &[]);
        }
    };
    ($narrator:expr, ($($socket:expr),+), $fmt:literal $($arg:tt)*) => {
        if $narrator.is_on() && $crate::narrate::step::is_on() {
            let keys = if $crate::narrate::kernel::is_on() {
                vec![$($crate::narrate::Watch::key($socket)),+]
            } else {
                Vec::new()
            };
            $narrator.pause(format_args!($fmt $($arg)*), &keys);
        }
    };
    ($narrator:expr, $socket:expr, $fmt:literal $($arg:tt)*) => {
        $crate::step!($narrator, ($socket), $fmt $($arg)*)
    };
}

/// A call that found nothing to do on a non-blocking socket: `accept` with an empty queue,
/// `recv` with nothing received, `send` with a full send buffer. It returns `EAGAIN` at once
/// and the event loop goes back to `poll`. `--trace` leaves these out (they follow every burst
/// of work and say only "come back later"), but under `--step` the class was shown the call
/// before it ran, so each Enter shows what its call returned. `call` is a closure so that,
/// off, nothing is formatted: this sits on the event loops' hot path.
pub fn would_block<S: Watch + ?Sized>(
    n: Narrator,
    socket: &S,
    call: impl FnOnce() -> String,
    why: &str,
) {
    if n.is_on() && step::is_on() {
        crate::narrate!(n, socket, "{} -> EAGAIN ({why})", call());
    }
}

/// `close()`: pauses before it (`--step`), narrates it, closes `socket` by dropping it, then
/// shows what the kernel keeps of the connection (`--kernel`): FIN-WAIT, TIME-WAIT or nothing.
/// `note` follows the call on the line, as in `close(fd 3) (the listening socket)`.
pub fn close<S: Watch>(n: Narrator, socket: S, note: &str) {
    if !n.is_on() {
        return drop(socket);
    }
    let key = socket.key();
    let fd = key.as_ref().map_or_else(|| "the socket".to_owned(), |k| k.fd().to_owned());
    crate::step!(n, &socket, "close({fd}){note}");
    if !kernel::is_on() {
        return n.say(format_args!("close({fd}){note}"));
    }
    drop(socket);
    n.say_with_kernel(format_args!("close({fd}){note}"), &[key.map(Key::closed)]);
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
