//! What the integration tests use to run a chapter's real binary as a separate process.
//!
//! The rules it enforces: a test waits for the server's `listening on ADDR` line (a readiness
//! signal) instead of sleeping, reads the real address back instead of using a fixed port, and
//! every process it starts is killed and reaped when the [`Proc`] is dropped, even when the test
//! fails halfway.

//!
//! [`transcript`] replays the book's console transcripts against today's binaries;
//! [`terminal`] runs a program on a pseudo-terminal, for `--step`.

pub mod terminal;
pub mod transcript;

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
    /// One message per reader thread that reached the end of its pipe.
    readers_done: Receiver<()>,
}

/// How long [`Proc::finish`] waits, after the process exited, for its output pipes to close.
/// A process it started and left running (a gunicorn worker whose master died) keeps them
/// open; the test then goes on with the output so far instead of waiting for ever.
pub const OUTPUT_GRACE: Duration = Duration::from_secs(5);

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
        let (done_tx, readers_done) = mpsc::channel();
        let err_done = done_tx.clone();
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
            let _ = done_tx.send(());
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
            let _ = err_done.send(());
        });
        Self {
            pid: child.id(),
            child: Some(child),
            lines,
            stdout,
            stderr,
            stderr_grew,
            readers: vec![out_reader, err_reader],
            readers_done,
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

    /// Waits up to `patience` for the next stdout line and returns it; `None` when no line came
    /// in time or the process closed its stdout. Unlike [`Proc::expect_line`], never fails.
    pub fn next_line(&self, patience: Duration) -> Option<String> {
        self.lines.recv_timeout(patience).ok()
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
        // Both pipes reach their end when the last process holding them exits. Joining a reader
        // that is still blocked would hang the test, so the readers are joined only once they
        // have said they are done, and left behind after OUTPUT_GRACE otherwise.
        let deadline = Instant::now() + OUTPUT_GRACE;
        let mut done = 0;
        while done < self.readers.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.readers_done.recv_timeout(left) {
                Ok(()) => done += 1,
                Err(_) => break,
            }
        }
        if done == self.readers.len() {
            for reader in self.readers.drain(..) {
                let _ = reader.join();
            }
        } else {
            lock(&self.stderr).push_str(
                "[testkit: the process exited, but a process it started still holds its output]\n",
            );
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

/// The `--kernel` line printed right under the first narration line of `output` that starts
/// with `call` (`"[client] close("`). Fails the test when there is none.
pub fn kernel_view_after<'a>(output: &'a str, call: &str) -> &'a str {
    let lines: Vec<&str> = output.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with(call))
        .unwrap_or_else(|| panic!("no {call:?} in:\n{output}"));
    let view = lines.get(at + 1).copied().unwrap_or_default();
    assert!(view.contains("]   kernel: "), "no kernel view after {call:?}:\n{output}");
    view
}

/// Runs `cmd` to completion with stdout and stderr captured (killed after [`PATIENCE`]).
pub fn run(cmd: &mut Command) -> Finished {
    Proc::spawn(cmd).finish()
}

/// Runs headless Chromium once, with a fresh profile in `profile` and `args` after the flags
/// every test needs: no sandbox or GPU (a container as root), and none of Chromium's own
/// background traffic (updates, sync, QUIC), which a machine with no network but loopback
/// refuses over and over. Fails the test, with its output, if Chromium does.
pub fn chromium(profile: &std::path::Path, args: &[&str]) -> Finished {
    let out = run(Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args));
    assert!(
        out.status.success(),
        "chromium failed (is it installed? .ci/run installs it): {out:?}"
    );
    out
}

/// Kills (SIGKILL) every process of the process group `group`: a command started with
/// `process_group(0)` leads a group of its own, numbered by its pid, so this ends it and every
/// process it forked (a server's workers), and nothing the test did not start.
pub fn kill_group(group: u32) {
    let _ = Command::new("kill").args(["-KILL", "--", &format!("-{group}")]).status();
}

fn signal(pid: u32, which: &str) {
    // `kill(1)` keeps the test kit free of unsafe code and of a libc dependency.
    let _ = Command::new("kill").args([which, &pid.to_string()]).status();
}

fn lock(text: &Mutex<String>) -> std::sync::MutexGuard<'_, String> {
    text.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Where [`skip`] records skipped tests, one line each, when set (`.ci/run` sets it).
pub const SKIP_LOG_VAR: &str = "TESTKIT_SKIP_LOG";

