//! A program run on a real pseudo-terminal, for what only a terminal has: `--step` reads its
//! Enter from the controlling terminal (`/dev/tty`), which a pipe is not.
//!
//! util-linux's `script` does the terminal work: it opens a pseudo-terminal, starts the command
//! in a new session with the terminal's other end as its controlling terminal, copies what we
//! write to its stdin into the terminal (as if typed), and prints everything the program writes
//! to the terminal on its stdout. So a test types with [`Terminal::type_keys`] and reads the
//! screen line by line. Lines from a terminal end in `\r\n`; the `\r` is removed.
//!
//! A stepped program pauses with `[ROLE] next: CALL`, then `[ROLE] (Enter runs it, …)`;
//! [`Terminal::prompt`] and [`Terminal::enter`] speak that protocol.

use std::io::Write;
use std::process::{ChildStdin, Command, Stdio};

use crate::{Finished, PATIENCE, Proc};

/// A command running on a pseudo-terminal, with the keyboard and the screen in the test's hands.
pub struct Terminal {
    proc: Proc,
    keyboard: ChildStdin,
    /// Every screen line read so far, for failure messages.
    seen: Vec<String>,
}

impl Terminal {
    /// Starts `program ARGS` on a fresh pseudo-terminal. When `script` is missing, reports a
    /// skip and returns `None`.
    pub fn spawn(program: &str, args: &[&str]) -> Option<Self> {
        let mut proc = Proc::spawn(script(program, args)?.stdin(Stdio::piped()));
        let keyboard = proc.take_stdin().expect("stdin is piped");
        Some(Self { proc, keyboard, seen: Vec::new() })
    }

    /// Types `keys` as they are: `"\n"` is Enter, `"c\n"` runs on, `"\x03"` is Ctrl-C (the
    /// terminal turns it into SIGINT for the program in the foreground).
    pub fn type_keys(&mut self, keys: &str) {
        self.keyboard.write_all(keys.as_bytes()).expect("type into the terminal");
        self.keyboard.flush().expect("flush the keyboard");
    }

    /// Types `text` and Enter.
    pub fn type_line(&mut self, text: &str) {
        self.type_keys(&format!("{text}\n"));
    }

    /// The next screen line, without its `\r`; fails the test after [`PATIENCE`].
    pub fn line(&mut self) -> String {
        let Some(line) = self.proc.next_line(PATIENCE) else {
            panic!("the terminal showed nothing more; so far:\n{}", self.seen());
        };
        let line = line.trim_end_matches('\r').to_owned();
        self.seen.push(line.clone());
        line
    }

    /// Skips lines up to the one starting with `prefix` and returns it.
    pub fn until(&mut self, prefix: &str) -> String {
        loop {
            let line = self.line();
            if line.starts_with(prefix) {
                return line;
            }
        }
    }

    /// Waits for the next line that contains `needle`; returns the lines before it and it.
    pub fn expect_line(&mut self, needle: &str) -> (Vec<String>, String) {
        let mut before = Vec::new();
        loop {
            let line = self.line();
            if line.contains(needle) {
                return (before, line);
            }
            before.push(line);
        }
    }

