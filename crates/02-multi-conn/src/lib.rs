//! Chapter 02: many clients at once.
//!
//! - [`server`]: the listening socket, the open-files limit, statistics, and the mode switch;
//! - [`threads`]: a thread per connection (chapter 01's loop on many threads);
//! - [`poll`]: one thread, non-blocking sockets and an event loop (mio), with backpressure;
//! - [`client`]: many non-blocking connections from one thread: verify, ping-pong, hold;
//! - [`demo`]: the event-loop server and the tutorial's client in one process, narrated.

pub mod client;
pub mod demo;
pub mod poll;
pub mod server;
pub mod threads;
