//! The `client` command: a prompt to type at, and messages that arrive while you type.
//!
//! Two directions, two threads. One thread waits on the keyboard (rustyline's `readline`, or
//! plain lines from a pipe); another waits on the socket (`recv`, one frame at a time). Each
//! blocks on its own source, so neither direction ever waits for the other: that is full
//! duplex. (The tutorial's chat alternates: type, wait for the reply, type. You cannot say two
//! things in a row, and you cannot hear anything while typing.) The main thread gets both
//! threads' news on one channel and decides what happens.
//!
//! Leaving is a **half-close**: `shutdown(SHUT_WR)` sends our FIN ("I will send no more") but
//! keeps the receiving side open. The server sees `recv` return 0, tells the room, and closes
//! its side; our `recv` returning 0 then says the goodbye is complete, and nothing the server
//! sent before it is lost.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use common::narrate;
use common::narrate::Narrator;
use common::step;
use common::stop::Stop;
use common::text::escape_controls;

use crate::command::{Command, command_frame, parse_line};
use crate::config::WRITE_TIMEOUT;
use crate::connection::{Connection, FrameWriter, ReadError};
use crate::console::{self, History, Input, Printer};
use crate::frame::{Frame, Kind, MAX_TEXT_LEN};
use crate::liveness::{self, Due, Heartbeat, Liveness};

/// How long to wait for the server's close after our half-close, before closing anyway.
pub const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// What the client needs to know, from the command line.
#[derive(Debug, Clone)]
pub struct Options {
    /// The server's host (literal or name).
    pub host: String,
    /// The server's port.
    pub port: u16,
    /// The name to ask for; the server picks `guestN` when empty.
    pub name: String,
    /// Heartbeat and keepalive settings.
    pub liveness: Liveness,
    /// Where to keep the history of typed lines.
    pub history: History,
    /// Narration (`--trace`).
    pub narrator: Narrator,
}

/// Turns frames from the server into the lines a person reads. It remembers our own name: the
/// first JOIN names us.
#[derive(Debug, Default)]
pub struct View {
    /// Our name, once the server has told us.
    pub me: Option<String>,
}

impl View {
    // ANCHOR: view
    /// The line to print for `frame`, or `None` for frames a person need not see. Control
    /// characters in what the server relays (anyone's text, a name, an error) are shown as
    /// escapes: an `ESC` sequence must not retitle or clear our terminal, and a newline must
    /// not start a line that poses as `* eve joined`.
    pub fn show(&mut self, frame: &Frame) -> Option<String> {
        let text = &escape_controls(&frame.text);
        Some(match frame.kind {
            Kind::Text => text.clone(),
            Kind::Join if self.me.is_none() => {
                self.me = Some(text.clone());
                format!(
                    "* you are {text}; /who lists the room, /nick NAME renames you, /quit leaves"
                )
            }
            Kind::Join => format!("* {text} joined"),
            Kind::Leave => match text.split_once(' ') {
                Some((name, reason)) => format!("* {name} left {reason}"),
                None => format!("* {text} left"),
            },
            Kind::Nick => {
                let (old, new) = text.split_once(' ').unwrap_or((text, text));
                if self.me.as_deref() == Some(old) {
                    self.me = Some(new.to_owned());
                    format!("* you are now {new}")
                } else {
                    format!("* {old} is now {new}")
                }
            }
            Kind::List => {
                format!("* in the room: {}", text.split(' ').collect::<Vec<_>>().join(", "))
            }
            Kind::Error => format!("! {text}"),
            Kind::Ping | Kind::Pong => return None,
        })
    }
    // ANCHOR_END: view
}

