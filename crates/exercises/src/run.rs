//! The student's program as a supervised child process.
//!
//! A program under test may do anything: exit at once, never print its readiness line, print
//! without end, or spin forever. So every wait here has a deadline and says what it waited
//! for, output is kept only up to a cap, and every process the grader starts is killed and
//! reaped: when its [`Child`] is dropped (also while a panic unwinds), and on Ctrl-C through
//! [`kill_all_started`], which the CLI's handler calls.
//!
//! A program that leaks is stopped too: its resident memory is watched ([`MAX_RSS`]), and
//! [`open_fds`] counts its descriptors, so a check can see a server that never closes the
//! sockets it accepted.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// Output kept per stream: enough to show a student what their program said, small enough that
/// a program printing in a loop cannot fill the grader's memory.
pub const MAX_KEPT_OUTPUT: usize = 64 * 1024;

/// Output beyond which a program counts as flooding its terminal, and is stopped.
pub const MAX_OUTPUT: usize = 4 * 1024 * 1024;

/// How long a program may take to print `listening on ADDR`: a debug build starts in
/// milliseconds, so this only matters for a program that never gets there.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Resident memory (VmRSS) beyond which a program counts as leaking, and is stopped. No exercise
/// needs more than a few MiB; a buffer that grows with everything a peer sends gets here fast.
pub const MAX_RSS: u64 = 128 << 20;

/// How often the memory watcher looks at `/proc/PID/status`.
const RSS_EVERY: Duration = Duration::from_millis(20);

/// The PIDs of every child still running, so Ctrl-C can end them all (each by its own PID).
static STARTED: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// How long Ctrl-C waits for the programs it killed to let go of their sockets.
pub const KILL_WAIT: Duration = Duration::from_secs(2);

