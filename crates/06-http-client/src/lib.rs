//! Chapter 06: a small curl that shows the wire.
//!
//! The modules, from the top (the one a run starts in) down to the leaves:
//!
//! - [`demo`]: a tiny server in the process and the client fetching from it, narrated;
//! - [`client`]: several URLs, keep-alive reuse, redirects, output;
//! - [`connect`]: resolve, connect (TCP), then the TLS handshake over the same socket;
//! - [`conn`]: one connection (TCP, TLS on top), its read buffer and its timeouts;
//! - [`request`]: the request formatted by hand;
//! - [`response`]: the response head (httparse) and the rules for where the body ends;
//! - [`body`]: the body read by those rules: a length, chunks, or until the close;
//! - [`redirect`]: which redirects `-L` follows, and the request sent to their target;
//! - [`output`]: stdout or an `-o` file, with a progress bar;
//! - [`options`]: what the command line decides;
//! - [`target`]: a URL as scheme, host, port and request target; `Host`; redirect `Location`s;
//! - [`tls`]: whom https trusts (`--cacert`, `-k`);
//! - [`wire`]: `-v`, `--trace-ascii` and `--trace`, the teaching view;
//! - [`error`]: kinds of failure and their exit codes (curl's);
//! - [`tutorial`]: the tutorial's wrong "recv until short" loop, kept to show it failing.

pub mod body;
pub mod client;
pub mod conn;
pub mod connect;
pub mod demo;
pub mod error;
pub mod options;
pub mod output;
pub mod redirect;
pub mod request;
pub mod response;
pub mod target;
pub mod tls;
pub mod tutorial;
pub mod wire;
