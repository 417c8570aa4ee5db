//! Chapter 01: the echo server and client.
//!
//! The modules form layers, each using only the ones below it:
//!
//! - the recipes, which later chapters call too: [`listen`] builds a listening socket call by
//!   call, [`connect`] connects to a host, [`echo`] echoes until the peer closes;
//! - [`stream`], what a connected socket does, for TCP and Unix-domain alike, and [`session`],
//!   one client's turn on a one-at-a-time server;
//! - the programs: [`server`] (TCP), [`unix`] (the same over a Unix-domain socket, server and
//!   client side) and [`client`], which reads the *whole* echo back (the tutorial's one `recv`
//!   does not);
//! - [`demo`], on top, runs server and clients in one process, narrated.
//!
//! The binary (`src/main.rs`) only parses the command line and calls these.

pub mod client;
pub mod connect;
pub mod demo;
pub mod echo;
pub mod listen;
pub mod server;
pub mod session;
pub mod stream;
#[cfg(unix)]
pub mod unix;
