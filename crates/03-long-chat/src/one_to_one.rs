//! One-to-one mode (`server --one-to-one`): the tutorial's long connection, in full duplex.
//!
//! The tutorial's server receives a line, asks its operator for a reply with `input()`, sends
//! it, and only then receives again: the two people must take turns. Here the operator has a
//! prompt (the same console as the client) and the connection has a thread of its own, so
//! both people type whenever they like and each sees the other's lines arrive above the prompt.
//!
//! One client at a time: a second one is told the server is busy and closed. When the client
//! leaves, the server waits for the next. The operator's `exit`, `/quit`, Ctrl-D or Ctrl-C
//! stops the server.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use common::accept::AcceptPolicy;
use common::narrate;
use common::narrate::Narrator;
use common::step;
use common::stop::Stop;
use common::text::{escape_controls, plural};

use crate::command::{Command, parse_line};
use crate::config::{Config, WRITE_TIMEOUT};
use crate::connection::{Connection, FrameWriter, ReadError};
use crate::console::{self, History, Input, Printer};
use crate::frame::{self, Frame, Kind};
use crate::liveness::{self, Due, Heartbeat, Liveness};

/// How long a client turned away as busy may take to close after our half-close, before we
/// close anyway. A polite client closes as soon as it reads the busy message; one second
/// bounds how long one that does not can hold up the accept thread.
pub const BUSY_LINGER: Duration = Duration::from_secs(1);

/// The client being talked to.
struct Peer {
    writer: Arc<FrameWriter>,
    name: String,
}

/// What the accept thread, the client's thread and the keyboard share.
struct Desk {
    /// The client being talked to, if any.
    current: Mutex<Option<Peer>>,
    clients: AtomicU64,
    received: AtomicU64,
    sent: AtomicU64,
    /// Lines for the operator, above the prompt.
    printer: Printer,
    live: Liveness,
    /// The operator's name.
    me: String,
    n: Narrator,
}

impl Desk {
    fn current(&self) -> MutexGuard<'_, Option<Peer>> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Chats with one client at a time until the operator (or Ctrl-C) stops it; returns the
/// summary line.
///
/// # Errors
/// When the console cannot be set up.
pub fn serve(listener: TcpListener, config: &Config, stop: &Arc<Stop>) -> Result<String> {
    let bound = listener.local_addr().context("could not read the bound address")?;
    let history = if config.no_history { History::Off } else { History::default_file() };
    let (events, news) = mpsc::channel::<Input>();
    let _on_stop = stop.watch({
        let events = events.clone();
        move || {
            let _ = events.send(Input::Interrupted);
        }
    });
    let (printer, terminal) =
        console::start(&format!("{}> ", config.name), &history, move |input| {
            let more = !matches!(&input, Input::Line(line) if parse_line(line) == Command::Quit);
            events.send(input).is_ok() && more
        })?;
    printer
        .line(&format!("* waiting for a client on {bound}; type to chat, /quit stops the server"));
    let desk = Arc::new(Desk {
        current: Mutex::new(None),
        clients: AtomicU64::new(0),
        received: AtomicU64::new(0),
        sent: AtomicU64::new(0),
        printer,
        live: config.liveness,
        me: config.name.clone(),
        n: config.narrator,
    });
    // Ctrl-C or /quit must also end the accept thread, which is blocked in accept().
    let _wake = stop.watch(move || common::stop::wake_accept(bound));
    let accepting = thread::Builder::new().name("accept".into()).spawn({
        let (desk, stop) = (Arc::clone(&desk), Arc::clone(stop));
        move || accept_loop(&listener, &desk, &stop)
    })?;
    keyboard(&news, &desk);
    terminal.restore();
    stop.trigger();
    hang_up(&desk);
    let _ = accepting.join();
    Ok(summary(&desk))
}

/// Accepts clients one after another; a second one while the first is here is turned away.
fn accept_loop(listener: &TcpListener, desk: &Arc<Desk>, stop: &Stop) {
    let n = desk.n;
    let mut readers = Vec::new();
    let mut accept_errors = AcceptPolicy::new(n);
    while !stop.is_stopping() {
        step!(n, listener, "accept()");
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            // Out of descriptors, retrying at once would burn a core: common::accept pauses.
            Err(e) => match accept_errors.recover(e) {
                Ok(()) => continue,
                Err(_) => break,
            },
        };
        accept_errors.accepted();
        if stop.is_stopping() {
            common::stop::discard_woken(&stream);
            break;
        }
        narrate!(n, (listener, &stream), "accept() -> {}, peer {peer}", narrate::fd(&stream));
        if desk.current().is_some() {
            let busy =
                Frame::new(Kind::Error, "busy: this one-to-one server is talking to someone else");
            let _ = (&stream).write_all(&busy.to_bytes());
            turn_away(&stream, n);
            // Through the printer: on a terminal, stderr would write into the operator's prompt.
            desk.printer.line(&format!("* turned away {peer}: busy"));
            continue;
        }
        match welcome(stream, peer, desk) {
            Ok((conn, writer, name)) => {
                desk.clients.fetch_add(1, Ordering::Relaxed);
                // The client is current before the operator is told: a line typed the moment
                // "joined" shows must reach it, not meet "nobody is connected yet".
                *desk.current() = Some(Peer { writer: Arc::clone(&writer), name: name.clone() });
                desk.printer.line(&format!("* {name} joined from {peer}"));
                let reader = thread::Builder::new().name("network".into()).spawn({
                    let desk = Arc::clone(desk);
                    move || converse(conn, &writer, name, &desk)
                });
                match reader {
                    Ok(reader) => readers.push(reader),
                    Err(e) => eprintln!("could not start a thread for {peer}: {e}"),
                }
            }
            Err(e) => desk.printer.line(&format!("* {peer}: {e:#}")),
        }
    }
    for reader in readers {
        let _ = reader.join();
    }
}

