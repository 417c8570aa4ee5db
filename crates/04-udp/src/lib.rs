//! Chapter 04: UDP.
//!
//! - [`server`]: `recvfrom` / `sendto`, no `listen`, no `accept`; replies `echo` or `over`;
//! - [`shared`]: the server's settings and its summary, a leaf the others name;
//! - [`netsim`]: a seeded, simulated bad network (drop, duplicate, delay, jitter);
//! - [`client`]: the tutorial's numbered messages, `ping`, `blast` and `rtt` modes, connected or not;
//! - [`probe`]: the numbered, timestamped datagram that `ping`, `blast` and `rtt` send;
//! - [`demo`]: server and client in one process, narrated.

pub mod client;
pub mod demo;
pub mod netsim;
pub mod probe;
pub mod server;
pub mod shared;

/// Bytes of a datagram that are printed: a peer chooses the size, up to 64 KiB, and one
/// datagram should stay one readable line.
pub const PREVIEW_BYTES: usize = 32;

/// How datagram contents are printed: Python's `b'…'`, cut after [`PREVIEW_BYTES`].
pub(crate) fn preview(data: &[u8]) -> String {
    common::text::py_bytes_preview(data, PREVIEW_BYTES)
}

/// What the server prints for one datagram: text as Python's `b'…'`, but one of our probes or
/// other binary data as a short summary (`probe #12, 64 bytes`). Escaped bytes teach nothing,
/// and a long line per datagram slows the server enough to change the loss it measures.
pub fn describe(data: &[u8]) -> String {
    if let Some(probe) = probe::Probe::read(data) {
        return format!("probe #{}, {} bytes", probe.seq, data.len());
    }
    let text = std::str::from_utf8(data)
        .is_ok_and(|s| s.chars().all(|c| !c.is_control() || c == '\n' || c == '\t' || c == '\r'));
    match text {
        true => preview(data),
        false => format!("{} bytes of binary data", data.len()),
    }
}
