//! What the integration tests use to run a chapter's real binary as a separate process.
//!
//! The rules it enforces: a test waits for the server's `listening on ADDR` line (a readiness
//! signal) instead of sleeping, reads the real address back instead of using a fixed port, and
//! every process it starts is killed and reaped when the [`Proc`] is dropped, even when the test
//! fails halfway.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long a test waits for any one expected event before it fails.
/// Generous, because a loaded CI machine can be slow to start a debug binary.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A running child process whose stdout arrives line by line and whose stderr is collected.
pub struct Proc {
    child: Option<Child>,
    pid: u32,
    lines: Receiver<String>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    /// Notified whenever stderr grows, so a test can wait for a line without sleeping.
    stderr_grew: Arc<Condvar>,
    readers: Vec<JoinHandle<()>>,
}

/// What a finished process left behind.
#[derive(Debug)]
pub struct Finished {
    /// How it exited.
    pub status: ExitStatus,
    /// Everything it printed on stdout.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
}

impl Proc {
    /// Starts `cmd` with stdout and stderr captured (stdin is whatever `cmd` says; null by
    /// default).
    pub fn spawn(cmd: &mut Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {cmd:?}: {e}"));
        let (tx, lines) = mpsc::channel();
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let out_pipe = child.stdout.take().expect("stdout is piped");
        let err_pipe = child.stderr.take().expect("stderr is piped");
        let all_out = Arc::clone(&stdout);
        let out_reader = thread::spawn(move || {
            for line in BufReader::new(out_pipe).lines().map_while(Result::ok) {
                lock(&all_out).push_str(&format!("{line}\n"));
                let _ = tx.send(line);
            }
        });
        let all_err = Arc::clone(&stderr);
        let stderr_grew = Arc::new(Condvar::new());
        let grew = Arc::clone(&stderr_grew);
        let err_reader = thread::spawn(move || {
            let mut pipe = err_pipe;
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                lock(&all_err).push_str(&String::from_utf8_lossy(&chunk[..n]));
                grew.notify_all();
            }
            grew.notify_all(); // End of stream: waiters see it and stop waiting.
        });
        Self {
            pid: child.id(),
            child: Some(child),
            lines,
            stdout,
            stderr,
            stderr_grew,
            readers: vec![out_reader, err_reader],
        }
    }

    /// The process id, for signals.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The child's stdin, when the command was given `Stdio::piped()` for it.
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.child.as_mut().and_then(|c| c.stdin.take())
    }

    /// Waits for the next stdout line that starts with `prefix` and returns it; lines before it
    /// are skipped. Panics (failing the test, with stderr shown) after [`PATIENCE`].
    pub fn expect_line(&self, prefix: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => panic!(
                    "no stdout line starting with {prefix:?} within {PATIENCE:?}\nstderr:\n{}",
                    self.stderr()
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "process exited before printing {prefix:?}\nstdout:\n{}\nstderr:\n{}",
                    lock(&self.stdout),
                    self.stderr()
                ),
            }
        }
    }

    /// Waits for the `listening on ADDR` readiness line and returns `ADDR`.
    pub fn listening_addr(&self) -> String {
        let line = self.expect_line("listening on ");
        line["listening on ".len()..].trim().to_owned()
    }

    /// Waits until stderr contains `needle`; panics (failing the test) after [`PATIENCE`].
    pub fn wait_for_stderr(&self, needle: &str) {
        let deadline = Instant::now() + PATIENCE;
        let mut text = lock(&self.stderr);
        while !text.contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "stderr never showed {needle:?}:\n{text}");
            text =
                self.stderr_grew.wait_timeout(text, left).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    /// What the process has printed on stderr so far.
    pub fn stderr(&self) -> String {
        lock(&self.stderr).clone()
    }

    /// Sends SIGINT, as Ctrl-C in a terminal would.
    pub fn interrupt(&self) {
        signal(self.pid, "-INT");
    }

    /// Stops a server the way a user does, with Ctrl-C (SIGINT), waits for it, and fails the
    /// test unless it exited cleanly (status 0), as every server here promises to.
    pub fn stop(self) -> Finished {
        self.interrupt();
        let done = self.finish();
        assert!(done.status.success(), "Ctrl-C is a clean stop: {done:?}");
        done
    }

    /// Waits for the process to exit (killing it after [`PATIENCE`]) and returns its status and
    /// everything it printed.
    pub fn finish(mut self) -> Finished {
        let mut child = self.child.take().expect("a Proc is finished once");
        let (tx, rx) = mpsc::channel();
        let waiter = thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let status = match rx.recv_timeout(PATIENCE) {
            Ok(status) => status,
            Err(_) => {
                // Still running, so not yet reaped: the pid is still ours to signal.
                signal(self.pid, "-KILL");
                rx.recv().expect("the waiter thread reports")
            }
        }
        .expect("wait for child");
        let _ = waiter.join();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        Finished { status, stdout: lock(&self.stdout).clone(), stderr: lock(&self.stderr).clone() }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs `cmd` to completion with stdout and stderr captured (killed after [`PATIENCE`]).
pub fn run(cmd: &mut Command) -> Finished {
    Proc::spawn(cmd).finish()
}

fn signal(pid: u32, which: &str) {
    // `kill(1)` keeps the test kit free of unsafe code and of a libc dependency.
    let _ = Command::new("kill").args([which, &pid.to_string()]).status();
}

fn lock(text: &Mutex<String>) -> std::sync::MutexGuard<'_, String> {
    text.lock().unwrap_or_else(PoisonError::into_inner)
}
