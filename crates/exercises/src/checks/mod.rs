//! The checks: one function per exercise, made of steps that each talk to the program over
//! loopback and either pass or return a [`Failure`] that says what happened.
//!
//! The shared pieces live here: starting a server and reading its `listening on ADDR` line,
//! running a client against a peer, an echo round trip in any [`Mode`], and a real outside
//! peer (Python's socket module) run as its own process.

pub mod ch01;
pub mod ch02;
pub mod ch03;
pub mod ch04;
pub mod ch05;
pub mod ch06;
pub mod ch07;
pub mod http;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::peer::{Ending, Mode, Peer, show};
use crate::run::{Child, Ended, STARTUP_TIMEOUT, cpu_time, open_fds};
use crate::verdict::Failure;

/// How long one echo may take to come back on loopback before a step gives up.
pub const ECHO_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a Python client may take, start-up included: a second on a machine busy with a
/// parallel build, so this is generous; only a program that never answers waits it out.
pub const PYTHON_TIMEOUT: Duration = Duration::from_secs(8);

/// The program being graded: a built binary, and how a student runs it by hand.
pub struct Program {
    /// The executable cargo built.
    pub path: PathBuf,
    /// `cargo run -q -p PACKAGE --`, the start of every "try it" line.
    pub run_by_hand: String,
    /// The book section for the exercise, used when a step has no closer one.
    pub book: &'static str,
    /// The port the program uses when started with no arguments, for "try it" lines (the
    /// grader itself always starts it on port 0).
    pub port_by_hand: u16,
    /// Print each step as it passes (the CLI), or stay quiet (the tests).
    pub verbose: bool,
}

impl Program {
    /// Notes that a step passed.
    pub fn passed(&self, step: &str) {
        if self.verbose {
            println!("  ok  {step}");
        }
    }

    /// Starts the program as a server on 127.0.0.1 port 0 and waits for `listening on ADDR`.
    ///
    /// # Errors
    /// When it does not start, exits, or never says where it listens.
    pub fn start_server(&self) -> Result<Server, Failure> {
        self.start_server_with(&[])
    }

    /// [`Program::start_server`] with more arguments after the address (a folder to serve).
    ///
    /// # Errors
    /// As for [`Program::start_server`].
    pub fn start_server_with(&self, more: &[&std::ffi::OsStr]) -> Result<Server, Failure> {
        let mut cmd = Command::new(&self.path);
        cmd.arg("127.0.0.1:0").args(more);
        let shown = format!("{} 127.0.0.1:0", self.run_by_hand);
        let child = Child::spawn(cmd, shown.clone()).map_err(|e| Failure::new("start").got(e))?;
        let step = "start: print `listening on ADDR` once the socket listens";
        let line = match child.expect_line("listening on ", STARTUP_TIMEOUT) {
            Ok(line) => line,
            Err(why) => {
                let ended = child.kill();
                return Err(Failure::new(step)
                    .sent(format!("started `{shown}`"))
                    .expected(
                        "a line `listening on 127.0.0.1:PORT` on stdout, PORT the one bind() chose",
                    )
                    .got(format!("{why}{}", tail("stderr", &ended.stderr)))
                    .repro(shown));
            }
        };
        let text = line["listening on ".len()..].trim();
        let addr: SocketAddr = text.parse().map_err(|e| {
            Failure::new(step)
                .expected("`listening on 127.0.0.1:PORT`, the address local_addr() returns")
                .got(format!("{line:?}: {e}"))
        })?;
        self.passed(&format!("started, listening on {addr}"));
        let (run_by_hand, port_by_hand) = (self.run_by_hand.clone(), self.port_by_hand);
        Ok(Server { child, addr, run_by_hand, port_by_hand })
    }
}

impl Program {
    /// Runs the program as a client with `args` and waits up to `limit` for it to exit; after
    /// that the grader stops it ([`Ended::status`] is then `None`).
    ///
    /// # Errors
    /// When it cannot be started.
    pub fn run_client(
        &self,
        step: &str,
        args: &[String],
        limit: Duration,
    ) -> Result<Ended, Failure> {
        let mut cmd = Command::new(&self.path);
        cmd.args(args);
        let shown = format!("{} {}", self.run_by_hand, args.join(" "));
        let child = Child::spawn(cmd, shown).map_err(|e| Failure::new(step).got(e))?;
        Ok(child.wait(limit))
    }
}