/// Kills every process the grader started that is still running, then waits until each has
/// closed its descriptors (at most [`KILL_WAIT`]): SIGKILL is delivered when the process next
/// runs, which on a busy machine can be after the grader has exited, and the student's server
/// would still be accepting when the prompt comes back. For the Ctrl-C handler.
pub fn kill_all_started() {
    let pids: Vec<u32> = lock(&STARTED).iter().copied().collect();
    for &pid in &pids {
        kill(pid);
    }
    let deadline = Instant::now() + KILL_WAIT;
    for pid in pids {
        while !has_let_go(pid) && Instant::now() < deadline {
            // Polling the kernel's process table: the child is reaped elsewhere, so there is
            // no wait() to block in from this handler.
            thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Has `pid` closed all its descriptors? A killed child that nobody has reaped yet is a zombie
/// (state `Z` in `/proc/PID/stat`), and a process closes its files before it becomes one.
/// Without `/proc` (not Linux) there is nothing to look at, and this does not wait.
fn has_let_go(pid: u32) -> bool {
    stat_fields(pid).map_or(true, |fields| fields.first().is_none_or(|state| state == "Z"))
}

/// A running program: its stdout arrives line by line; both streams are kept up to a cap.
pub struct Child {
    child: Option<std::process::Child>,
    pid: u32,
    /// What the program was started as, for messages ("ex01-echo-server 127.0.0.1:0").
    pub shown_as: String,
    lines: Receiver<String>,
    output: Arc<Mutex<Output>>,
}

/// Both output streams as far as they were kept, and how much there was in all.
#[derive(Default)]
struct Output {
    stdout: String,
    stderr: String,
    total: usize,
}

/// How a supervised program ended.
pub struct Ended {
    /// Its exit status, or `None` when the grader had to kill it after its deadline.
    pub status: Option<ExitStatus>,
    /// Its stdout, up to [`MAX_KEPT_OUTPUT`].
    pub stdout: String,
    /// Its stderr, up to [`MAX_KEPT_OUTPUT`].
    pub stderr: String,
}

impl Child {
    /// Starts `cmd` with stdin closed and both output streams captured.
    ///
    /// # Errors
    /// The operating system's reason when the program cannot be started.
    pub fn spawn(mut cmd: Command, shown_as: String) -> Result<Self, String> {
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        // A panic's message, not a backtrace that pushes it out of the lines a report shows.
        cmd.env("RUST_BACKTRACE", "0");
        let mut child = cmd.spawn().map_err(|e| format!("could not start {shown_as}: {e}"))?;
        let pid = child.id();
        lock(&STARTED).insert(pid);
        let output = Arc::new(Mutex::new(Output::default()));
        let (tx, lines) = mpsc::channel();
        let out_pipe = child.stdout.take().expect("stdout is piped");
        let err_pipe = child.stderr.take().expect("stderr is piped");
        let out = Arc::clone(&output);
        thread::spawn(move || {
            let mut reader = BufReader::new(out_pipe);
            let mut line = Vec::new();
            // A bounded line reader: a program that prints one endless line is still capped.
            while let Ok(n @ 1..) = read_line_capped(&mut reader, &mut line) {
                let text = String::from_utf8_lossy(&line).into_owned();
                if keep(&out, n, pid, |o| &mut o.stdout, &text) {
                    let _ = tx.send(text.trim_end_matches(['\r', '\n']).to_owned());
                }
            }
        });
        let err = Arc::clone(&output);
        thread::spawn(move || {
            let mut pipe = err_pipe;
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                let text = String::from_utf8_lossy(&chunk[..n]).into_owned();
                keep(&err, n, pid, |o| &mut o.stderr, &text);
            }
        });
        let watched = Arc::clone(&output);
        thread::spawn(move || watch_memory(pid, &watched));
        Ok(Self { child: Some(child), pid, shown_as, lines, output })
    }

    /// The process id, for `/proc/PID/stat`.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits up to `limit` for a stdout line starting with `prefix`, and returns it.
    ///
    /// # Errors
    /// What happened instead: the program exited first, or said nothing of the kind in time.
    pub fn expect_line(&self, prefix: &str, limit: Duration) -> Result<String, String> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return Ok(line),
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "waited {limit:?} for `{} ` to print a line starting with {prefix:?}; it \
                         did not",
                        self.shown_as
                    ));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!(
                        "`{}` closed its output (it exited?) before printing a line starting \
                         with {prefix:?}",
                        self.shown_as
                    ));
                }
            }
        }
    }

    /// Whether the program is still running (it has not exited or been killed).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(std::process::Child::try_wait), Some(Ok(None)))
    }

    /// Waits up to `limit` for the program to exit by itself, killing it after that.
    pub fn wait(mut self, limit: Duration) -> Ended {
        let deadline = Instant::now() + limit;
        let mut status = None;
        if let Some(child) = self.child.as_mut() {
            // Polling try_wait keeps this free of threads that would outlive a killed child;
            // 5 ms between looks is nothing next to the deadlines used here.
            while Instant::now() < deadline {
                if let Ok(Some(done)) = child.try_wait() {
                    status = Some(done);
                    break;
                }
                thread::sleep(Duration::from_millis(5));
            }
        }
        self.stop();
        self.ended(status)
    }

    /// Kills the program if it still runs, reaps it, and returns what it printed.
    pub fn kill(mut self) -> Ended {
        let status = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
        self.stop();
        self.ended(status)
    }

    /// What the program has printed on stderr so far, up to [`MAX_KEPT_OUTPUT`]. When it has
    /// exited, this waits (briefly) until its last words have been read from the pipe.
    pub fn stderr(&mut self) -> String {
        // A program that has just closed its output may not be reapable for a moment yet, so
        // "still running" is believed only after a short grace; an exited program's readers
        // are then given the rest of the wait to read its last bytes.
        let started = Instant::now();
        let deadline = started + Duration::from_millis(500);
        while Arc::strong_count(&self.output) > 1 && Instant::now() < deadline {
            if started.elapsed() >= Duration::from_millis(100) && self.is_running() {
                break;
            }
            thread::sleep(Duration::from_millis(5));
        }
        lock(&self.output).stderr.clone()
    }

    fn ended(&self, status: Option<ExitStatus>) -> Ended {
        // The reader threads may still hold the last bytes; a short wait lets them finish
        // reading a pipe whose writer is gone. It is bounded, as everything here.
        let deadline = Instant::now() + Duration::from_millis(200);
        while Arc::strong_count(&self.output) > 1 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        let out = lock(&self.output);
        Ended { status, stdout: out.stdout.clone(), stderr: out.stderr.clone() }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // kill() on an exited but unreaped child is harmless: the PID is still ours.
            let _ = child.kill();
            let _ = child.wait();
            lock(&STARTED).remove(&self.pid);
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Keeps `text` (n bytes) in the stream `field` up to the cap; returns false once the program
/// has printed more than [`MAX_OUTPUT`] in all, and kills it.
fn keep(
    output: &Mutex<Output>,
    n: usize,
    pid: u32,
    field: impl Fn(&mut Output) -> &mut String,
    text: &str,
) -> bool {
    let mut out = lock(output);
    out.total += n;
    if out.total > MAX_OUTPUT {
        let stream = field(&mut out);
        if !stream.ends_with("[output cut: more than 4 MiB]\n") {
            stream.push_str("\n[output cut: more than 4 MiB]\n");
            // Only while it is still ours: a reaped PID may already name someone else's process.
            if lock(&STARTED).contains(&pid) {
                kill(pid);
            }
        }
        return false;
    }
    let stream = field(&mut out);
    if stream.len() < MAX_KEPT_OUTPUT {
        let room = MAX_KEPT_OUTPUT - stream.len();
        let cut = text.char_indices().map(|(i, _)| i).take_while(|&i| i <= room).last();
        match cut {
            Some(end) if end < text.len() && text.len() > room => {
                stream.push_str(&text[..end]);
                stream.push_str("\n[... more output not kept]\n");
            }
            _ => stream.push_str(text),
        }
    }
    true
}

/// Stops the program once its resident memory passes [`MAX_RSS`], and says so on its stderr,
/// where every report looks for its last words. Ends when the grader has reaped it.
fn watch_memory(pid: u32, output: &Mutex<Output>) {
    while lock(&STARTED).contains(&pid) {
        if let Some(rss) = resident_bytes(pid).filter(|&rss| rss > MAX_RSS) {
            lock(output).stderr.push_str(&format!(
                "\n[stopped by the grader: {} MiB resident (VmRSS in /proc/{pid}/status), over \
                 the {} MiB cap: memory that grows with what the peers send]\n",
                rss.div_ceil(1 << 20),
                MAX_RSS >> 20
            ));
            if lock(&STARTED).contains(&pid) {
                kill(pid);
            }
            return;
        }
        thread::sleep(RSS_EVERY);
    }
}

/// The process's resident memory in bytes, from `/proc/PID/status` (Linux); `None` when it is
/// gone, a zombie, or this is not Linux.
pub fn resident_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// How many descriptors the process has open: the entries of `/proc/PID/fd` (Linux). Every
/// accepted socket is one until the server closes it.
///
/// # Errors
/// When the directory cannot be read (the process is gone, or this is not Linux).
pub fn open_fds(pid: u32) -> Result<usize, String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(Iterator::count)
        .map_err(|e| format!("could not read /proc/{pid}/fd: {e}"))
}

