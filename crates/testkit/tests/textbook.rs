//! The code stays a textbook: `scripts/textbook.py --check` measures every chapter (file
//! lengths, listing sizes, prose between listings, unused anchors, module cycles) against the
//! limits written at its top, and this test fails with its report when one is broken.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use testkit::run;

#[test]
fn every_chapter_is_within_the_textbook_limits() {
    let script = testkit::workspace_root().join("scripts/textbook.py");
    let out = run(Command::new("python3").arg(script).arg("--check"));
    assert!(
        out.status.success(),
        "scripts/textbook.py --check failed:\n{}{}",
        out.stdout,
        out.stderr
    );
}
