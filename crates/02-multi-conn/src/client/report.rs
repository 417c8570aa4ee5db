//! What a client run measured, and the one line that reports it: latency in a histogram of
//! bounded size, the counts of connections, and the summary each job prints.

use std::time::Duration;

use anyhow::{Result, bail};

use super::Job;

/// Latency is counted in 1 µs buckets up to this many µs; slower round trips share the last.
const LATENCY_BUCKETS: usize = 100_000;

/// Latency counts in 1 µs buckets: bounded memory however long the run.
pub(super) struct Histogram {
    buckets: Vec<u64>,
    pub(super) count: u64,
}

impl Histogram {
    pub(super) fn new() -> Self {
        Self { buckets: vec![0; LATENCY_BUCKETS], count: 0 }
    }

    pub(super) fn record(&mut self, latency: Duration) {
        let micros = (latency.as_micros() as usize).min(LATENCY_BUCKETS - 1);
        self.buckets[micros] += 1;
        self.count += 1;
    }

    /// The `p`-th percentile as text: `48 µs`, or `≥ 100000 µs` when it fell in the last
    /// bucket, where slower round trips are only counted, not measured.
    pub(super) fn percentile_text(&self, p: f64) -> String {
        match self.percentile(p) {
            micros if micros == LATENCY_BUCKETS - 1 => format!("≥ {micros} µs"),
            micros => format!("{micros} µs"),
        }
    }

    /// The `p`-th percentile (0 to 100) in µs.
    fn percentile(&self, p: f64) -> usize {
        let rank = ((p / 100.0) * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (micros, count) in self.buckets.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return micros;
            }
        }
        LATENCY_BUCKETS - 1
    }
}

/// How a run ended.
pub(super) struct Outcome {
    /// Connections not finished (verify) or still open (hold, ping-pong).
    pub(super) open: usize,
    /// Connections whose handshake completed.
    pub(super) connected: usize,
    /// Bytes echoed and checked on finished connections.
    pub(super) verified_bytes: usize,
    pub(super) elapsed: Duration,
}

/// Prints the run's one-line result, or fails when a verify run did not finish.
pub(super) fn report(job: &Job, outcome: &Outcome, latency: &Histogram) -> Result<()> {
    let secs = outcome.elapsed.as_secs_f64();
    match job {
        Job::Verify { connections, messages, .. } => {
            if outcome.open > 0 {
                bail!("stopped with {} of {connections} connections unfinished", outcome.open);
            }
            println!(
                "{connections} connections, {} messages, {} bytes echoed and verified in {secs:.3} s",
                connections * messages,
                outcome.verified_bytes
            );
        }
        Job::PingPong { connections, size, .. } => {
            println!(
                "{connections} connections, {size}-byte ping-pong for {secs:.2} s: {} messages, {:.0} messages/s, latency p50 {}, p99 {}",
                latency.count,
                latency.count as f64 / secs,
                latency.percentile_text(50.0),
                latency.percentile_text(99.0)
            );
        }
        Job::Hold { connections, .. } => {
            println!(
                "held {} of {connections} connections for {secs:.2} s, now closing them",
                outcome.connected
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_buckets() {
        let mut histogram = Histogram::new();
        for micros in 1..=100 {
            histogram.record(Duration::from_micros(micros));
        }
        assert_eq!(histogram.percentile(50.0), 50);
        assert_eq!(histogram.percentile(99.0), 99);
        histogram.record(Duration::from_secs(10));
        assert_eq!(
            histogram.percentile(100.0),
            LATENCY_BUCKETS - 1,
            "slow ones share the last bucket"
        );
        assert_eq!(histogram.percentile_text(100.0), "≥ 99999 µs");
        assert_eq!(histogram.percentile_text(50.0), "51 µs", "101 samples now");
    }
}
