//! The probe: a numbered, timestamped datagram, so a reply can be matched to its request.
//!
//! UDP keeps each datagram whole, so a header at a fixed place is all the framing a probe
//! needs (compare TCP in chapter 03, where a byte stream has to be cut into messages). Layout,
//! in network byte order (big-endian):
//!
//! ```text
//! offset  size  field
//!      0     4  magic "UDP4": tells our probes from anything else that arrives
//!      4     4  sequence number, 0, 1, 2, ...
//!      8     8  send time, nanoseconds since the client started
//!     16   ...  zero padding, up to --size
//! ```
//!
//! The echo server sends the probe back unchanged, so the client learns the round-trip time
//! from its own clock, and notices loss (a number never seen), duplicates (a number seen twice)
//! and reordering (a number lower than one already seen).

use std::time::Duration;

/// Bytes before the padding; the smallest probe.
pub const HEADER_LEN: usize = 16;
/// The first four bytes of every probe.
pub const MAGIC: [u8; 4] = *b"UDP4";

/// A probe's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// Its number in the run.
    pub seq: u32,
    /// When it was sent, in nanoseconds since the client started.
    pub sent_ns: u64,
}

impl Probe {
    /// Writes the header at the start of `datagram` (at least [`HEADER_LEN`] bytes).
    pub fn write(&self, datagram: &mut [u8]) {
        datagram[0..4].copy_from_slice(&MAGIC);
        datagram[4..8].copy_from_slice(&self.seq.to_be_bytes());
        datagram[8..16].copy_from_slice(&self.sent_ns.to_be_bytes());
    }

    /// Reads a header back, or `None` when `datagram` is not one of our probes.
    pub fn read(datagram: &[u8]) -> Option<Self> {
        let header = datagram.get(..HEADER_LEN)?;
        if header[0..4] != MAGIC {
            return None;
        }
        Some(Self {
            seq: u32::from_be_bytes(header[4..8].try_into().ok()?),
            sent_ns: u64::from_be_bytes(header[8..16].try_into().ok()?),
        })
    }
}

/// What one reply turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A probe seen for the first time; `late` when a higher number came before it.
    New {
        /// Its number.
        seq: u32,
        /// Round-trip time.
        rtt: Duration,
        /// It overtook nobody: a higher-numbered reply arrived first.
        late: bool,
    },
    /// A probe seen before.
    Duplicate {
        /// Its number.
        seq: u32,
    },
    /// Not a probe of this run: wrong magic, too short, or a number we never sent.
    Unexpected,
}

/// Counts replies to a run of `count` probes.
#[derive(Debug, Clone)]
pub struct Tally {
    seen: Vec<bool>,
    highest: Option<u32>,
    /// Distinct probes answered.
    pub received: u32,
    /// Replies to probes already answered.
    pub duplicates: u32,
    /// Replies that arrived after a higher-numbered one.
    pub reordered: u32,
    /// Datagrams that were not our probes.
    pub unexpected: u32,
    /// Round-trip times of the distinct replies, in arrival order.
    pub rtts: Vec<Duration>,
}

impl Tally {
    /// A tally for probes numbered `0..count`.
    pub fn new(count: u32) -> Self {
        Self {
            seen: vec![false; count as usize],
            highest: None,
            received: 0,
            duplicates: 0,
            reordered: 0,
            unexpected: 0,
            rtts: Vec::new(),
        }
    }

    /// Counts one received datagram, at `now_ns` on the client's clock.
    pub fn record(&mut self, datagram: &[u8], now_ns: u64) -> Outcome {
        let Some(probe) = Probe::read(datagram) else {
            self.unexpected += 1;
            return Outcome::Unexpected;
        };
        let Some(seen) = self.seen.get_mut(probe.seq as usize) else {
            self.unexpected += 1;
            return Outcome::Unexpected;
        };
        if *seen {
            self.duplicates += 1;
            return Outcome::Duplicate { seq: probe.seq };
        }
        *seen = true;
        self.received += 1;
        let rtt = Duration::from_nanos(now_ns.saturating_sub(probe.sent_ns));
        self.rtts.push(rtt);
        let late = self.highest.is_some_and(|highest| probe.seq < highest);
        if late {
            self.reordered += 1;
        }
        self.highest = self.highest.max(Some(probe.seq));
        Outcome::New { seq: probe.seq, rtt, late }
    }

    /// Has every probe been answered?
    pub fn complete(&self) -> bool {
        self.received as usize == self.seen.len()
    }

    /// `min/avg/max/mdev` of the round trips in milliseconds, as ping(8) prints them.
    pub fn rtt_summary(&self) -> Option<String> {
        let ms: Vec<f64> = self.rtts.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        let (min, max) = ms.iter().fold((f64::MAX, 0f64), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        let count = ms.len() as f64;
        let mean = ms.iter().sum::<f64>() / count;
        let mdev = (ms.iter().map(|x| x * x).sum::<f64>() / count - mean * mean).max(0.0).sqrt();
        (!ms.is_empty()).then(|| format!("{min:.3}/{mean:.3}/{max:.3}/{mdev:.3} ms"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(seq: u32, sent_ns: u64) -> Vec<u8> {
        let mut datagram = vec![0u8; 32];
        Probe { seq, sent_ns }.write(&mut datagram);
        datagram
    }

    #[test]
    fn a_probe_reads_back_what_was_written() {
        let datagram = probe(7, 123_456_789);
        assert_eq!(Probe::read(&datagram), Some(Probe { seq: 7, sent_ns: 123_456_789 }));
        assert_eq!(&datagram[..4], b"UDP4");
        assert_eq!(&datagram[4..8], &[0, 0, 0, 7], "network byte order");
    }

    #[test]
    fn anything_else_is_not_a_probe() {
        assert_eq!(Probe::read(b""), None);
        assert_eq!(Probe::read(b"UDP4short"), None);
        assert_eq!(Probe::read(&[0xAB; 64]), None);
    }

    #[test]
    fn the_tally_sees_loss_duplicates_and_reordering() {
        let mut tally = Tally::new(4);
        assert!(matches!(
            tally.record(&probe(0, 0), 1_000),
            Outcome::New { seq: 0, late: false, .. }
        ));
        assert!(matches!(
            tally.record(&probe(2, 0), 2_000),
            Outcome::New { seq: 2, late: false, .. }
        ));
        assert!(matches!(
            tally.record(&probe(1, 0), 3_000),
            Outcome::New { seq: 1, late: true, .. }
        ));
        assert_eq!(tally.record(&probe(1, 0), 4_000), Outcome::Duplicate { seq: 1 });
        assert_eq!(tally.record(&probe(9, 0), 5_000), Outcome::Unexpected, "never sent");
        assert_eq!(tally.record(b"garbage", 6_000), Outcome::Unexpected);
        assert_eq!(
            (tally.received, tally.duplicates, tally.reordered, tally.unexpected),
            (3, 1, 1, 2)
        );
        assert!(!tally.complete(), "probe 3 was lost");
        assert_eq!(tally.rtt_summary().as_deref(), Some("0.001/0.002/0.003/0.001 ms"));
    }
}
