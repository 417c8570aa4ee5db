//! A program run on a pseudo-terminal, for `--step`: it reads Enter from its controlling
//! terminal, which a test's pipes are not.
//!
//! util-linux `script -q -e -c CMD /dev/null` runs CMD on a new pseudo-terminal, copies its
//! own stdin to it (what the test writes is what a person types) and the terminal's output
//! to its stdout (prompts, narration and results, in the order they were written; the
//! terminal ends each line with "\r\n"). A test without `script` is skipped.

// Each test file compiles this module on its own and uses only some of it.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::Write;
use std::process::{ChildStdin, Command, Stdio};

use testkit::{PATIENCE, Proc};

/// A command running on a terminal the test types into.
pub(crate) struct OnTerminal {
    proc: Proc,
    keys: ChildStdin,
}

impl OnTerminal {
    /// Runs `binary args…` under `script`, or `None` (the test is skipped) without it.
    pub(crate) fn spawn(binary: &str, args: &[&str]) -> Option<Self> {
        if Command::new("script").arg("--version").output().is_err() {
            testkit::skip("util-linux `script` is not installed: no pseudo-terminal for --step");
            return None;
        }
        let command: Vec<String> =
            std::iter::once(binary).chain(args.iter().copied()).map(|a| format!("'{a}'")).collect();
        let mut proc = Proc::spawn(
            Command::new("script")
                .args(["-q", "-e", "-c", &command.join(" "), "/dev/null"])
                .stdin(Stdio::piped()),
        );
        let keys = proc.take_stdin().expect("stdin is piped");
        Some(Self { proc, keys })
    }

    /// The terminal's lines, without "\r" and without the blank lines that echo a typed
    /// Enter, up to and including the first that contains `needle`.
    pub(crate) fn until(&self, needle: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let Some(line) = self.proc.next_line(PATIENCE) else {
                panic!("the terminal never showed {needle:?}; it showed:\n{}", seen.join("\n"));
            };
            let line = line.trim_end_matches('\r').to_owned();
            if line.is_empty() {
                continue;
            }
            let found = line.contains(needle);
            seen.push(line);
            if found {
                return seen;
            }
        }
    }

    /// Types `text` and Enter, as a person at the terminal does.
    pub(crate) fn type_line(&mut self, text: &str) {
        self.keys.write_all(format!("{text}\n").as_bytes()).unwrap();
    }

    /// Presses Ctrl-C: the terminal turns it into SIGINT for the program, as a real one does.
    /// Returns everything `script` printed, once the program has exited.
    pub(crate) fn ctrl_c(mut self) -> testkit::Finished {
        self.keys.write_all(b"\x03").unwrap();
        drop(self.keys);
        self.proc.finish()
    }
}

/// The narration lines in `lines` (those with a `[role]` in front), prompts left out.
pub(crate) fn narration(lines: &[String]) -> Vec<&String> {
    lines
        .iter()
        .filter(|l| l.starts_with('[') && !l.contains("] next: ") && !l.contains("(Enter runs it"))
        .collect()
}