/// Reads one line of at most [`MAX_KEPT_OUTPUT`] bytes into `line`; returns bytes consumed.
fn read_line_capped(reader: &mut impl BufRead, line: &mut Vec<u8>) -> std::io::Result<usize> {
    line.clear();
    let mut consumed = 0;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(consumed);
        }
        let (take, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        let room = MAX_KEPT_OUTPUT.saturating_sub(line.len());
        line.extend_from_slice(&available[..take.min(room)]);
        reader.consume(take);
        consumed += take;
        if done || line.len() >= MAX_KEPT_OUTPUT {
            return Ok(consumed);
        }
    }
}

/// CPU time (user + system) the process has used so far, from `/proc/PID/stat` (Linux).
///
/// # Errors
/// When the file cannot be read or parsed (the process is gone, or this is not Linux).
pub fn cpu_time(pid: u32) -> Result<Duration, String> {
    let fields = stat_fields(pid)?;
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after the name.
    let ticks: u64 = [11, 12]
        .iter()
        .map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0))
        .sum();
    Ok(Duration::from_millis(ticks * 1000 / clock_ticks_per_second()))
}

/// The fields of `/proc/PID/stat` that follow the command name, the state (field 3) first.
/// The name (field 2) is in parentheses and may hold spaces: they are counted after the last `)`.
///
/// # Errors
/// When the file cannot be read (the process is gone, or this is not Linux).
fn stat_fields(pid: u32) -> Result<Vec<String>, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("could not read /proc/{pid}/stat: {e}"))?;
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    Ok(after_name.split_whitespace().map(str::to_owned).collect())
}