// ANCHOR: connect
/// Connects to the server with chapter 01's recipe (`socket`, `connect` to each address in
/// turn), then sets the options a long-lived chat wants.
///
/// # Errors
/// When the host does not resolve or no address accepts the connection.
pub fn connect(host: &str, port: u16, liveness: &Liveness, n: Narrator) -> Result<TcpStream> {
    let stream = ch01_echo::connect::connect(host, port, None, n)?;
    // Chat lines are small: send each at once instead of waiting for Nagle.
    stream.set_nodelay(true).context("could not set TCP_NODELAY")?;
    liveness::set_keepalive(socket2::SockRef::from(&stream), liveness.keepalive, n);
    // recv() wakes up every tick, so the reader thread can send heartbeats.
    stream.set_read_timeout(Some(liveness.tick()))?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    Ok(stream)
}
// ANCHOR_END: connect

/// What the main thread hears from the other two.
enum Event {
    Input(Input),
    /// The server closed the connection (`recv` returned 0).
    Closed,
    /// The connection failed, or the server went silent.
    Failed(String),
}

// ANCHOR: run
/// The `client` command.
///
/// # Errors
/// When the connection cannot be made, or the server closes it or fails while we are still
/// chatting (`server closed the connection`).
pub fn run(options: &Options) -> Result<()> {
    let n = options.narrator;
    let stream = Arc::new(connect(&options.host, options.port, &options.liveness, n)?);
    let server: SocketAddr = stream.peer_addr().context("could not read the server's address")?;
    let writer = Arc::new(FrameWriter::new(Arc::clone(&stream), n));
    writer.send(&Frame::new(Kind::Join, options.name.clone())).context("could not send JOIN")?;

    let (events, news) = mpsc::channel();
    // ANCHOR_END: run
    // Ctrl-C outside the prompt (or with a pipe for stdin) leaves as cleanly as at it.
    let stop = Stop::new();
    stop.trigger_on_ctrl_c()?;
    let _on_stop = stop.watch({
        let events = events.clone();
        move || {
            let _ = events.send(Event::Input(Input::Interrupted));
        }
    });
    // ANCHOR: run_console
    // Said before the prompt appears: afterwards, only the printer may write to the terminal.
    eprintln!("connected to {server}");
    let (printer, terminal) = console::start("> ", &options.history, {
        let events = events.clone();
        move |input| {
            let more = !matches!(&input, Input::Line(line) if parse_line(line) == Command::Quit);
            events.send(Event::Input(input)).is_ok() && more
        }
    })?;
    spawn_reader(Arc::clone(&writer), options.liveness, printer.clone(), events, n)?;

    let outcome = chat(&writer, &news, &printer, n);
    // The keyboard thread may still be inside readline, in raw mode: give the terminal back,
    // and end the prompt's line so the error starts on a line of its own.
    terminal.restore();
    if outcome.is_err() && console::interactive() {
        println!();
    }
    outcome
    // ANCHOR_END: run_console
}

/// The main thread: typed lines go out as frames; the end comes from the keyboard (leave) or
/// from the network (the server left).
fn chat(
    writer: &FrameWriter,
    news: &mpsc::Receiver<Event>,
    printer: &Printer,
    n: Narrator,
) -> Result<()> {
    loop {
        let event = news.recv().map_err(|_| anyhow!("the reader thread stopped"))?;
        match event {
            Event::Input(Input::Line(line)) => match parse_line(&line) {
                Command::Quit => return leave(writer, news, n),
                Command::Unknown(word) => {
                    printer.line(&format!("! unknown command {word}: try /who, /nick NAME, /quit"));
                }
                Command::Say(text) if text.len() > MAX_TEXT_LEN => printer.line(&format!(
                    "! that line is {} bytes; the limit is {MAX_TEXT_LEN} (MAX_TEXT_LEN)",
                    text.len()
                )),
                command => {
                    if let Some(frame) = command_frame(&command) {
                        writer.send(&frame).context("could not send")?;
                    }
                }
            },
            Event::Input(Input::End | Input::Interrupted) => return leave(writer, news, n),
            Event::Closed => bail!("server closed the connection"),
            Event::Failed(why) => bail!("{why}"),
        }
    }
}

