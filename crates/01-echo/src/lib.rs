//! Chapter 01: the echo server and client.
//!
//! - [`server`] builds a listening socket call by call and echoes one client at a time;
//! - [`client`] connects and reads the *whole* echo back (the tutorial's one `recv` does not);
//! - [`conn`] lets both work over TCP and Unix-domain sockets alike;
//! - [`demo`] runs both in one process, narrated.
//!
//! The binary (`src/main.rs`) only parses the command line and calls these.

pub mod client;
pub mod conn;
pub mod connect;
pub mod demo;
pub mod echo;
pub mod listen;
pub mod server;