/// The student's server, running.
pub struct Server {
    /// The running process (killed and reaped when the server is dropped).
    pub child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    run_by_hand: String,
    port_by_hand: u16,
}

impl Server {
    /// A new client connection.
    ///
    /// # Errors
    /// When connecting fails (the server died, or never listened on that address).
    pub fn connect(&mut self, step: &str) -> Result<Peer, Failure> {
        Peer::connect(self.addr).map_err(|e| {
            let failure = Failure::new(step)
                .sent(format!("connect({})", self.addr))
                .expected("the connection accepted by the kernel (the server is listening)")
                .got(e)
                .repro(self.repro("nc -v 127.0.0.1 PORT"));
            self.died_or(failure)
        })
    }

    /// Fails the step unless the server is still running.
    ///
    /// # Errors
    /// The server exited, with what it printed on stderr.
    pub fn still_running(&mut self, step: &str, after: &str, repro: &str) -> Result<(), Failure> {
        if self.child.is_running() {
            return Ok(());
        }
        let repro = self.repro(repro);
        Err(self.died_or(
            Failure::new(step)
                .sent(after.to_owned())
                .expected("the server keeps running and serves the next client")
                .repro(repro),
        ))
    }

    /// `failure`, said more precisely when the reason is that the server is gone.
    pub fn died_or(&mut self, failure: Failure) -> Failure {
        // A panicking server closes its sockets a moment before it can be reaped: a connection
        // that just closed may mean it is on its way out, so give it that moment.
        let deadline = Instant::now() + Duration::from_millis(200);
        while self.child.is_running() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        if self.child.is_running() {
            // A server with a thread per connection survives a panic in one of them: the
            // panic's message is still the reason.
            let stderr = self.child.stderr();
            if stderr.contains("panicked") {
                let got = format!("{}{}", failure.got, tail("stderr (a thread panicked)", &stderr));
                return Failure { got, ..failure };
            }
            return failure;
        }
        let stderr = self.child.stderr();
        let got = format!("the server exited{}", tail("stderr", &stderr));
        Failure { got, ..failure }
    }

    /// The "try it" line: start the server by hand, then run `client`.
    pub fn repro(&self, client: &str) -> String {
        let client = client.replace("PORT", &self.default_port().to_string());
        format!("{} &  {client}", self.run_by_hand)
    }

    fn default_port(&self) -> u16 {
        self.port_by_hand
    }

    /// Sends `data` in `mode` on a new connection and expects exactly `expected` back.
    ///
    /// # Errors
    /// What came back instead, with a Python one-liner that shows it.
    pub fn echo(
        &mut self,
        step: &str,
        (data, mode): (&[u8], Mode),
        expected: &[u8],
        repro: &str,
    ) -> Result<Peer, Failure> {
        let mut peer = self.connect(step)?;
        let sent = format!("{} ({})", show(data), mode.name());
        if let Err(e) = peer.send(data, mode) {
            return Err(
                self.died_or(Failure::new(step).sent(sent).got(format!("send failed: {e}")))
            );
        }
        let (got, ending) = peer.read_len(expected.len(), ECHO_TIMEOUT);
        if got != expected {
            let failure = Failure::new(step)
                .sent(sent)
                .expected(show(expected))
                .got(format!("{}, {}", show(&got), ending.describe(ECHO_TIMEOUT)))
                .repro(self.repro(repro));
            return Err(self.died_or(failure));
        }
        Ok(peer)
    }

