//! Helpers every test file of chapter 01 uses: the binary, and a server started on a free port.

// Each test file compiles this module on its own and uses only some of it.
#![allow(dead_code)]

use std::process::Command;

use testkit::Proc;

/// The `01-echo` binary under test.
pub(crate) fn echo() -> Command {
    Command::new(env!("CARGO_BIN_EXE_01-echo"))
}

/// Starts `01-echo server ARGS` and returns it with the address from its readiness line.
pub(crate) fn server(args: &[&str]) -> (Proc, String) {
    let proc = Proc::spawn(echo().arg("server").args(args));
    let addr = proc.listening_addr();
    (proc, addr)
}

/// The port of an `IP:PORT` address.
pub(crate) fn port_of(addr: &str) -> String {
    addr.rsplit(':').next().expect("rsplit yields at least one piece").to_owned()
}
