//! Chapter 03: a long-lived, full-duplex chat with a framed protocol and a real line editor.
//!
//! The modules form a chain with no way back up, leaves first:
//!
//! - [`frame`]: the wire format (length prefix, kind, UTF-8 content) and the decoder that turns
//!   a byte stream into frames;
//! - [`connection`]: frames over a blocking socket, a reader and a writer threads can share;
//! - [`config`]: the server's settings and the limits both ends share;
//! - [`command`]: what a typed line means (`/nick`, `/who`, `/quit`), for both prompts;
//! - [`liveness`]: TCP keepalive and the PING/PONG heartbeat;
//! - [`console`]: rustyline's prompt and external printer, or plain lines on a pipe;
//! - [`room`]: room mode, one event loop relaying every line to everyone else;
//! - [`one_to_one`]: the tutorial's long connection, the operator and one client, full duplex;
//! - [`server`]: on top, the listening socket and the choice of mode;
//! - [`client`]: two threads, keyboard and network, and a polite half-closed goodbye;
//! - [`demo`]: a room and three scripted clients in one process, narrated;
//! - [`bench`](mod@bench): the load generator behind `scripts/bench/03-long-chat.sh`.

pub mod bench;
pub mod client;
pub mod command;
pub mod config;
pub mod connection;
pub mod console;
pub mod demo;
pub mod frame;
pub mod liveness;
pub mod one_to_one;
pub mod room;
pub mod server;