    /// Sends `data` from one thread while reading the echo in this one, so that neither side's
    /// buffers fill up: a big message must come back whole, however the kernel cuts it.
    ///
    /// # Errors
    /// How much came back, and how the connection ended.
    pub fn big_echo(&mut self, step: &str, data: &[u8], repro: &str) -> Result<(), Failure> {
        let mut peer = self.connect(step)?;
        let mut writer =
            peer.stream().try_clone().map_err(|e| Failure::new(step).got(e.to_string()))?;
        let owned = data.to_vec();
        let sender = thread::spawn(move || {
            use std::io::Write;
            let _ = writer.set_write_timeout(Some(ECHO_TIMEOUT));
            writer.write_all(&owned)
        });
        let limit = ECHO_TIMEOUT * 2;
        let (got, ending) = peer.read_len(data.len(), limit);
        drop(peer);
        let _ = sender.join();
        if got != data {
            let first_wrong = got.iter().zip(data).position(|(a, b)| a != b);
            let detail = match first_wrong {
                Some(at) => format!("{} bytes, wrong from byte {at} on", got.len()),
                None => {
                    format!("{} of {} bytes, {}", got.len(), data.len(), ending.describe(limit))
                }
            };
            let failure = Failure::new(step)
                .sent(format!("{} bytes in one sendall, reading the echo meanwhile", data.len()))
                .expected(format!("the same {} bytes back", data.len()))
                .got(detail)
                .repro(self.repro(repro));
            return Err(self.died_or(failure));
        }
        Ok(())
    }

    /// Opens `count` connections one after another, each sending `request`, waiting for the
    /// start of the answer and closing; then expects the server's open descriptors
    /// (`/proc/PID/fd`) back near where they were. A server that never closes the sockets it
    /// accepted keeps one descriptor per connection, until it hits its limit (EMFILE) and
    /// accept() fails for everyone.
    ///
    /// # Errors
    /// How many descriptors stayed open, with a command that counts them.
    pub fn closes_its_sockets(
        &mut self,
        step: &str,
        count: usize,
        request: &[u8],
        repro: &str,
    ) -> Result<(), Failure> {
        let pid = self.child.pid();
        let before = open_fds(pid).map_err(|e| self.died_or(Failure::new(step).got(e)))?;
        for _ in 0..count {
            let mut peer = self.connect(step)?;
            let _ = peer.send(request, Mode::Whole);
            let _ = peer.read_some(ECHO_TIMEOUT);
        }
        // The server closes a socket after it notices the client's close, a moment later.
        let deadline = Instant::now() + Duration::from_secs(3);
        let slack = 2;
        let mut after = before;
        while Instant::now() < deadline {
            after = open_fds(pid).map_err(|e| self.died_or(Failure::new(step).got(e)))?;
            if after <= before + slack {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(20));
        }
        let repro = format!(
            "{} & pid=$!; sleep 1; {repro}; sleep 1; ls /proc/$pid/fd | wc -l",
            self.run_by_hand
        )
        .replace("PORT", &self.default_port().to_string());
        Err(self.died_or(
            Failure::new(step)
                .sent(format!("{count} connections, one after another, each closed by the client"))
                .expected(format!(
                    "the server closes each socket once its client has gone: about {before} open \
                     descriptors, as before"
                ))
                .got(format!(
                    "{after} open descriptors in /proc/{pid}/fd, {} more: the server never \
                     closes the sockets it accepted (a descriptor leak; at the open-files limit \
                     accept() fails with EMFILE)",
                    after - before
                ))
                .repro(repro),
        ))
    }

    /// CPU the server uses over `window` while nothing happens; fails above `max_share` of a
    /// core. The wait is the thing under test: an idle server should sleep in poll/accept.
    ///
    /// # Errors
    /// The measured share, and what a busy loop looks like.
    pub fn idle_cpu(
        &mut self,
        step: &str,
        window: Duration,
        max_share: f64,
    ) -> Result<(), Failure> {
        let pid = self.child.pid();
        let before = cpu_time(pid).map_err(|e| Failure::new(step).got(e))?;
        let started = Instant::now();
        thread::sleep(window);
        let after = cpu_time(pid).map_err(|e| self.died_or(Failure::new(step).got(e)))?;
        let share = (after.saturating_sub(before)).as_secs_f64() / started.elapsed().as_secs_f64();
        if share > max_share {
            return Err(Failure::new(step)
                .sent(format!("one idle connection, then nothing for {window:?}"))
                .expected(format!(
                    "the server sleeps (in poll, accept or recv) until something happens: under \
                     {:.0}% of one core",
                    max_share * 100.0
                ))
                .got(format!(
                    "{:.0}% of one core (utime+stime from /proc/{pid}/stat): a busy loop",
                    share * 100.0
                ))
                .repro(format!(
                    "{} & pid=$!; sleep 1; python3 -c \"import socket,time; \
                     s=socket.create_connection(('127.0.0.1',{})); s.sendall(b'hi'); \
                     time.sleep(5)\" & a=$(awk '{{print $14+$15}}' /proc/$pid/stat); sleep 2; \
                     echo $(( $(awk '{{print $14+$15}}' /proc/$pid/stat) - a )) ticks in 2 s",
                    self.run_by_hand,
                    self.default_port()
                )));
        }
        Ok(())
    }
}

