//! Is the other end still there? Two answers, at two layers.
//!
//! A long-lived connection can sit idle for hours, and an idle TCP connection sends nothing.
//! If the peer's machine loses power or its network cable, no FIN and no RST ever arrive: our
//! side still believes the connection is open, and a `recv` on it waits forever. (UNP calls
//! this "server host crashes": the client only finds out when it next sends, after many
//! retransmissions, or never, if it only reads.)
//!
//! - **TCP keepalive** (`SO_KEEPALIVE`, set up in [`set_keepalive`]): after `--keepalive SECS`
//!   of silence the kernel sends empty probes; if [`KEEPALIVE_PROBES`] go unanswered, the
//!   connection is reset and `recv` returns `ETIMEDOUT`. It costs nothing in our code and
//!   catches a dead *host* or a dead path. It cannot see a process that is alive but stuck,
//!   because the peer's kernel answers the probes for it.
//! - **An application heartbeat** (PING/PONG frames): after [`Liveness::heartbeat`] of silence
//!   we send a PING; any whole frame received counts as life (a byte alone does not: a peer
//!   trickling one now and then would never look silent); after
//!   [`Liveness::peer_timeout`] of silence the peer is declared gone. This catches a hung
//!   *program* too, and works the same on every platform, with timeouts we choose.

use std::time::{Duration, Instant};

use common::narrate;
use common::narrate::Narrator;
use common::step;
use socket2::{SockRef, TcpKeepalive};

/// Silence after which we send a PING.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(10);
/// Silence after which the peer is considered gone: three missed heartbeats.
pub const DEFAULT_PEER_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle time before TCP's first keepalive probe. Linux's own default is 2 hours, far too long
/// to notice a crashed host in a chat.
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(60);
/// Time between keepalive probes once they start.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// Unanswered probes before the kernel gives up on the connection.
pub const KEEPALIVE_PROBES: u32 = 3;

/// The liveness settings, from the command line.
#[derive(Debug, Clone, Copy)]
pub struct Liveness {
    /// Send a PING after this much silence from the peer.
    pub heartbeat: Duration,
    /// Give up on the peer after this much silence.
    pub peer_timeout: Duration,
    /// TCP keepalive idle time; `None` leaves keepalive off.
    pub keepalive: Option<Duration>,
}

impl Default for Liveness {
    fn default() -> Self {
        Self {
            heartbeat: DEFAULT_HEARTBEAT,
            peer_timeout: DEFAULT_PEER_TIMEOUT,
            keepalive: Some(DEFAULT_KEEPALIVE),
        }
    }
}

impl Liveness {
    /// How often to wake up and check the clocks: often enough to send PINGs and notice a
    /// timeout within a fraction of the interval.
    pub fn tick(&self) -> Duration {
        (self.heartbeat.min(self.peer_timeout) / 4).max(Duration::from_millis(10))
    }
}

// ANCHOR: clocks
/// One peer's heartbeat clocks: when we last heard it, and when we last sent it a PING. The
/// room keeps one per client; each end of a one-to-one chat keeps one for the other.
#[derive(Debug, Clone, Copy)]
pub struct Heartbeat {
    last_heard: Instant,
    last_ping: Instant,
}

/// What a heartbeat check says to do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// The peer spoke recently enough, or a PING is already on its way.
    Nothing,
    /// Silent for a heartbeat, and no PING sent for as long: send one now.
    Ping,
    /// Silent for the whole peer timeout: the peer is gone.
    Gone,
}
// ANCHOR_END: clocks

impl Heartbeat {
    /// Clocks that start now, as if the peer had just spoken.
    pub fn new(now: Instant) -> Self {
        Self { last_heard: now, last_ping: now }
    }

    /// A whole frame received: a sign of life. (Call it per frame, not per `recv`: bytes that
    /// trickle in without ever completing a frame prove nothing.)
    pub fn heard(&mut self, now: Instant) {
        self.last_heard = now;
    }

    /// How long the peer has been silent.
    pub fn silent(&self, now: Instant) -> Duration {
        now.duration_since(self.last_heard)
    }

    // ANCHOR: check
    /// The rule, checked every tick. When it says [`Due::Ping`], the PING counts as sent, so
    /// the next one waits another heartbeat.
    pub fn check(&mut self, live: &Liveness, now: Instant) -> Due {
        let silent = self.silent(now);
        if silent >= live.peer_timeout {
            Due::Gone
        } else if silent >= live.heartbeat && now.duration_since(self.last_ping) >= live.heartbeat {
            self.last_ping = now;
            Due::Ping
        } else {
            Due::Nothing
        }
    }
    // ANCHOR_END: check
}

// ANCHOR: keepalive
/// Turns on TCP keepalive for `stream` when `idle` is set: `SO_KEEPALIVE`, then (where the
/// platform has them) `TCP_KEEPIDLE`, `TCP_KEEPINTVL` and `TCP_KEEPCNT`.
pub fn set_keepalive(socket: SockRef<'_>, idle: Option<Duration>, n: Narrator) {
    let Some(idle) = idle else { return };
    let keepalive = TcpKeepalive::new().with_time(idle);
    #[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
    let keepalive = keepalive.with_interval(KEEPALIVE_INTERVAL.min(idle));
    #[cfg(any(target_os = "linux", target_os = "macos"))]
    let keepalive = keepalive.with_retries(KEEPALIVE_PROBES);
    let (idle, interval) = (idle.as_secs(), KEEPALIVE_INTERVAL.min(idle).as_secs());
    step!(n, "setsockopt(SO_KEEPALIVE, 1; TCP_KEEPIDLE {idle}s, TCP_KEEPINTVL {interval}s, …)");
    match socket.set_tcp_keepalive(&keepalive) {
        Ok(()) => narrate!(
            n,
            "setsockopt(SO_KEEPALIVE, 1; TCP_KEEPIDLE {idle}s, TCP_KEEPINTVL {interval}s, TCP_KEEPCNT {KEEPALIVE_PROBES})"
        ),
        // Not fatal: the heartbeat still notices a dead peer.
        Err(e) => narrate!(n, "setsockopt(SO_KEEPALIVE) failed: {e}"),
    }
}
// ANCHOR_END: keepalive

/// Describes a duration for people: `30 s`, `0.5 s`.
pub fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 { format!("{s:.0} s") } else { format!("{s} s") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_once_per_heartbeat_then_gives_up() {
        let live = Liveness {
            heartbeat: Duration::from_secs(10),
            peer_timeout: Duration::from_secs(30),
            keepalive: None,
        };
        let t0 = Instant::now();
        let at = |secs| t0 + Duration::from_secs(secs);
        let mut clocks = Heartbeat::new(t0);
        assert_eq!(clocks.check(&live, at(9)), Due::Nothing);
        assert_eq!(clocks.check(&live, at(10)), Due::Ping);
        assert_eq!(clocks.check(&live, at(15)), Due::Nothing, "one PING per heartbeat");
        assert_eq!(clocks.check(&live, at(20)), Due::Ping);
        clocks.heard(at(25));
        assert_eq!(clocks.check(&live, at(34)), Due::Nothing, "hearing restarts the silence");
        assert_eq!(clocks.silent(at(34)), Duration::from_secs(9));
        assert_eq!(clocks.check(&live, at(55)), Due::Gone);
    }
}
