//! The chat protocol, as the room speaks it: a client says JOIN first; then TEXT is relayed to
//! everyone else as `NAME: text`, NICK renames, LIST asks who is here, PING is answered with
//! PONG, LEAVE says goodbye. Names are checked and kept unique here.
//!
//! Liveness lives here too: every [`Liveness::tick`](crate::liveness::Liveness::tick) the event
//! loop asks [`Room::check_heartbeats`] to PING silent clients and to drop those silent for
//! [`Liveness::peer_timeout`](crate::liveness::Liveness::peer_timeout).

use std::collections::HashSet;
use std::time::Instant;

use common::narrate;
use common::text::escape_controls;

use super::state::Room;
use crate::frame::{self, Frame, FrameError, Kind, MAX_TEXT_LEN};
use crate::liveness::{self, Due};

impl Room {
    // ANCHOR: handle_join
    /// Acts on one frame from a client.
    pub(super) fn handle(&mut self, slot: usize, frame: Frame) {
        let n = self.n;
        let Some(client) = self.get(slot) else { return };
        narrate!(
            n,
            "recv frame {} {} bytes from {}",
            frame.kind,
            frame.wire_len(),
            client.name.as_deref().unwrap_or("a new client")
        );
        let Some(name) = client.name.clone() else {
            // The protocol's first rule: a client says JOIN before anything else.
            if frame.kind == Kind::Join {
                self.join(slot, &frame.text);
            } else {
                self.send(
                    slot,
                    &Frame::new(Kind::Error, format!("expected JOIN, got {}", frame.kind)),
                );
                self.leave(slot, format!("sent {} before JOIN", frame.kind), false);
            }
            return;
        };
        // ANCHOR_END: handle_join
        // ANCHOR: handle
        match frame.kind {
            Kind::Text if frame.text.len() > MAX_TEXT_LEN => {
                let error = format!(
                    "text of {} bytes is over MAX_TEXT_LEN ({MAX_TEXT_LEN})",
                    frame.text.len()
                );
                self.send(slot, &Frame::new(Kind::Error, error));
            }
            Kind::Text => {
                self.stats.messages += 1;
                self.broadcast(
                    Some(slot),
                    &Frame::new(Kind::Text, format!("{name}: {}", frame.text)),
                );
            }
            Kind::Nick => self.rename(slot, &name, &frame.text),
            Kind::List => {
                let names = self.names().join(" ");
                self.send(slot, &Frame::new(Kind::List, names));
            }
            Kind::Ping => self.send(slot, &Frame::new(Kind::Pong, frame.text)),
            Kind::Pong => {} // Heard: its heartbeat clock is already updated.
            Kind::Leave => self.leave(slot, String::new(), false),
            // Escaped: the operator's terminal must not obey what a client writes in it.
            Kind::Error => eprintln!("{name} reports an error: {}", escape_controls(&frame.text)),
            Kind::Join => {
                self.send(slot, &Frame::new(Kind::Error, "you have already joined; /nick renames"));
            }
        }
        // ANCHOR_END: handle
    }

    /// A bad frame: say so to the client; keep the connection if the framing survived.
    pub(super) fn bad_frame(&mut self, slot: usize, error: &FrameError) {
        let Some(client) = self.get(slot) else { return };
        eprintln!("bad frame from {}: {error}", client.who());
        self.send(slot, &Frame::new(Kind::Error, error.to_string()));
        if !error.is_recoverable() {
            self.leave(slot, format!("protocol error: {error}"), false);
        }
    }

    /// A JOIN: pick the name, welcome the client, tell the room.
    fn join(&mut self, slot: usize, wanted: &str) {
        let name = self.free_name(wanted);
        if !wanted.is_empty() && !frame::valid_name(wanted) {
            let error = format!(
                "{wanted:?} is not a valid name (1-{} letters, digits, - _ .); you are {name}",
                frame::MAX_NAME_LEN
            );
            self.send(slot, &Frame::new(Kind::Error, error));
        }
        let Some(client) = self.get(slot) else { return };
        client.name = Some(name.clone());
        eprintln!("{name} joined from {}", client.peer);
        self.stats.joined += 1;
        // The first JOIN a client receives names itself; then who is here.
        self.send(slot, &Frame::new(Kind::Join, name.clone()));
        let names = self.names().join(" ");
        self.send(slot, &Frame::new(Kind::List, names));
        self.broadcast(Some(slot), &Frame::new(Kind::Join, name));
    }

