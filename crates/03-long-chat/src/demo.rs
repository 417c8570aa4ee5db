//! `demo`: a room server and three scripted clients in one process, narrated.
//!
//! alice, bob and carol join a room on a free port; alice says hello, bob renames himself,
//! carol asks who is here, and alice leaves with a half-close. Each client prints what it sees
//! (`[bob sees] alice: hello, room`), and the narration shows the frames and socket calls
//! behind it. Every step waits for the line it expects, so the demo ends by itself, in well
//! under a second, without a keyboard.

use std::net::Shutdown;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use common::narrate;
use common::narrate::Narrator;
use common::step;
use common::stop::Stop;

use crate::client::{self, View};
use crate::command::{command_frame, parse_line};
use crate::config::{self, Config, Mode};
use crate::connection::{Connection, FrameWriter};
use crate::frame::{Frame, Kind};
use crate::liveness::Liveness;

/// How long the demo waits for any one expected line.
const STEP_TIMEOUT: Duration = Duration::from_secs(5);
/// The same with `--step`, where a class may spend minutes on one call: an hour.
const STEPPED_TIMEOUT: Duration = Duration::from_secs(3600);

/// How long to wait for the next expected line.
fn patience() -> Duration {
    if common::narrate::step::is_on() { STEPPED_TIMEOUT } else { STEP_TIMEOUT }
}

/// The demo's heartbeat settings. Its scripted clients never answer a PING (the script is over
/// long before one is due), so with `--step` the clocks stretch to an hour, rather than have the
/// room drop a client while the class looks at one call.
fn liveness() -> Liveness {
    let quiet = Liveness { keepalive: None, ..Liveness::default() };
    if common::narrate::step::is_on() {
        Liveness { heartbeat: STEPPED_TIMEOUT, peer_timeout: STEPPED_TIMEOUT, ..quiet }
    } else {
        quiet
    }
}

/// A client driven by a script instead of a keyboard.
struct Scripted {
    name: &'static str,
    writer: Arc<FrameWriter>,
    seen: Receiver<Option<String>>,
}

impl Scripted {
    fn join(addr: SocketAddr, name: &'static str) -> Result<Self> {
        let n = Narrator::new(name, true);
        let stream =
            Arc::new(client::connect(&addr.ip().to_string(), addr.port(), &liveness(), n)?);
        let writer = Arc::new(FrameWriter::new(Arc::clone(&stream), n));
        writer.send(&Frame::new(Kind::Join, name))?;
        let (tx, seen) = mpsc::channel();
        thread::spawn(move || {
            let mut conn = Connection::new(&*stream);
            let mut view = View::default();
            loop {
                match conn.read_frame() {
                    Ok(Some(frame)) => {
                        if let Some(line) = view.show(&frame) {
                            println!("[{name} sees] {line}");
                            let _ = tx.send(Some(line));
                        }
                    }
                    Err(e) if e.is_timeout() => {}
                    Ok(None) | Err(_) => {
                        narrate!(n, &*stream, "recv() -> 0 bytes (the server closed)");
                        let _ = tx.send(None);
                        return;
                    }
                }
            }
        });
        let me = Self { name, writer, seen };
        me.expect("* you are")?;
        Ok(me)
    }

    /// Types a line, as a person would at the prompt.
    fn type_line(&self, line: &str) -> Result<()> {
        println!("[{} types] {line}", self.name);
        if let Some(frame) = command_frame(&parse_line(line)) {
            self.writer.send(&frame)?;
        }
        Ok(())
    }

    /// Waits until this client has seen a line containing `needle`.
    fn expect(&self, needle: &str) -> Result<()> {
        let deadline = Instant::now() + patience();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.seen.recv_timeout(left) {
                Ok(Some(line)) if line.contains(needle) => return Ok(()),
                Ok(Some(_)) => {}
                Ok(None) => bail!("{} was disconnected while waiting for {needle:?}", self.name),
                Err(_) => bail!("{} did not see {needle:?} in time", self.name),
            }
        }
    }

    /// Leaves with a half-close and waits for the server's close.
    fn leave(&self) -> Result<()> {
        println!("[{} types] /quit", self.name);
        let (n, stream) = (Narrator::new(self.name, true), self.writer.stream());
        step!(n, stream, "shutdown(SHUT_WR)");
        stream.shutdown(Shutdown::Write)?;
        narrate!(n, stream, "shutdown(SHUT_WR)");
        let deadline = Instant::now() + patience();
        loop {
            match self.seen.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(None) => return Ok(()),
                Ok(Some(_)) => {}
                Err(_) => bail!("the server did not close {}'s connection", self.name),
            }
        }
    }
}

/// Runs the narrated demo.
///
/// # Errors
/// When the server cannot listen on loopback or a step does not happen in time.
pub fn run() -> Result<()> {
    let config = Config {
        host: "127.0.0.1".into(),
        port: 0,
        mode: Mode::Room,
        max_clients: config::DEFAULT_MAX_CLIENTS,
        liveness: liveness(),
        name: "server".into(),
        no_history: true,
        narrator: Narrator::new("server", true),
    };
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let listener = ch01_echo::listen::listen(loopback, &config::LISTEN, config.narrator)?;
    let addr = listener.local_addr().context("could not read the bound address")?;
    println!("listening on {addr}");
    let stop = Stop::new();
    let serving = thread::spawn({
        let stop = Arc::clone(&stop);
        move || crate::room::serve(listener, &config, &stop)
    });

    let script = || -> Result<()> {
        let alice = Scripted::join(addr, "alice")?;
        let bob = Scripted::join(addr, "bob")?;
        alice.expect("* bob joined")?;
        let carol = Scripted::join(addr, "carol")?;
        bob.expect("* carol joined")?;
        alice.type_line("hello, room")?;
        bob.expect("alice: hello, room")?;
        carol.expect("alice: hello, room")?;
        bob.type_line("/nick robert")?;
        alice.expect("* bob is now robert")?;
        carol.expect("* bob is now robert")?;
        // Waited for like the others: bob's own notice is on the page, and bob is not waited
        // on again, so a slow bob would otherwise print it after the demo has ended.
        bob.expect("* you are now robert")?;
        carol.type_line("/who")?;
        carol.expect("* in the room:")?;
        bob.type_line("hi alice, bye alice")?;
        alice.expect("robert: hi alice")?;
        alice.leave()?;
        carol.expect("* alice left")?;
        Ok(())
    };
    let outcome = script();
    stop.trigger();
    let stats = serving.join().map_err(|_| anyhow::anyhow!("the server thread panicked"))??;
    eprintln!("server stopped: {stats}");
    outcome
}