/// Marks the running test as skipped, for a reason that depends on the machine (no IPv6
/// loopback, no root); the test then returns: `return testkit::skip("no IPv6 loopback");`.
///
/// How a skip stays visible: the test harness counts a test that returns as *passed*, and it
/// hides what a passing test prints. So the skip is written straight to the process's stderr
/// (past the harness's capture) and appended as one line to the file named by
/// [`SKIP_LOG_VAR`]; `.ci/run` counts those lines, moves them from "passed" to "skipped", and
/// lists them.
pub fn skip(reason: &str) {
    use std::io::Write;
    let name = thread::current().name().unwrap_or("(unnamed test)").to_owned();
    // One line per skip, whatever the reason holds: CI counts lines.
    let reason = reason.split_whitespace().collect::<Vec<_>>().join(" ");
    let line = format!("skipped: {name}: {reason}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
    if let Some(path) = std::env::var_os(SKIP_LOG_VAR) {
        // Appends of one short line are atomic, so tests skipping in parallel do not mix.
        let log = std::fs::OpenOptions::new().create(true).append(true).open(path);
        if let Ok(mut log) = log {
            let _ = log.write_all(line.as_bytes());
        }
    }
}

/// The kernel reports a process's CPU time in clock ticks of `USER_HZ`, which is 100 on every
/// Linux architecture (the kernel converts for user space whatever its internal tick is).
const USER_HZ: u64 = 100;

/// CPU time (user + system) a process has used so far, from `/proc/PID/stat` (Linux only).
/// A server that is waiting costs next to none; one that spins costs a whole core.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("could not read /proc/{pid}/stat: {e}"));
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    // utime and stime are fields 14 and 15, that is the 12th and 13th after the name.
    let after_name = &stat[stat.rfind(')').expect("stat has (comm)") + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    Duration::from_millis(ticks * 1000 / USER_HZ)
}

/// Lowers the open-files limit (`RLIMIT_NOFILE`, soft) of a running process so that it can
/// open only `room` more descriptors, with `prlimit(1)` from util-linux. The kernel hands out
/// the lowest free number and the limit caps the number, so the limit is the lowest free
/// number + `room` (descriptors inherited above it do not matter). Returns the limit set.
/// Linux only.
pub fn limit_open_files(pid: u32, room: u64) -> u64 {
    let open: std::collections::HashSet<u64> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|e| panic!("could not list /proc/{pid}/fd: {e}"))
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .collect();
    let lowest_free = (0..).find(|fd| !open.contains(fd)).expect("some number is free");
    let limit = lowest_free + room;
    set_open_files_limit(pid, limit);
    limit
}

/// Sets the soft open-files limit of a running process (raising it back, for example).
pub fn set_open_files_limit(pid: u32, limit: u64) {
    let status = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--nofile={limit}:")])
        .status()
        .unwrap_or_else(|e| panic!("could not run prlimit (util-linux): {e}"));
    assert!(status.success(), "prlimit --pid {pid} --nofile={limit}: failed");
}

/// How long [`assert_idle_while_out_of_descriptors`] watches a starved server.
pub const STARVED_WINDOW: Duration = Duration::from_secs(1);
/// The most CPU a starved server may use over [`STARVED_WINDOW`]: a back-off costs a few
/// milliseconds, a server that retries `accept()` at once burns the whole window.
pub const STARVED_CPU_MAX: Duration = Duration::from_millis(200);

/// The accept-error policy's test: with the server's descriptors used up and `waiting`
/// clients queued, watch it for [`STARVED_WINDOW`] (the wait *is* the test: a starved server
/// should stay quiet) and check it used little CPU and said so once per shortage, not once per attempt. Returns the clients.
pub fn assert_idle_while_out_of_descriptors(
    server: &Proc,
    addr: &str,
    waiting: usize,
) -> Vec<std::net::TcpStream> {
    // Linux reserves the descriptor for an accept() before it blocks, so a server already
    // waiting in accept() gets one more connection whatever the limit: spend it on a client
    // that leaves at once, so the server's next accept() meets the limit.
    drop(std::net::TcpStream::connect(addr).expect("the kernel queues the connection"));
    let clients: Vec<_> = (0..waiting)
        .map(|_| std::net::TcpStream::connect(addr).expect("the kernel queues the connection"))
        .collect();
    // No wait for a message first: a server that spins may say nothing at all.
    let before = cpu_time(server.pid());
    thread::sleep(STARVED_WINDOW);
    let used = cpu_time(server.pid()) - before;
    assert!(
        used <= STARVED_CPU_MAX,
        "out of descriptors, the server used {used:?} of CPU in {STARVED_WINDOW:?}: it spins\n{}",
        server.stderr()
    );
    server.wait_for_stderr("Too many open files");
    let said = server.stderr().matches("Too many open files").count();
    // Once per shortage: a client that leaves frees a descriptor and ends one, so a few lines
    // are fine; one per attempt (ten a second) is not.
    assert!(said <= 3, "say it once, not per attempt ({said} times):\n{}", server.stderr());
    clients
}

/// The most resident memory a process has used so far (`VmHWM` in `/proc/PID/status`, the
/// "high-water mark"), in bytes. Linux only.
pub fn peak_memory(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("could not read /proc/{pid}/status: {e}"));
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmHWM: N kB");
    kib * 1024
}

/// The book's pages: every `.md` file in `src` (the book's `docs/src`), sorted by name. The
/// book is flat; its subfolders hold pictures (`img/`) and the tutorial's Python (`python/`).
pub fn book_pages(src: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut pages: Vec<_> = std::fs::read_dir(src)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", src.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    pages.sort();
    assert!(!pages.is_empty(), "the book has no pages in {}", src.display());
    pages
}

/// The workspace's top folder (where `Cargo.toml`, `docs/` and `scripts/` are), for the tests
/// that read the book or run a script.
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
