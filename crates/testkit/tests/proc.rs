//! The test kit's own promises about the processes it starts.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use testkit::{OUTPUT_GRACE, Proc};

/// A process that exits while something it started still holds its stdout (as a gunicorn
/// worker did once, after its master died) must not hang `finish()`: the test gets the output
/// so far and a note, within `OUTPUT_GRACE`.
#[test]
fn finish_returns_when_a_grandchild_keeps_the_output_open() {
    // The background `sleep` inherits stdout; `$!` is its pid, for cleaning it up below.
    let proc = Proc::spawn(Command::new("sh").args(["-c", "sleep 30 & echo $!"]));
    let started = Instant::now();
    let done = proc.finish();
    let waited = started.elapsed();
    let sleeper = done.stdout.trim().to_owned();
    let _ = Command::new("kill").args(["-KILL", &sleeper]).status();
    assert!(done.status.success(), "{done:?}");
    assert!(!sleeper.is_empty(), "the output so far is kept: {done:?}");
    assert!(waited < OUTPUT_GRACE + Duration::from_secs(5), "finish() waited {waited:?}");
    assert!(done.stderr.contains("still holds its output"), "{}", done.stderr);
}
