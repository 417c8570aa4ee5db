//! A simulated bad network, so that UDP's unreliability shows up on loopback.
//!
//! Loopback never loses, reorders or duplicates a datagram on its own (unless a receive buffer
//! overflows; see `blast`). A real network does all three. The server can pretend: for each
//! datagram it receives it decides, with a seeded random generator, whether to
//!
//! - **drop** it (no reply: as if the request or the reply was lost),
//! - **duplicate** the reply (as if a router sent it twice),
//! - **delay** the reply by `--delay` plus up to `--jitter` milliseconds, so that replies to
//!   quick successive requests can overtake each other: reordering.
//!
//! The same `--seed` gives the same decisions, so a class can watch the same run.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::narrate;
use common::narrate::Narrator;
use common::step;

/// Bytes the delay queue may hold (payloads plus each entry's bookkeeping); a reply that does
/// not fit is dropped and counted. Counted in bytes, not replies, because a datagram can be
/// 1 byte or 64 KiB: 10,000 large replies were 600 MB. 32 MiB is half a second of a 500 Mbit/s
/// flood delayed by the slowest useful `--delay`, and a fixed ceiling whatever a peer sends.
pub const MAX_PENDING_BYTES: usize = 32 << 20;

/// A small, fast, seedable random generator (xorshift64*). Written out here rather than taken
/// from a crate, so a seed gives the same run on every platform and every version, forever.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value; 0 is remapped, since xorshift cannot leave 0).
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15 | 1)
    }

    /// The next value, uniform over `u64`.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// True with probability `p` (0.0 never, 1.0 always).
    pub fn chance(&mut self, p: f64) -> bool {
        // 53 random bits give every representable probability step of an f64 in [0, 1).
        p > 0.0 && ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// Uniform in `0..=max`.
    pub fn up_to(&mut self, max: u64) -> u64 {
        if max == 0 { 0 } else { self.next_u64() % (max + 1) }
    }
}

/// How bad the simulated network is.
#[derive(Debug, Clone, Default)]
pub struct Impairments {
    /// Probability that a datagram gets no reply.
    pub drop: f64,
    /// Probability that the reply is sent twice.
    pub duplicate: f64,
    /// Every reply waits this long.
    pub delay: Duration,
    /// ... plus a random extra wait up to this long.
    pub jitter: Duration,
}

impl Impairments {
    /// True when there is nothing to simulate: the server replies at once.
    pub fn is_perfect(&self) -> bool {
        self.drop == 0.0 && self.duplicate == 0.0 && self.delay.is_zero() && self.jitter.is_zero()
    }
}

/// What to do with one datagram's reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fate {
    /// No reply at all.
    pub dropped: bool,
    /// Send the reply this many times (1, or 2 when duplicated).
    pub copies: u8,
    /// Wait this long before replying.
    pub delay: Duration,
}

impl Impairments {
    /// Decides one datagram's fate. Always draws the same number of random values, so that
    /// turning on one impairment does not change the decisions of another for a given seed.
    pub fn decide(&self, rng: &mut Rng) -> Fate {
        let dropped = rng.chance(self.drop);
        let duplicated = rng.chance(self.duplicate);
        let jitter = rng.up_to(self.jitter.as_micros() as u64);
        Fate {
            dropped,
            copies: if duplicated { 2 } else { 1 },
            delay: self.delay + Duration::from_micros(jitter),
        }
    }
}

/// A reply that waits for its time.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Pending {
    due: Instant,
    order: u64, // Ties keep arrival order.
    peer: SocketAddr,
    data: Vec<u8>,
}

#[derive(Default)]
struct Queue {
    pending: BinaryHeap<Reverse<Pending>>,
    /// What `pending` holds, as counted by [`Pending::cost`], kept under [`MAX_PENDING_BYTES`].
    bytes: usize,
    next_order: u64,
    closed: bool,
}

impl Pending {
    /// The memory one waiting reply holds: its payload and the entry around it.
    fn cost(len: usize) -> usize {
        len + std::mem::size_of::<Reverse<Pending>>()
    }
}

