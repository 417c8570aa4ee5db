//! Chapter 02: many clients at once.
//!
//! The modules form a ladder, each using only those below it:
//!
//! - [`demo`]: the event-loop server and the tutorial's client in one process, narrated;
//! - [`server`]: the `server` command: the open-files limit, the listening socket, the mode;
//! - [`threads`]: a thread per connection (chapter 01's loop on many threads);
//! - [`poll`]: one thread, non-blocking sockets and an event loop (mio), with backpressure;
//! - [`client`]: many non-blocking connections from one thread: verify, ping-pong, hold;
//! - [`shared`] and [`limits`]: the settings and counters the modes share, and the
//!   open-files limit the server and the client both raise;
//! - [`slots`]: the slot table the event loop keeps its clients in (chapter 03's room too);

pub mod client;
pub mod demo;
pub mod limits;
pub mod poll;
pub mod server;
pub mod shared;
pub mod slots;
pub mod threads;
