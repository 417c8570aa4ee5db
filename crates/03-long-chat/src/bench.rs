//! `bench` (hidden from `--help`): the load generator for `scripts/bench/03-long-chat.sh`.
//!
//! N clients join one room. Each sends `rate` lines a second for `duration`, at evenly spaced
//! moments (staggered between clients so the room's load is smooth), and each line carries its
//! sender, its sequence number and the moment it was sent. Every client reads everything
//! relayed to it and checks, per sender, that sequence numbers arrive in order with none
//! missing. Senders and receivers live in this one process, so one monotonic clock times the
//! whole trip: sender → server → receiver.
//!
//! Optionally some extra clients join and never read a byte: the server must drop them without
//! the others noticing.

use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::frame::{Connection, Frame, Kind};

/// What to run.
#[derive(Debug, Clone)]
pub struct Load {
    /// Server host.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Clients that chat.
    pub clients: usize,
    /// Lines per second per client.
    pub rate: u32,
    /// How long each client chats.
    pub duration: Duration,
    /// Extra clients that join and never read.
    pub never_read: usize,
    /// Bytes of filler in each line (besides the header).
    pub size: usize,
}

/// What one receiving client saw.
#[derive(Default)]
struct Seen {
    latencies_us: Vec<u32>,
    received: u64,
    out_of_order: u64,
    /// Next sequence number expected from each sender.
    next: Vec<u64>,
}

/// Runs the load and prints one result line.
///
/// # Errors
/// When clients cannot connect or join.
pub fn run(load: &Load) -> Result<()> {
    let epoch = Instant::now();
    let mut readers = Vec::new();
    let mut writers = Vec::new();
    for i in 0..load.clients {
        let stream = join(load, &format!("c{i}"))?;
        writers.push(stream.try_clone()?);
        readers.push(stream);
    }
    // The never-readers join and then read nothing, ever.
    let mut stuck = Vec::new();
    for i in 0..load.never_read {
        stuck.push(join(load, &format!("stuck{i}"))?);
    }
    let per_sender = u64::from(load.rate) * load.duration.as_secs_f64().round() as u64;
    let expected_each = per_sender * (load.clients as u64 - 1);
    let receivers: Vec<_> = readers
        .into_iter()
        .enumerate()
        .map(|(me, stream)| {
            let clients = load.clients;
            thread::spawn(move || receive(stream, me, clients, expected_each, epoch))
        })
        .collect();
    // Every client was welcomed (so is in the room) before this point; the short delay lets
    // the threads start before the first line is due.
    let start = Instant::now() + Duration::from_millis(200);
    let interval = Duration::from_secs_f64(1.0 / f64::from(load.rate));
    let filler = "x".repeat(load.size);
    let senders: Vec<_> = writers
        .into_iter()
        .enumerate()
        .map(|(i, mut stream)| {
            let stagger = interval.mul_f64(i as f64 / load.clients as f64);
            let filler = filler.clone();
            thread::spawn(move || -> Result<()> {
                for seq in 0..per_sender {
                    let at = start + stagger + interval.mul_f64(seq as f64);
                    if let Some(wait) = at.checked_duration_since(Instant::now()) {
                        thread::sleep(wait);
                    }
                    let sent_us = epoch.elapsed().as_micros();
                    let line = format!("{i} {seq} {sent_us} {filler}");
                    stream.write_all(&Frame::new(Kind::Text, line).to_bytes())?;
                }
                Ok(())
            })
        })
        .collect();
    for sender in senders {
        sender.join().map_err(|_| anyhow!("a sender panicked"))??;
    }
    let mut all = Seen::default();
    for receiver in receivers {
        let seen = receiver.join().map_err(|_| anyhow!("a receiver panicked"))?;
        all.received += seen.received;
        all.out_of_order += seen.out_of_order;
        all.latencies_us.extend(seen.latencies_us);
    }
    drop(stuck);
    let expected = expected_each * load.clients as u64;
    let lost = expected.saturating_sub(all.received);
    all.latencies_us.sort_unstable();
    let pct = |p: f64| -> f64 {
        let v = &all.latencies_us;
        if v.is_empty() {
            return 0.0;
        }
        f64::from(v[((v.len() - 1) as f64 * p).round() as usize]) / 1000.0
    };
    let secs = load.duration.as_secs_f64();
    println!(
        "clients {} (+{} never reading), sent {}, delivered {} ({:.0}/s), lost {lost}, out of order {}, latency p50 {:.3} ms p99 {:.3} ms max {:.3} ms",
        load.clients,
        load.never_read,
        per_sender * load.clients as u64,
        all.received,
        all.received as f64 / secs,
        all.out_of_order,
        pct(0.5),
        pct(0.99),
        pct(1.0),
    );
    Ok(())
}

/// Connects and joins; returns the stream once the server has welcomed us.
fn join(load: &Load, name: &str) -> Result<TcpStream> {
    let stream = TcpStream::connect((load.host.as_str(), load.port))
        .with_context(|| format!("could not connect to {}:{}", load.host, load.port))?;
    stream.set_nodelay(true)?;
    (&stream).write_all(&Frame::new(Kind::Join, name).to_bytes())?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut conn = Connection::new(&stream);
    match conn.read_frame() {
        Ok(Some(frame)) if frame.kind == Kind::Join => Ok(stream),
        other => bail!("{name}: no welcome from the server: {other:?}"),
    }
}

/// One client's receiving side: read until every expected line came, or the room went quiet.
fn receive(stream: TcpStream, me: usize, clients: usize, expected: u64, epoch: Instant) -> Seen {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
    let mut conn = Connection::new(&stream);
    let mut seen = Seen { next: vec![0; clients], ..Seen::default() };
    while seen.received < expected {
        let frame = match conn.read_frame() {
            Ok(Some(frame)) => frame,
            _ => break, // Closed, or nothing for 3 s: whatever is missing is lost.
        };
        if frame.kind != Kind::Text {
            continue;
        }
        let now_us = epoch.elapsed().as_micros();
        // "cNAME: SENDER SEQ SENT_US filler"
        let Some((_, body)) = frame.text.split_once(": ") else { continue };
        let mut fields = body.split(' ');
        let (Some(sender), Some(seq), Some(sent)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let (Ok(sender), Ok(seq), Ok(sent)) =
            (sender.parse::<usize>(), seq.parse::<u64>(), sent.parse::<u128>())
        else {
            continue;
        };
        if sender >= clients || sender == me {
            continue;
        }
        if seq != seen.next[sender] {
            seen.out_of_order += 1;
        }
        seen.next[sender] = seq + 1;
        seen.received += 1;
        let latency = u32::try_from(now_us.saturating_sub(sent)).unwrap_or(u32::MAX);
        seen.latencies_us.push(latency);
    }
    seen
}