/// Sends delayed replies from a thread of its own, each at its due time.
pub struct DelayedSender {
    shared: Arc<(Mutex<Queue>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl DelayedSender {
    /// Starts the sending thread on a handle to `socket`.
    ///
    /// # Errors
    /// When the socket cannot be cloned.
    pub fn start(socket: &UdpSocket, n: Narrator) -> std::io::Result<Self> {
        let socket = socket.try_clone()?;
        let shared = Arc::new((Mutex::new(Queue::default()), Condvar::new()));
        let thread = thread::spawn({
            let shared = Arc::clone(&shared);
            move || send_when_due(&socket, &shared, n)
        });
        Ok(Self { shared, thread: Some(thread) })
    }

    /// Queues `data` for `peer` after `delay`. Returns false when it does not fit in
    /// [`MAX_PENDING_BYTES`].
    pub fn send_later(&self, data: &[u8], peer: SocketAddr, delay: Duration) -> bool {
        let (lock, ready) = &*self.shared;
        let mut queue = lock.lock().unwrap_or_else(PoisonError::into_inner);
        let cost = Pending::cost(data.len());
        if queue.bytes + cost > MAX_PENDING_BYTES {
            return false;
        }
        queue.bytes += cost;
        let order = queue.next_order;
        queue.next_order += 1;
        queue.pending.push(Reverse(Pending {
            due: Instant::now() + delay,
            order,
            peer,
            data: data.to_vec(),
        }));
        ready.notify_one();
        true
    }
}

impl Drop for DelayedSender {
    fn drop(&mut self) {
        let (lock, ready) = &*self.shared;
        lock.lock().unwrap_or_else(PoisonError::into_inner).closed = true;
        ready.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn send_when_due(socket: &UdpSocket, shared: &(Mutex<Queue>, Condvar), n: Narrator) {
    let (lock, ready) = shared;
    let mut queue = lock.lock().unwrap_or_else(PoisonError::into_inner);
    while !queue.closed {
        let now = Instant::now();
        match queue.pending.peek() {
            Some(Reverse(next)) if next.due <= now => {
                let Some(Reverse(reply)) = queue.pending.pop() else { continue };
                queue.bytes -= Pending::cost(reply.data.len());
                drop(queue); // Never hold the lock across a system call (or a --step pause).
                let (len, peer) = (reply.data.len(), reply.peer);
                step!(n, socket, "sendto({len} bytes, {peer}) (delayed reply)");
                let _ = socket.send_to(&reply.data, peer);
                narrate!(n, socket, "sendto({len} bytes, {peer}) (delayed reply)");
                queue = lock.lock().unwrap_or_else(PoisonError::into_inner);
            }
            Some(Reverse(next)) => {
                let wait = next.due - now;
                queue = ready.wait_timeout(queue, wait).unwrap_or_else(PoisonError::into_inner).0;
            }
            None => queue = ready.wait(queue).unwrap_or_else(PoisonError::into_inner),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_always_gives_the_same_decisions() {
        let net = Impairments { drop: 0.3, ..Impairments::default() };
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..100).filter(|_| net.decide(&mut rng).dropped).count()
        };
        assert_eq!(run(7), run(7));
        assert_ne!((0..10).map(run).collect::<Vec<_>>(), vec![run(0); 10], "seeds differ");
    }

    #[test]
    fn chances_come_out_near_their_probability() {
        let mut rng = Rng::new(42);
        let hits = (0..100_000).filter(|_| rng.chance(0.3)).count();
        assert!((29_000..31_000).contains(&hits), "{hits}");
        assert!(!(0..1000).any(|_| rng.chance(0.0)));
        assert!((0..1000).all(|_| rng.chance(1.0)));
    }

    #[test]
    fn jitter_stays_within_its_bound() {
        let net = Impairments {
            delay: Duration::from_millis(5),
            jitter: Duration::from_millis(10),
            ..Impairments::default()
        };
        let mut rng = Rng::new(1);
        for _ in 0..1000 {
            let fate = net.decide(&mut rng);
            assert!(
                fate.delay >= Duration::from_millis(5) && fate.delay <= Duration::from_millis(15)
            );
        }
    }
}
