//! Chapter 06: a small curl that shows the wire.
//!
//! - [`target`]: a URL as scheme, host, port and request target; `Host`; redirect `Location`s;
//! - [`request`]: the request formatted by hand;
//! - [`conn`]: one connection (TCP, TLS on top), its read buffer and its timeouts;
//! - [`response`]: the response head (httparse) and the three ways a body ends;
//! - [`client`]: several URLs, keep-alive reuse, redirects, output;
//! - [`tls`]: whom https trusts (`--cacert`, `-k`);
//! - [`wire`]: `-v`, `--trace-ascii` and `--trace`, the teaching view;
//! - [`error`]: kinds of failure and their exit codes (curl's);
//! - [`seed`]: the seed's wrong "recv until short" loop, kept to show it failing;
//! - [`demo`]: a tiny server in the process and the client fetching from it, narrated.

pub mod client;
pub mod conn;
pub mod demo;
pub mod error;
pub mod request;
pub mod response;
pub mod seed;
pub mod target;
pub mod tls;
pub mod wire;