// ANCHOR: turn_away
/// Closes a connection we have said our last word on, without a reset. `close()` on a socket
/// whose receive buffer still holds unread bytes (here the client's JOIN) makes Linux send RST
/// instead of FIN, and a reset can destroy our busy message before the client reads it. So:
/// half-close (our FIN follows the message), then read and discard until the client closes
/// too, for at most [`BUSY_LINGER`].
fn turn_away(mut stream: &TcpStream, n: Narrator) {
    step!(n, stream, "shutdown({}, SHUT_WR)", narrate::fd(stream));
    let _ = stream.shutdown(Shutdown::Write);
    narrate!(
        n,
        stream,
        "shutdown({}, SHUT_WR); draining until the client closes",
        narrate::fd(stream)
    );
    let deadline = Instant::now() + BUSY_LINGER;
    let mut scratch = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match stream.read(&mut scratch) {
            Ok(0) | Err(_) => return, // The client's FIN, a timeout, or an error: close now.
            Ok(_) => {}
        }
    }
}
// ANCHOR_END: turn_away

/// The handshake: the client's JOIN (within the heartbeat timeout), then our JOIN naming it
/// and the LIST of who is here.
fn welcome(
    stream: TcpStream,
    peer: SocketAddr,
    desk: &Desk,
) -> Result<(Connection<TcpStream>, Arc<FrameWriter>, String)> {
    let (live, me, n) = (desk.live, desk.me.as_str(), desk.n);
    let accepted = Instant::now();
    let _ = stream.set_nodelay(true);
    liveness::set_keepalive(socket2::SockRef::from(&stream), live.keepalive, n);
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let stream = Arc::new(stream);
    let writer = Arc::new(FrameWriter::new(Arc::clone(&stream), n));
    // A second handle (dup) for reading, so this thread's reads and the keyboard's writes
    // never wait for each other.
    let mut conn = Connection::new(stream.try_clone()?);
    // The JOIN must arrive within the peer timeout of accept, however its bytes trickle in:
    // this thread accepts nobody else meanwhile.
    let join = match conn.read_frame_before(accepted + live.peer_timeout) {
        Ok(Some(frame)) if frame.kind == Kind::Join => frame,
        Ok(Some(frame)) => {
            let _ =
                writer.send(&Frame::new(Kind::Error, format!("expected JOIN, got {}", frame.kind)));
            anyhow::bail!("sent {} before JOIN", frame.kind);
        }
        Ok(None) => anyhow::bail!("closed before joining"),
        Err(e) if e.is_timeout() => {
            let error = format!("no JOIN within {}", liveness::secs(live.peer_timeout));
            let _ = writer.send(&Frame::new(Kind::Error, error.clone()));
            anyhow::bail!("{error}");
        }
        Err(e) => {
            let _ = writer.send(&Frame::new(Kind::Error, e.to_string()));
            anyhow::bail!("no JOIN: {e}");
        }
    };
    let name = if frame::valid_name(&join.text) && join.text != me {
        join.text
    } else {
        format!("guest-{}", peer.port())
    };
    writer.send(&Frame::new(Kind::Join, name.clone()))?;
    writer.send(&Frame::new(Kind::List, format!("{me} {name}")))?;
    Ok((conn, writer, name))
}