    /// The screen's lines up to and including the first that contains `needle`, leaving out
    /// the blank lines that echo a typed Enter.
    pub fn lines_through(&mut self, needle: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.line();
            if line.is_empty() {
                continue;
            }
            let found = line.contains(needle);
            lines.push(line);
            if found {
                return lines;
            }
        }
    }

    /// Waits for the next pause of `role`, `[ROLE] next: CALL`, and the "Enter runs it" line
    /// under it; returns `CALL`.
    pub fn prompt(&mut self, role: &str) -> String {
        let prompt = self.until(&format!("[{role}] next: "));
        self.until(&format!("[{role}] (Enter runs it"));
        prompt[format!("[{role}] next: ").len()..].to_owned()
    }

    /// Presses Enter at a pause of `role`; returns the narration lines of `role` printed
    /// before its next pause (not the kernel's view under them), and that pause's call.
    pub fn enter(&mut self, role: &str) -> (Vec<String>, String) {
        self.type_keys("\n");
        let mut said = Vec::new();
        loop {
            let line = self.line();
            if let Some(call) = line.strip_prefix(&format!("[{role}] next: ")) {
                let call = call.to_owned();
                self.until(&format!("[{role}] (Enter runs it"));
                return (said, call);
            }
            if line.starts_with(&format!("[{role}] ")) && is_call(&line) {
                said.push(line);
            }
        }
    }

    /// Presses Enter at the current pause and waits for the next line that contains `next`
    /// (the next pause: `[ROLE] next: CALL`). Returns the calls narrated in between (see
    /// [`narration`]), which must be the one call that was paused before, and every line.
    pub fn enter_until(&mut self, next: &str) -> (Vec<String>, Vec<String>) {
        self.type_keys("\n");
        let (between, _) = self.expect_line(next);
        let calls = narration(&between).into_iter().cloned().collect();
        (calls, between)
    }

    /// Everything the terminal showed so far.
    pub fn seen(&self) -> String {
        self.seen.join("\n")
    }

    /// Presses Ctrl-C (the terminal sends the program SIGINT), waits for it to exit, and
    /// checks that it stopped cleanly: status 0, and `summary` among what it showed after the
    /// lines already read. Returns that, as [`Terminal::finish`] does.
    pub fn ctrl_c(mut self, summary: &str) -> Finished {
        self.type_keys("\x03");
        let done = self.finish();
        assert!(done.status.success(), "Ctrl-C is a clean stop: {done:?}");
        assert!(done.stdout.contains(summary), "no {summary:?} after Ctrl-C:\n{}", done.stdout);
        done
    }

    /// Waits for the program to exit (`script -e` passes its status on) and returns what it
    /// showed after the lines already read, without `\r`.
    pub fn finish(self) -> Finished {
        drop(self.keyboard);
        let mut done = self.proc.finish();
        done.stdout = done.stdout.replace('\r', "");
        done
    }
}

/// Runs `program ARGS`, with `--step` among the arguments, in a new session with no
/// controlling terminal (util-linux `setsid`, as under cron, CI or a service), and checks that it
/// refuses with a usage error (exit 2) that says why. Returns what it printed.
pub fn step_without_terminal(program: &str, args: &[&str]) -> Finished {
    let done = crate::run(Command::new("setsid").arg("-w").arg(program).args(args));
    assert_eq!(done.status.code(), Some(2), "{args:?} with no terminal: {done:?}");
    assert!(
        done.stderr.contains("--step waits for Enter on this process's terminal, and it has none"),
        "{args:?} with no terminal: {done:?}"
    );
    done
}

/// The calls narrated among `lines`: those with a `[role]` in front, leaving out the pauses
/// (`next: …` and its prompt) and the kernel's view printed under a call.
pub fn narration(lines: &[String]) -> Vec<&String> {
    lines.iter().filter(|l| l.starts_with('[') && is_call(l)).collect()
}

/// A narration line that is not part of a pause nor a `--kernel` view.
fn is_call(line: &str) -> bool {
    !line.contains("] next: ") && !line.contains("(Enter runs it") && !line.contains("]   kernel: ")
}

/// Runs `program ARGS` to its end on a fresh pseudo-terminal, with nothing typed, so that its
/// stdout is a terminal; returns its status and the screen (lines still end in `\r\n`). When
/// `script` is missing, reports a skip and returns `None`.
pub fn run_on_terminal(program: &str, args: &[&str]) -> Option<Finished> {
    Some(crate::run(&mut script(program, args)?))
}

/// The `script` command that runs `program ARGS` on a new pseudo-terminal, or `None` (a skip
/// reported) when util-linux `script` is not installed.
fn script(program: &str, args: &[&str]) -> Option<Command> {
    let found = Command::new("script").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        crate::skip("util-linux `script` is not installed: no pseudo-terminal to run on");
        return None;
    }
    let words: Vec<String> =
        std::iter::once(program).chain(args.iter().copied()).map(quote).collect();
    // `script -c` hands its command to $SHELL, or to /bin/sh when that is unset (as under CI).
    // `exec` makes the program the shell's replacement, not its child: dash would otherwise
    // stay in between, die of the Ctrl-C meant for the program, and `script` would report its
    // 130 instead of the program's status.
    let command = format!("exec {}", words.join(" "));
    let mut script = Command::new("script");
    // -q: no "Script started" banner; -e: exit with the program's status; -f: flush at once;
    // the transcript file is /dev/null, as only the screen matters.
    script.args(["-q", "-e", "-f", "-c", &command, "/dev/null"]);
    Some(script)
}

/// One shell word: `script -c` runs its command through the shell.
fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}
