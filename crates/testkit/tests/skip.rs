//! `testkit::skip` makes a skipped test visible: it reaches the terminal past the harness's
//! capture, and it adds a line to the file `.ci/run` counts.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use testkit::SKIP_LOG_VAR;

/// Set only when the test below runs this binary again; without it the child does nothing.
const CHILD_VAR: &str = "TESTKIT_SKIP_SELFTEST";

/// Not a test of its own: the child process of the test below, which skips on purpose.
#[test]
fn child_that_skips() {
    if std::env::var_os(CHILD_VAR).is_some() {
        testkit::skip("on purpose,\nfor the self-test");
    }
}

#[test]
fn a_skip_is_printed_and_recorded_for_ci() {
    let log = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("skip-selftest-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let out = testkit::run(
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_that_skips"])
            .env(CHILD_VAR, "1")
            .env(SKIP_LOG_VAR, &log),
    );
    assert!(out.status.success(), "{out:?}");
    let line = "skipped: child_that_skips: on purpose, for the self-test\n";
    assert!(out.stderr.contains(line), "shown although the test passed:\n{}", out.stderr);
    let recorded = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    assert_eq!(recorded, line, "one line in the log .ci/run counts");
}