    /// A free name: the wanted one if valid and free, else with a number after it, else
    /// `guestN`.
    fn free_name(&mut self, wanted: &str) -> String {
        let taken: HashSet<String> = self.names().into_iter().collect();
        let base = if frame::valid_name(wanted) { wanted.to_owned() } else { String::new() };
        if base.is_empty() {
            loop {
                let guest = format!("guest{}", self.next_guest);
                self.next_guest += 1;
                if !taken.contains(&guest) {
                    return guest;
                }
            }
        }
        if !taken.contains(&base) {
            return base;
        }
        (2..)
            .map(|i| format!("{}{i}", frame::truncate(&base, frame::MAX_NAME_LEN - 6)))
            .find(|name| !taken.contains(name))
            .expect("an unbounded range always has a free name")
    }

    /// A NICK: rename if the name is valid and free, and tell everyone.
    fn rename(&mut self, slot: usize, old: &str, new: &str) {
        if !frame::valid_name(new) {
            let error = format!(
                "{new:?} is not a valid name (1-{} letters, digits, - _ .)",
                frame::MAX_NAME_LEN
            );
            self.send(slot, &Frame::new(Kind::Error, error));
        } else if self.names().iter().any(|name| name == new) {
            if new != old {
                self.send(slot, &Frame::new(Kind::Error, format!("the name {new} is taken")));
            }
        } else {
            if let Some(client) = self.get(slot) {
                client.name = Some(new.to_owned());
            }
            eprintln!("{old} is now {new}");
            self.broadcast(None, &Frame::new(Kind::Nick, format!("{old} {new}")));
        }
    }

    /// The names of everyone who has joined and is not leaving.
    fn names(&self) -> Vec<String> {
        self.clients.iter().filter(|c| c.closing.is_none()).filter_map(|c| c.name.clone()).collect()
    }

    // ANCHOR: heartbeat
    /// Every tick: PING the clients that have been silent for a heartbeat, drop those silent
    /// for the whole peer timeout (or that never said JOIN).
    pub(super) fn check_heartbeats(&mut self) {
        let now = Instant::now();
        let live = self.liveness;
        for slot in self.clients.numbers() {
            let Some(client) = self.clients.get(slot) else { continue };
            if client.closing.is_some() {
                if client.heartbeat.silent(now) >= live.peer_timeout {
                    self.doomed.insert(slot); // Said goodbye but will not take its last bytes.
                }
                continue;
            }
            if self.paused && client.name.is_some() {
                // We are not reading it (backpressure): its silence proves nothing.
                client.heartbeat.heard(now);
            }
            // The JOIN deadline counts from accept, not from the last byte: a newcomer that
            // trickles a byte now and then must not keep its slot for ever.
            if client.name.is_none() {
                if now.duration_since(client.accepted) >= live.peer_timeout {
                    let error = format!("no JOIN within {}", liveness::secs(live.peer_timeout));
                    self.send(slot, &Frame::new(Kind::Error, error.clone()));
                    self.leave(slot, error, false);
                }
                // Not in the room yet: no PING, only the deadline.
                continue;
            }
            match client.heartbeat.check(&live, now) {
                Due::Gone => {
                    self.stats.timed_out += 1;
                    let reason =
                        format!("no answer to heartbeat for {}", liveness::secs(live.peer_timeout));
                    self.leave(slot, reason, true);
                }
                Due::Ping => {
                    let ping = Frame::new(Kind::Ping, self.next_ping.to_string());
                    self.next_ping += 1;
                    self.send(slot, &ping);
                }
                Due::Nothing => {}
            }
        }
    }
    // ANCHOR_END: heartbeat
}