/// One client's frames, until it leaves: printed for the operator; PINGs answered; the
/// heartbeat kept.
fn converse(mut conn: Connection<TcpStream>, writer: &FrameWriter, mut name: String, desk: &Desk) {
    let (live, me, n, printer) = (desk.live, desk.me.as_str(), desk.n, &desk.printer);
    let mut heartbeat = Heartbeat::new(Instant::now());
    let mut awaited = false; // --step pauses once per frame awaited, not once per tick.
    let reason = loop {
        if !awaited {
            step!(n, conn.get_ref(), "recv frame from {name}");
            awaited = true;
        }
        // Each wait ends at the next tick, however the bytes trickle in: whole frames only
        // count as signs of life.
        match conn.read_frame_before(Instant::now() + live.tick()) {
            Ok(Some(frame)) => {
                awaited = false;
                heartbeat.heard(Instant::now());
                let (kind, len) = (frame.kind, frame.wire_len());
                narrate!(n, conn.get_ref(), "recv frame {kind} {len} bytes from {name}");
                let reply = match frame.kind {
                    Kind::Text => {
                        desk.received.fetch_add(1, Ordering::Relaxed);
                        // Escaped: the client's text must not drive the operator's terminal.
                        printer.line(&format!("{name}: {}", escape_controls(&frame.text)));
                        None
                    }
                    Kind::Ping => Some(Frame::new(Kind::Pong, frame.text)),
                    Kind::List => Some(Frame::new(Kind::List, format!("{me} {name}"))),
                    Kind::Nick if frame::valid_name(&frame.text) && frame.text != me => {
                        let notice = Frame::new(Kind::Nick, format!("{name} {}", frame.text));
                        printer.line(&format!("* {name} is now {}", frame.text));
                        name = frame.text;
                        if let Some(peer) = desk.current().as_mut() {
                            peer.name = name.clone();
                        }
                        Some(notice)
                    }
                    Kind::Nick => Some(Frame::new(
                        Kind::Error,
                        format!("{:?} is not a name you can take", frame.text),
                    )),
                    Kind::Leave => break String::new(),
                    Kind::Pong | Kind::Error | Kind::Join => None,
                };
                if let Some(reply) = reply {
                    if let Err(e) = writer.send(&reply) {
                        break e.to_string();
                    }
                }
            }
            Ok(None) => break String::new(),
            Err(e) if e.is_timeout() => match heartbeat.check(&live, Instant::now()) {
                Due::Gone => {
                    break format!(
                        "no answer to heartbeat for {}",
                        liveness::secs(live.peer_timeout)
                    );
                }
                Due::Ping => {
                    if let Err(e) = writer.send(&Frame::new(Kind::Ping, "")) {
                        break e.to_string();
                    }
                }
                Due::Nothing => {}
            },
            Err(e @ ReadError::Frame(_)) => {
                let _ = writer.send(&Frame::new(Kind::Error, e.to_string()));
                if let ReadError::Frame(f) = &e {
                    if f.is_recoverable() {
                        continue;
                    }
                }
                break format!("protocol error: {e}");
            }
            Err(e) => break e.to_string(),
        }
    };
    // Gone: forget it first (the keyboard stops sending to it), then close our side.
    // (The descriptors close when their last handles go; shutdown is what sends our FIN now.)
    desk.current().take();
    step!(n, writer.stream(), "close({})", narrate::fd(writer.stream()));
    let _ = writer.stream().shutdown(Shutdown::Both);
    narrate!(n, writer.stream(), "close({})", narrate::fd(writer.stream()));
    if reason.is_empty() {
        printer.line(&format!("* {name} left"));
    } else {
        printer.line(&format!("* {name} left ({reason})"));
    }
}

/// The keyboard: each line goes to the client as TEXT, `NAME: line`, until the operator leaves.
fn keyboard(news: &mpsc::Receiver<Input>, desk: &Desk) {
    while let Ok(input) = news.recv() {
        let Input::Line(line) = input else { break };
        let command = parse_line(&line);
        let peer = desk.current();
        match (&command, peer.as_ref()) {
            (Command::Quit, _) => break,
            (Command::Nothing, _) => {}
            (Command::Who, Some(peer)) => {
                desk.printer.line(&format!("* talking with {}", peer.name));
            }
            (_, None) => desk.printer.line("* nobody is connected yet"),
            (Command::Say(text), Some(peer)) => {
                let frame = Frame::new(Kind::Text, format!("{}: {text}", desk.me));
                match peer.writer.send(&frame) {
                    Ok(()) => desk.sent.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        desk.printer.line(&format!("! could not send to {}: {e}", peer.name));
                        0
                    }
                };
            }
            (_, Some(_)) => desk.printer.line("! the operator can say lines, /who and /quit"),
        }
    }
}

/// The operator leaves: half-close, so the client reads our FIN after our last line.
fn hang_up(desk: &Desk) {
    if let Some(peer) = desk.current().take() {
        let stream = peer.writer.stream();
        step!(desk.n, stream, "shutdown({}, SHUT_WR)", narrate::fd(stream));
        let _ = stream.shutdown(Shutdown::Write);
        narrate!(desk.n, stream, "shutdown({}, SHUT_WR)", narrate::fd(stream));
    }
}

/// The line printed when the server stops.
fn summary(desk: &Desk) -> String {
    format!(
        "chatted with {}, received {} lines, sent {}",
        plural(desk.clients.load(Ordering::Relaxed), "client"),
        desk.received.load(Ordering::Relaxed),
        desk.sent.load(Ordering::Relaxed)
    )
}
