//! A program run on a real pseudo-terminal, for what only a terminal has: `--step` reads its
//! Enter from the controlling terminal (`/dev/tty`), which a pipe is not.
//!
//! util-linux's `script` does the terminal work: it opens a pseudo-terminal, starts the command
//! in a new session with the terminal's other end as its controlling terminal, copies what we
//! write to its stdin into the terminal (as if typed), and prints everything the program writes
//! to the terminal on its stdout. So a test types with [`Terminal::type_line`] and reads the
//! screen line by line with [`Terminal::expect_line`]. Lines from a terminal end in `\r\n`; the
//! `\r` is removed.

use std::io::Write;
use std::process::{ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Finished, PATIENCE, Proc};

/// A command running on a pseudo-terminal, with the keyboard and the screen in the test's hands.
pub struct Terminal {
    proc: Proc,
    keyboard: ChildStdin,
}

impl Terminal {
    /// Starts `program ARGS` on a fresh pseudo-terminal. `None` when `script` is missing (the
    /// caller reports a skip).
    pub fn spawn(program: &str, args: &[&str]) -> Option<Self> {
        let found =
            Command::new("script").arg("--version").output().is_ok_and(|o| o.status.success());
        if !found {
            return None;
        }
        let line: Vec<String> =
            std::iter::once(program).chain(args.iter().copied()).map(quote).collect();
        let mut proc = Proc::spawn(
            Command::new("script")
                // -q: no "Script started" banner; -e: exit with the program's status; -f: flush
                // at once; the transcript file is /dev/null, as only the screen matters.
                .args(["-q", "-e", "-f", "-c", &line.join(" "), "/dev/null"])
                .stdin(Stdio::piped()),
        );
        let keyboard = proc.take_stdin().expect("stdin is piped");
        Some(Self { proc, keyboard })
    }

    /// Types `text` and Enter.
    pub fn type_line(&mut self, text: &str) {
        self.type_raw(&format!("{text}\n"));
    }

    /// Types `text` as it is: `"\x03"` is Ctrl-C, which the terminal turns into SIGINT for the
    /// program in the foreground.
    pub fn type_raw(&mut self, text: &str) {
        self.keyboard.write_all(text.as_bytes()).expect("type into the terminal");
        self.keyboard.flush().expect("flush the keyboard");
    }

    /// Waits for the next screen line that contains `needle` and returns it, with every line
    /// before it (all without `\r`). Panics after [`PATIENCE`].
    pub fn expect_line(&self, needle: &str) -> (Vec<String>, String) {
        let deadline = Instant::now() + PATIENCE;
        let mut before = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.proc.next_line(left.max(Duration::from_millis(1))) {
                Some(line) => {
                    let line = line.trim_end_matches('\r').to_owned();
                    if line.contains(needle) {
                        return (before, line);
                    }
                    before.push(line);
                }
                None => panic!(
                    "the terminal never showed {needle:?} within {PATIENCE:?}; it showed:\n{}",
                    before.join("\n")
                ),
            }
        }
    }

    /// Waits for the program to exit, and returns what it left on the screen after the lines
    /// already read, with its exit status (`script -e` passes it on).
    pub fn finish(self) -> Finished {
        drop(self.keyboard);
        self.proc.finish()
    }
}

/// One shell word: `script -c` runs its command through the shell.
fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}
