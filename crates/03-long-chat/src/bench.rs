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

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use mio::{Events, Interest, Poll, Token};

use crate::connection::Connection;
use crate::frame::{self, Decoder, Frame, Kind};

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

/// One chatting client, as the generator's event loop sees it.
struct Chatter {
    stream: mio::net::TcpStream,
    decoder: Decoder,
    /// Frames not yet written (a send buffer that was full for a moment).
    out: Vec<u8>,
    /// When its next line is due, and its number.
    next_due: Instant,
    next_seq: u64,
    /// Next sequence number expected from each sender.
    expect: Vec<u64>,
}

/// Runs the load and prints one result line.
///
/// One thread does everything, with one event loop (like the server): it writes each line
/// when it is due and reads whatever the room relays. A thread per client would wake 99
/// threads per line, and measure the scheduler rather than the server.
///
/// # Errors
/// When clients cannot connect or join, or the poller fails.
pub fn run(load: &Load) -> Result<()> {
    let mut poll = Poll::new()?;
    let mut chatters = Vec::new();
    for i in 0..load.clients {
        let stream = join(load, &format!("c{i}"))?;
        stream.set_nonblocking(true)?;
        let mut stream = mio::net::TcpStream::from_std(stream);
        poll.registry().register(&mut stream, Token(i), Interest::READABLE)?;
        chatters.push(Chatter {
            stream,
            decoder: Decoder::new(),
            out: Vec::new(),
            next_due: Instant::now(),
            next_seq: 0,
            expect: vec![0; load.clients],
        });
    }
    // The never-readers join and then read nothing, ever.
    let mut stuck = Vec::new();
    for i in 0..load.never_read {
        stuck.push(join(load, &format!("stuck{i}"))?);
    }
    let per_sender = u64::from(load.rate) * load.duration.as_secs();
    let expected = per_sender * (load.clients as u64 - 1) * load.clients as u64;
    let interval = Duration::from_secs_f64(1.0 / f64::from(load.rate));
    let epoch = Instant::now();
    let start = epoch + Duration::from_millis(100);
    for (i, chatter) in chatters.iter_mut().enumerate() {
        // Staggered, so the room's lines are evenly spread over each interval.
        chatter.next_due = start + interval.mul_f64(i as f64 / load.clients as f64);
    }
    let filler = "x".repeat(load.size);
    let mut events = Events::with_capacity(1024);
    let mut scratch = vec![0u8; 64 << 10];
    let mut latencies_us: Vec<u32> = Vec::with_capacity(expected as usize);
    let (mut received, mut out_of_order, mut send_stalls) = (0u64, 0u64, 0u64);
    let mut last_progress = Instant::now();
    loop {
        // Send every line that is due.
        let now = Instant::now();
        let mut next_due: Option<Instant> = None;
        for (i, chatter) in chatters.iter_mut().enumerate() {
            while chatter.next_seq < per_sender && chatter.next_due <= now {
                let sent_us = epoch.elapsed().as_micros();
                let line = format!("{i} {} {sent_us} {filler}", chatter.next_seq);
                frame::encode_into(&mut chatter.out, Kind::Text, &line);
                chatter.next_seq += 1;
                chatter.next_due += interval;
            }
            if !chatter.out.is_empty() {
                match chatter.stream.write(&chatter.out) {
                    Ok(n) => {
                        chatter.out.drain(..n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e).context("a sender's connection failed"),
                }
                if !chatter.out.is_empty() {
                    send_stalls += 1;
                }
            }
            if chatter.next_seq < per_sender || !chatter.out.is_empty() {
                next_due = Some(next_due.map_or(chatter.next_due, |d| d.min(chatter.next_due)));
            }
        }
        if received >= expected && next_due.is_none() {
            break;
        }
        if next_due.is_none() && last_progress.elapsed() > QUIET_END {
            break; // Nothing for a while after the last line: what is missing is lost.
        }
        let timeout =
            next_due.map_or(QUIET_END, |due| due.saturating_duration_since(Instant::now()));
        poll.poll(&mut events, Some(timeout))?;
        for event in &events {
            let me = event.token().0;
            let chatter = &mut chatters[me];
            loop {
                match chatter.stream.read(&mut scratch) {
                    Ok(0) => bail!("the server closed client c{me}"),
                    Ok(n) => chatter.decoder.extend(&scratch[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e).context("a receiver's connection failed"),
                }
            }
            let now_us = epoch.elapsed().as_micros();
            while let Some(frame) = chatter.decoder.next_frame()? {
                if frame.kind != Kind::Text {
                    continue;
                }
                let Some((sender, seq, sent_us)) = parse_line(&frame.text) else { continue };
                if sender >= load.clients || sender == me {
                    continue;
                }
                if seq != chatter.expect[sender] {
                    out_of_order += 1;
                }
                chatter.expect[sender] = seq + 1;
                received += 1;
                last_progress = Instant::now();
                latencies_us
                    .push(u32::try_from(now_us.saturating_sub(sent_us)).unwrap_or(u32::MAX));
            }
        }
    }
    drop(stuck);
    let lost = expected.saturating_sub(received);
    latencies_us.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies_us.is_empty() {
            return 0.0;
        }
        let at = ((latencies_us.len() - 1) as f64 * p).round() as usize;
        f64::from(latencies_us[at]) / 1000.0
    };
    let secs = load.duration.as_secs_f64();
    println!(
        "clients {} (+{} never reading), sent {}, delivered {received} ({:.0}/s), lost {lost}, out of order {out_of_order}, send stalls {send_stalls}, latency p50 {:.3} ms p99 {:.3} ms max {:.3} ms, generator cpu {}",
        load.clients,
        load.never_read,
        per_sender * load.clients as u64,
        received as f64 / secs,
        pct(0.5),
        pct(0.99),
        pct(1.0),
        own_cpu(epoch.elapsed()),
    );
    Ok(())
}

/// This process's CPU time as a share of one core over `wall`, from `/proc/self/stat` (Linux;
/// `?` elsewhere): the check that the generator is not the bottleneck.
fn own_cpu(wall: Duration) -> String {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return "?".into() };
    let Some((_, fields)) = stat.rsplit_once(") ") else { return "?".into() };
    let fields: Vec<&str> = fields.split(' ').collect();
    // utime and stime (fields 14 and 15; 12 and 13 after the name), in USER_HZ = 100 ticks/s.
    let ticks: u64 = fields.iter().skip(11).take(2).filter_map(|f| f.parse::<u64>().ok()).sum();
    format!("{:.0}%", ticks as f64 / 100.0 / wall.as_secs_f64() * 100.0)
}

/// How long the room may stay quiet after the last line before the run ends.
const QUIET_END: Duration = Duration::from_secs(3);

/// `cNAME: SENDER SEQ SENT_US filler` → (sender, seq, sent_us).
fn parse_line(text: &str) -> Option<(usize, u64, u128)> {
    let (_, body) = text.split_once(": ")?;
    let mut fields = body.split(' ');
    let sender = fields.next()?.parse().ok()?;
    let seq = fields.next()?.parse().ok()?;
    let sent = fields.next()?.parse().ok()?;
    Some((sender, seq, sent))
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
