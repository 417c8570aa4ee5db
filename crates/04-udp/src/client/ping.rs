//! `ping` and `rtt`: probes that each wait for their own answer. `ping` sends at an interval
//! and reads replies in between, like ping(8); `rtt` sends the next probe only when the last
//! one is answered (or lost), to measure round trips one at a time.

use std::time::{Duration, Instant};

use anyhow::Result;

use super::{GIVE_UP_AFTER_SILENT, RECV_BUF_SIZE, UdpClient};
use crate::preview;
use crate::probe::{Outcome, Probe, Tally};

// ANCHOR: ping
/// Sends `count` probes of `size` bytes, one every `interval`, while printing each reply as it
/// comes; then waits `timeout` for stragglers and prints ping(8)'s summary.
///
/// # Errors
/// When a send or receive fails, or `size` is out of range.
pub fn ping(
    client: &UdpClient,
    count: u32,
    interval: Duration,
    size: usize,
    timeout: Duration,
) -> Result<()> {
    client.check_size(size)?;
    let started = Instant::now();
    let mut tally = Tally::new(count);
    let mut probe = vec![0u8; size];
    let mut buf = vec![0u8; RECV_BUF_SIZE];
    let (mut sent, mut next_send) = (0u32, started);
    let mut deadline = started;
    // When the GIVE_UP_AFTER_SILENT-th probe's timeout runs out with nothing heard, give up.
    let mut give_up_at: Option<Instant> = None;
    // One thread, one loop: send when a probe is due, otherwise wait for a reply until then.
    // ANCHOR_END: ping
    // ANCHOR: ping_send
    loop {
        let now = Instant::now();
        let silent = tally.received == 0 && tally.unexpected == 0;
        if silent && give_up_at.is_some_and(|at| now >= at) && sent < count {
            println!("{sent} sent, none answered: giving up");
            return Err(client.nothing_answered(0));
        }
        if sent < count && now >= next_send {
            Probe { seq: sent, sent_ns: nanos(started, now) }.write(&mut probe);
            client.send(&probe)?;
            sent += 1;
            next_send += interval;
            deadline = now + timeout;
            if sent == GIVE_UP_AFTER_SILENT {
                give_up_at = Some(deadline);
            }
            continue;
        }
        if sent == count && (tally.complete() || now >= deadline) {
            break;
        }
        // ANCHOR_END: ping_send
        // ANCHOR: ping_recv
        let mut wake = if sent < count { next_send } else { deadline };
        if let Some(at) = give_up_at.filter(|_| silent && sent < count) {
            wake = wake.min(at);
        }
        client.set_timeout(wake.saturating_duration_since(now))?;
        let Some((len, from)) = client.recv(&mut buf)? else { continue };
        let cut =
            if len < size { format!(" (truncated: {size} were sent)") } else { String::new() };
        match tally.record(&buf[..len], nanos(started, Instant::now())) {
            Outcome::New { seq, rtt, late } => {
                let order = if late { " (out of order)" } else { "" };
                println!(
                    "{len} bytes from {from}: seq={seq} time={:.3} ms{order}{cut}",
                    rtt.as_secs_f64() * 1e3
                );
            }
            Outcome::Duplicate { seq } => println!("{len} bytes from {from}: seq={seq} (DUP!)"),
            Outcome::Unexpected => println!(
                "unexpected datagram from {from}: {len} bytes that are not one of our probes: {}",
                preview(&buf[..len])
            ),
        }
    }
    // ANCHOR_END: ping_recv
    // ANCHOR: ping_summary
    println!("--- {} ping statistics ---", client.server());
    let loss = 100.0 * f64::from(count - tally.received) / f64::from(count.max(1));
    println!(
        "{count} sent, {} received, {loss:.1}% loss, {} duplicates, {} reordered, {} unexpected",
        tally.received, tally.duplicates, tally.reordered, tally.unexpected
    );
    match tally.rtt_summary() {
        Some(rtt) => println!("rtt min/avg/max/mdev = {rtt}"),
        None => return Err(client.nothing_answered(tally.unexpected)),
    }
    Ok(())
}
// ANCHOR_END: ping_summary

/// Nanoseconds from `since` to `now`: the clock a probe carries.
pub(super) fn nanos(since: Instant, now: Instant) -> u64 {
    now.saturating_duration_since(since).as_nanos() as u64
}

/// Sequential round trips for `duration`: one probe, wait for its reply (or the timeout), the
/// next. Prints the rate and the p50/p99 round-trip times.
///
/// # Errors
/// When a send or receive fails, or `size` is out of range.
pub fn rtt(client: &UdpClient, duration: Duration, size: usize) -> Result<()> {
    client.check_size(size)?;
    let started = Instant::now();
    let mut rtts = Vec::new();
    let (mut lost, mut stale) = (0u32, 0u32);
    let mut probe = vec![0u8; size];
    let mut buf = vec![0u8; RECV_BUF_SIZE];
    let mut seq = 0u32;
    while started.elapsed() < duration {
        let sent_at = Instant::now();
        Probe { seq, sent_ns: nanos(started, sent_at) }.write(&mut probe);
        client.send(&probe)?;
        loop {
            match client.recv(&mut buf)? {
                Some((len, _)) if Probe::read(&buf[..len]).is_some_and(|p| p.seq == seq) => {
                    rtts.push(sent_at.elapsed());
                    break;
                }
                Some(_) => stale += 1, // A late reply to an earlier probe, or a stranger.
                None => {
                    lost += 1;
                    break;
                }
            }
        }
        if rtts.is_empty() && stale == 0 && lost >= GIVE_UP_AFTER_SILENT {
            println!("{lost} sent, none answered: giving up");
            return Err(client.nothing_answered(0));
        }
        seq = seq.wrapping_add(1);
    }
    let elapsed = started.elapsed();
    if rtts.is_empty() {
        return Err(client.nothing_answered(stale));
    }
    rtts.sort_unstable();
    let pick = |p: f64| {
        rtts.get(((rtts.len().saturating_sub(1)) as f64 * p) as usize).copied().unwrap_or_default()
    };
    println!(
        "{} round trips of {size} bytes in {:.3} s: {:.0}/s, p50 {:.1} µs, p99 {:.1} µs, {lost} lost, {stale} stale",
        rtts.len(),
        elapsed.as_secs_f64(),
        rtts.len() as f64 / elapsed.as_secs_f64(),
        pick(0.50).as_secs_f64() * 1e6,
        pick(0.99).as_secs_f64() * 1e6,
    );
    Ok(())
}
