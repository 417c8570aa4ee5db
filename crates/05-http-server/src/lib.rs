//! Chapter 05: HTTP on the wire, from a fixed hello to a static-file server.
//!
//! - [`hello`]: the tutorial's one fixed response, and its broken first attempt;
//! - [`server`]: the listening socket, a thread per connection, the limits, the clean stop;
//! - [`connection`]: one connection's requests, from head to response;
//! - [`request`]: reading request heads off the byte stream, bounded in size and time;
//! - [`response`]: status codes and response heads;
//! - [`files`]: a URL path made into a file safely; the directory listing;
//! - [`range`]: `Range: bytes=...`;
//! - [`log`]: the access log, in Common Log Format;
//! - [`demo`]: the server and a small client in one process, narrated.

pub mod connection;
pub mod demo;
pub mod files;
pub mod hello;
pub mod log;
pub mod range;
pub mod request;
pub mod response;
pub mod server;