/// Runs Python's socket module as a real outside client: `script` is a `python3 -c` one-liner
/// with `PORT` where the port goes. Returns its stdout.
///
/// # Errors
/// When python3 is missing, fails, or takes longer than `limit`.
pub fn python(script: &str, port: u16, limit: Duration) -> Result<String, String> {
    let code = script.replace("PORT", &port.to_string());
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(&code);
    let child = Child::spawn(cmd, "python3".to_owned())?;
    let ended = child.wait(limit);
    match ended.status {
        Some(status) if status.success() => Ok(ended.stdout),
        Some(status) => Err(format!("python3 {status}{}", tail("stderr", &ended.stderr))),
        None => Err(format!(
            "python3 was still waiting after {limit:?} (stopped by the grader){}",
            tail("its output so far", &ended.stdout)
        )),
    }
}

/// Runs an outside tool (curl, nc) with `args`, stopped after `limit`; returns how it ended.
///
/// # Errors
/// When the tool is not installed.
pub fn outside_tool(tool: &str, args: &[&str], limit: Duration) -> Result<Ended, String> {
    let mut cmd = Command::new(tool);
    cmd.args(args);
    let child = Child::spawn(cmd, format!("{tool} {}", args.join(" ")))
        .map_err(|e| format!("{e} (is {tool} installed?)"))?;
    Ok(child.wait(limit))
}

/// The python3 client most steps start from: send, half-close, read until the server closes.
pub const PY_SEND_SHUT_READ: &str = "import socket; s=socket.create_connection(('127.0.0.1',PORT)); \
     s.sendall(DATA); s.shutdown(socket.SHUT_WR); \
     print(b''.join(iter(lambda: s.recv(1024), b'')))";

/// A step that runs [`PY_SEND_SHUT_READ`] with `data` and expects the echo, then the close.
///
/// # Errors
/// What Python printed instead.
pub fn python_echo(
    server: &mut Server,
    step: &str,
    data: &[u8],
    expected: &[u8],
) -> Result<(), Failure> {
    let script = PY_SEND_SHUT_READ.replace("DATA", &crate::peer::show_all(data));
    let want = format!("{}\n", crate::peer::show_all(expected));
    let port = server.addr.port();
    let result = python(&script, port, PYTHON_TIMEOUT);
    let failure = |got: String| {
        Failure::new(step)
            .sent(format!("{} from Python's socket module, then shutdown(SHUT_WR)", show(data)))
            .expected(format!(
                "{} back, then the connection closed, so Python's loop ends",
                show(expected)
            ))
            .got(got)
    };
    match result {
        Ok(out) if out == want => Ok(()),
        Ok(out) => {
            let f = failure(format!("Python printed {:?}", out.trim_end()));
            Err(server.died_or(f.repro(server.repro(&format!("python3 -c \"{script}\"")))))
        }
        Err(e) => {
            let f = failure(e);
            Err(server.died_or(f.repro(server.repro(&format!("python3 -c \"{script}\"")))))
        }
    }
}

/// The last few lines of `text`, as `\n  label: ...`, or nothing when it is empty.
pub fn tail(label: &str, text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return String::new();
    }
    let start = lines.len().saturating_sub(6);
    let shown: Vec<String> =
        lines[start..].iter().map(|l| common::text::escape_controls(l)).collect();
    let mut out = format!("\n{label}:\n  {}", shown.join("\n  "));
    if text.contains("not yet implemented") {
        out.push_str("\n(a `todo!()` is still there: that is the part to write)");
    }
    out
}

/// Waits for a read of `peer` to end the way a close does, for the steps that expect the
/// program to hang up on a peer.
pub fn closed_within(peer: &mut Peer, max: usize, limit: Duration) -> (Vec<u8>, Ending) {
    peer.read_to_close(max, limit)
}
