//! Helpers every test file of chapter 03 would otherwise repeat: the binary, and a room server on
//! a free port.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use testkit::Proc;

/// The chapter's binary, ready for arguments.
pub(crate) fn chat() -> Command {
    Command::new(env!("CARGO_BIN_EXE_03-long-chat"))
}

/// A room server on a free port (port 0, read back from its `listening on` line); returns it and
/// its address.
#[allow(dead_code)] // Not every test file starts a room.
pub(crate) fn room(args: &[&str]) -> (Proc, String) {
    let proc = Proc::spawn(chat().args(["server", "--port", "0"]).args(args));
    let addr = proc.listening_addr();
    (proc, addr)
}
