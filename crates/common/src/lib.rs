//! Helpers that every chapter shares and that are *not* the lesson.
//!
//! The socket calls a chapter teaches live in that chapter's own source, where a student reads
//! them. What lives here is the plumbing around them, written once so that every chapter behaves
//! the same way:
//!
//! - [`cli`]: the value parsers for counts, seconds, sizes and probabilities, with bounds;
//! - [`accept`]: what an accept loop does when `accept()` fails, one policy for every server;
//! - [`narrate`](mod@narrate): the `--trace` narration, one line per socket call, free when it is
//!   off, with `--step` (pause before each call) and `--kernel` (the kernel's view after it);
//! - [`socket_table`]: the kernel's table of TCP and UDP sockets, read from `/proc/net` (Linux),
//!   which `--kernel` and chapter 07's `sockets` and `watch` show;
//! - [`report`]: how `main` turns an error into `error: …` plus a teaching `hint:` and an exit
//!   code;
//! - [`stop`]: Ctrl-C handling, so a server stops cleanly and prints its summary;
//! - [`text`]: byte-size parsing (`10M`, `1G`), Python-style `b'…'` rendering, readable sizes,
//!   plurals;
//! - [`timeout`]: whether an I/O error is a socket timeout, on every platform;
//! - [`host`]: turning `--host`/`--port` into socket addresses the same way in every chapter.
//!
//! The integration tests' helpers live in the dev-only `testkit` crate, so no binary links them.

pub mod accept;
pub mod cli;
pub mod host;
pub mod narrate;
pub mod report;
pub mod socket_table;
pub mod stop;
pub mod text;
pub mod timeout;
