//! A program stepped from a pseudo-terminal: `--step` reads Enter from the controlling
//! terminal, so the test runs it under util-linux `script`, which gives it one, and types into
//! it through `script`'s stdin. What the terminal shows (stdout and stderr together, each line
//! ending in `\r`) comes back on `script`'s stdout.

// Each test file compiles this module on its own and uses only some of it.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::Write;
use std::path::Path;
use std::process::{ChildStdin, Command, Stdio};

use testkit::{PATIENCE, Proc};

/// A stepped program on a pseudo-terminal.
pub(crate) struct Stepped {
    proc: Proc,
    keys: ChildStdin,
    /// Every terminal line read so far, for failure messages.
    seen: Vec<String>,
}

impl Stepped {
    /// Runs `binary ARGS` on a fresh pseudo-terminal, or `None` (after `testkit::skip`) when
    /// `script` is not installed.
    pub(crate) fn start(binary: &Path, args: &[&str]) -> Option<Self> {
        if Command::new("script").arg("--version").output().is_err() {
            testkit::skip("util-linux `script` is not installed: no pseudo-terminal to step on");
            return None;
        }
        let words: Vec<String> = std::iter::once(binary.to_string_lossy().into_owned())
            .chain(args.iter().map(|a| (*a).to_owned()))
            .map(|w| format!("'{w}'"))
            .collect();
        let mut proc = Proc::spawn(
            Command::new("script")
                .args(["-q", "-e", "-c", &words.join(" "), "/dev/null"])
                .stdin(Stdio::piped()),
        );
        let keys = proc.take_stdin().expect("stdin is piped");
        Some(Self { proc, keys, seen: Vec::new() })
    }

    /// The next line the terminal shows, without its `\r`; fails the test after `PATIENCE`.
    pub(crate) fn line(&mut self) -> String {
        let Some(line) = self.proc.next_line(PATIENCE) else {
            panic!("the terminal showed nothing more; so far:\n{}", self.seen.join("\n"));
        };
        let line = line.trim_end_matches('\r').to_owned();
        self.seen.push(line.clone());
        line
    }

    /// Skips lines up to the one starting with `prefix` and returns it.
    pub(crate) fn until(&mut self, prefix: &str) -> String {
        loop {
            let line = self.line();
            if line.starts_with(prefix) {
                return line;
            }
        }
    }

    /// Waits for the next prompt of `role`, `[ROLE] next: CALL`, and the "Enter runs it"
    /// line under it; returns `CALL`.
    pub(crate) fn prompt(&mut self, role: &str) -> String {
        let prompt = self.until(&format!("[{role}] next: "));
        self.until(&format!("[{role}] (Enter runs it"));
        prompt[format!("[{role}] next: ").len()..].to_owned()
    }

    /// Types `keys` at the terminal (`"\n"` is Enter, `"c\n"` runs on, `"\x03"` is Ctrl-C).
    pub(crate) fn type_keys(&mut self, keys: &str) {
        self.keys.write_all(keys.as_bytes()).unwrap();
        self.keys.flush().unwrap();
    }

    /// Presses Enter at a prompt of `role`; returns the narration lines of `role` printed
    /// before its next prompt (not the kernel's view under them), and that prompt's call.
    pub(crate) fn enter(&mut self, role: &str) -> (Vec<String>, String) {
        self.type_keys("\n");
        let mut said = Vec::new();
        loop {
            let line = self.line();
            if let Some(call) = line.strip_prefix(&format!("[{role}] next: ")) {
                let call = call.to_owned();
                self.until(&format!("[{role}] (Enter runs it"));
                return (said, call);
            }
            if line.starts_with(&format!("[{role}] ")) && !line.contains("  kernel: ") {
                said.push(line);
            }
        }
    }

    /// Everything the terminal showed so far.
    pub(crate) fn seen(&self) -> String {
        self.seen.join("\n")
    }

    /// Waits for the program (and `script`) to exit and returns whether it exited 0.
    /// Waits for the program (and `script`) to exit: whether it exited 0, and everything the
    /// terminal showed.
    pub(crate) fn finish(self) -> (bool, String) {
        drop(self.keys);
        let done = self.proc.finish();
        (done.status.success(), done.stdout.replace('\r', ""))
    }
}
