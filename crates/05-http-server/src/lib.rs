//! Chapter 05: HTTP on the wire, from a fixed hello to a static-file server.
//!
//! The modules, from the top down (each uses only modules below it):
//!
//! - [`demo`]: the server and a small client in one process, narrated;
//! - [`hello`]: the tutorial's one fixed response, and its broken first attempt;
//! - [`server`]: `serve`'s listening socket, a thread per connection, the clean stop;
//! - [`connection`]: one connection's keep-alive loop: read a request, answer, repeat or close;
//! - [`dispatch`]: what a request gets: an error, a redirect, a listing or a file;
//! - [`file_response`]: a file's `200`, `206`, `304` or `416`, and its validators;
//! - [`send`]: every byte of a response out, `sendfile` for large files, under the deadline;
//! - [`exchange`]: one request and its response, as the answering code sees them;
//! - [`shared`]: what the connection threads share: folder, limits, counters, open connections;
//! - [`deadline`]: the send deadline, `--send-timeout` plus the size at `--min-send-rate`;
//! - [`config`]: what `serve` is told: the address, the folder, every limit;
//! - [`request`]: reading request heads off the byte stream, bounded in size and time;
//! - [`listing`]: a folder's HTML listing, read from its descriptor;
//! - [`files`]: a URL path made into a file safely;
//! - [`range`]: `Range: bytes=...`;
//! - [`response`]: status codes and response heads;
//! - [`log`]: the access log, in Common Log Format.

pub mod config;
pub mod connection;
pub mod deadline;
pub mod demo;
pub mod dispatch;
pub mod exchange;
pub mod file_response;
pub mod files;
pub mod hello;
pub mod listing;
pub mod log;
pub mod range;
pub mod request;
pub mod response;
pub mod send;
pub mod server;
pub mod shared;