/// Clock ticks per second (`getconf CLK_TCK`): 100 on every Linux we know of, asked anyway.
fn clock_ticks_per_second() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|&t| t > 0)
            .unwrap_or(100)
    })
}

fn kill(pid: u32) {
    // kill(1) by PID keeps the grader free of unsafe code and of a libc dependency.
    let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Child {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        Child::spawn(cmd, format!("sh -c '{script}'")).expect("sh starts")
    }

    #[test]
    fn a_program_that_floods_its_output_is_stopped_and_its_output_capped() {
        let started = Instant::now();
        let ended = sh("exec yes flood").wait(Duration::from_secs(20));
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "stopped by the cap, not the deadline"
        );
        assert!(ended.stdout.len() <= MAX_KEPT_OUTPUT + 100, "{}", ended.stdout.len());
        assert!(
            ended.stdout.ends_with("[output cut: more than 4 MiB]\n"),
            "{}",
            &ended.stdout[..80]
        );
    }

    #[test]
    fn a_program_that_never_gets_ready_is_reported_then_killed_and_reaped() {
        let child = sh("exec sleep 30");
        let pid = child.pid();
        let why = child.expect_line("listening on ", Duration::from_millis(200)).unwrap_err();
        assert!(why.contains("waited") && why.contains("listening on"), "{why}");
        let ended = child.kill();
        assert!(ended.status.is_none(), "killed, not exited by itself");
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "reaped: no zombie left");
        assert!(!lock(&STARTED).contains(&pid));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_killed_child_has_let_go_once_it_is_a_zombie_before_anyone_reaps_it() {
        let mut child = Command::new("sleep").arg("30").spawn().expect("sleep starts");
        let pid = child.id();
        assert!(!has_let_go(pid), "a sleeping child still holds its descriptors");
        kill(pid);
        let deadline = Instant::now() + KILL_WAIT;
        while !has_let_go(pid) {
            assert!(Instant::now() < deadline, "SIGKILL never took effect on {pid}");
            thread::yield_now();
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("not reaped yet");
        assert!(stat.contains(") Z "), "a zombie until reaped: {stat}");
        child.wait().expect("reap it");
    }

    #[test]
    fn a_program_that_exits_early_is_reported_with_its_stderr() {
        let mut child = sh("echo 'thread main panicked: not yet implemented' >&2; exit 101");
        let why = child.expect_line("listening on ", Duration::from_secs(10)).unwrap_err();
        assert!(why.contains("exited"), "{why}");
        assert!(child.stderr().contains("not yet implemented"));
    }

    #[test]
    fn a_program_whose_memory_grows_without_end_is_stopped_and_said_so() {
        // Python's bytearray touches every page, so resident memory really grows.
        let mut child = sh("exec python3 -c \"import time; a=bytearray(300<<20); time.sleep(20)\"");
        let started = Instant::now();
        while child.is_running() && started.elapsed() < Duration::from_secs(10) {
            thread::sleep(Duration::from_millis(20));
        }
        assert!(!child.is_running(), "stopped by the memory cap, not left to sleep");
        let stderr = child.stderr();
        assert!(stderr.contains("stopped by the grader") && stderr.contains("MiB cap"), "{stderr}");
    }

    #[test]
    fn descriptors_are_counted_from_proc() {
        // Three more than stdin, stdout and stderr, kept open by the program that sleeps.
        let child = sh("exec 7</dev/null 8</dev/null 9</dev/null; exec sleep 5");
        let pid = child.pid();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut fds = 0;
        while fds < 6 && Instant::now() < deadline {
            fds = open_fds(pid).expect("readable");
            thread::sleep(Duration::from_millis(10));
        }
        assert!(fds >= 6, "0, 1, 2, 7, 8 and 9 at least: {fds}");
        drop(child);
        assert!(open_fds(pid).is_err(), "gone, so nothing to count");
    }

    #[test]
    fn cpu_time_is_read_from_proc() {
        let child = sh("exec sleep 5");
        assert!(cpu_time(child.pid()).expect("readable") < Duration::from_secs(1));
    }
}
