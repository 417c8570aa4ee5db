//! `blast`: probes as fast as one thread can send them, while another counts what comes back.
//! UDP has no flow control, so nothing slows the sender; what the receiver cannot keep up with
//! is dropped by the kernel, and the count of what came back measures that loss.

use std::io;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use common::timeout::is_timeout;
use socket2::SockRef;

use super::ping::nanos;
use super::{RECV_BUF_SIZE, UdpClient};
use crate::probe::{Probe, Tally};

/// The receive buffer `blast` asks for, so that the loss it measures is the server's.
const BLAST_RCVBUF: usize = 8 << 20;

// ANCHOR: blast
/// Sends `count` probes as fast as possible from one thread while this one counts the replies.
/// Nothing slows the sender down: UDP has no flow control, so when the server's receive buffer
/// is full, the kernel simply drops what arrives.
///
/// # Errors
/// When a send or receive fails, or `size` is out of range.
pub fn blast(client: &UdpClient, count: u32, size: usize, timeout: Duration) -> Result<()> {
    client.check_size(size)?;
    // Make our own receive buffer large, so that the replies we lose are lost at the server.
    let sock = SockRef::from(client.socket());
    let _ = sock.set_recv_buffer_size(BLAST_RCVBUF);
    let granted = sock.recv_buffer_size().unwrap_or_default();
    let sender = client.socket().try_clone().context("could not clone the socket")?;
    let (server, connected) = (client.server, client.connected);
    let started = Instant::now();
    let sending = thread::spawn(move || -> io::Result<Duration> {
        let mut probe = vec![0u8; size];
        for seq in 0..count {
            Probe { seq, sent_ns: nanos(started, Instant::now()) }.write(&mut probe);
            match connected {
                true => sender.send(&probe)?,
                false => sender.send_to(&probe, server)?,
            };
        }
        Ok(started.elapsed())
    });

    // ANCHOR_END: blast
    // ANCHOR: blast_count
    let mut tally = Tally::new(count);
    let mut buf = vec![0u8; RECV_BUF_SIZE];
    client.set_timeout(timeout)?;
    while !tally.complete() {
        match client.socket().recv(&mut buf) {
            Ok(len) => {
                tally.record(&buf[..len], nanos(started, Instant::now()));
            }
            // Quiet for a whole timeout after the last send: whatever is missing is lost.
            Err(e) if is_timeout(&e) => {
                if sending.is_finished() {
                    break;
                }
            }
            Err(e) => return Err(client.explain(e)).context("could not receive"),
        }
    }
    let send_time =
        sending.join().map_err(|_| anyhow::anyhow!("the sending thread panicked"))??;
    let lost = count - tally.received;
    println!(
        "blast: sent {count} datagrams of {size} bytes in {:.3} s ({:.0}/s); {} came back, {lost} lost \
         ({:.1}%), {} duplicates, {} unexpected; client SO_RCVBUF {granted}",
        send_time.as_secs_f64(),
        f64::from(count) / send_time.as_secs_f64(),
        tally.received,
        100.0 * f64::from(lost) / f64::from(count.max(1)),
        tally.duplicates,
        tally.unexpected,
    );
    // Loss is the measurement; losing everything means there was nothing to measure.
    if tally.received == 0 {
        return Err(client.nothing_answered(tally.unexpected));
    }
    Ok(())
}
// ANCHOR_END: blast_count