// ANCHOR: leave
/// Leaves politely: half-close, then wait (a bounded time) for the server's own close.
fn leave(writer: &FrameWriter, news: &mpsc::Receiver<Event>, n: Narrator) -> Result<()> {
    let stream = writer.stream();
    step!(n, stream, "shutdown({}, SHUT_WR)", narrate::fd(stream));
    match stream.shutdown(Shutdown::Write) {
        // The server closed first (a reset already ended the connection): nothing to say.
        Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
        other => other.context("could not shut down the sending side")?,
    }
    narrate!(
        n,
        stream,
        "shutdown({}, SHUT_WR): no more from us; waiting for the server to close",
        narrate::fd(stream)
    );
    let deadline = Instant::now() + CLOSE_WAIT;
    loop {
        match news.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Event::Closed) => break,
            Ok(Event::Failed(why)) => {
                narrate!(n, "{why}");
                break;
            }
            Ok(Event::Input(_)) => {} // Typed after leaving: nobody to send it to.
            Err(RecvTimeoutError::Timeout) => {
                narrate!(n, "the server did not close within {CLOSE_WAIT:?}; closing anyway");
                break;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    // The descriptor itself closes when its last handle goes (the reader thread's, as it ends);
    // with --kernel this shows what the kernel keeps: TIME-WAIT, as we closed first.
    narrate::close(n, stream, "");
    eprintln!("bye");
    Ok(())
}
// ANCHOR_END: leave

// ANCHOR: reader
/// The network thread: one frame at a time, printed above the prompt. It also keeps the
/// heartbeat: the socket's read timeout wakes it every tick to check how long the server has
/// been silent.
fn spawn_reader(
    writer: Arc<FrameWriter>,
    live: Liveness,
    printer: Printer,
    events: Sender<Event>,
    n: Narrator,
) -> io::Result<thread::JoinHandle<()>> {
    // ANCHOR: network_loop
    thread::Builder::new().name("network".into()).spawn(move || {
        let stream = writer.stream();
        let mut conn = Connection::new(stream);
        let mut view = View::default();
        let mut heartbeat = Heartbeat::new(Instant::now());
        let mut awaited = false; // --step pauses once per frame awaited, not once per tick.
        let end = loop {
            if !awaited {
                step!(n, stream, "recv frame");
                awaited = true;
            }
            // Each wait ends at the next tick however the bytes trickle in, so the heartbeat
            // is checked on time; only whole frames count as the server being alive.
            match conn.read_frame_before(Instant::now() + live.tick()) {
                Ok(Some(frame)) => {
                    awaited = false;
                    heartbeat.heard(Instant::now());
                    narrate!(n, stream, "recv frame {} {} bytes", frame.kind, frame.wire_len());
                    if frame.kind == Kind::Ping {
                        // Answer at once, from this thread: the keyboard may be idle for hours.
                        if let Err(e) = writer.send(&Frame::new(Kind::Pong, frame.text.clone())) {
                            break Event::Failed(format!("could not answer the heartbeat: {e}"));
                        }
                    }
                    if let Some(line) = view.show(&frame) {
                        printer.line(&line);
                    }
                }
                // ANCHOR_END: network_loop
                Ok(None) => {
                    // ANCHOR_END: reader
                    narrate!(
                        n,
                        stream,
                        "recv({}) -> 0 bytes (the server closed)",
                        narrate::fd(stream)
                    );
                    break Event::Closed;
                }
                // ANCHOR: reader_heartbeat
                Err(e) if e.is_timeout() => match heartbeat.check(&live, Instant::now()) {
                    Due::Gone => {
                        break Event::Failed(format!(
                            "the server stopped answering (nothing for {}, the heartbeat timeout)",
                            liveness::secs(live.peer_timeout)
                        ));
                    }
                    Due::Ping => {
                        if let Err(e) = writer.send(&Frame::new(Kind::Ping, "")) {
                            break Event::Failed(format!("could not send the heartbeat: {e}"));
                        }
                    }
                    Due::Nothing => {}
                },
                // ANCHOR_END: reader_heartbeat
                Err(ReadError::Io(e)) => break Event::Failed(format!("connection lost: {e}")),
                Err(e) => break Event::Failed(format!("the server broke the protocol: {e}")),
            }
        };
        let _ = events.send(end);
    })
}
