//! The `cargo exercise` command itself: exit codes, a student's files left alone, and every
//! program the grader started ended when the grader is stopped with Ctrl-C.

use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

use testkit::{Proc, run};

/// The grader, keeping its progress in `state`, not in the student's file under target/.
fn exercise(state: &tempfile::NamedTempFile) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_exercise"));
    cmd.env("EXERCISE_PROGRESS_FILE", state.path());
    cmd
}

fn state() -> tempfile::NamedTempFile {
    tempfile::NamedTempFile::new().expect("a temporary file")
}

/// Every file under `dir` with its contents, to compare before and after a check.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable").map_while(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push((path.display().to_string(), std::fs::read(&path).expect("readable")));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn check_exits_1_on_the_untouched_crate_0_on_the_reference_and_never_writes_the_crate() {
    let crate_dir = exercise::build::workspace_root().join("crates/exercises/01-fix-client");
    let before = snapshot(&crate_dir);
    let state = state();
    let failed = run(exercise(&state).args(["check", "01-fix-client"]));
    assert_eq!(failed.status.code(), Some(1), "{failed:?}");
    assert!(failed.stdout.contains("failed: an echo in two pieces"), "{}", failed.stdout);
    assert!(failed.stdout.contains("try it") && failed.stdout.contains("docs/src/01-echo.md#"));
    let passed = run(exercise(&state).args(["check", "01-fix-client", "--solution"]));
    assert_eq!(passed.status.code(), Some(0), "{passed:?}");
    assert_eq!(snapshot(&crate_dir), before, "check must not touch the student's crate");
}

#[test]
fn hint_shows_one_more_hint_each_time() {
    let state = state();
    let hint = || run(exercise(&state).args(["hint", "01-line-echo"])).stdout;
    let first = hint();
    assert!(first.contains("hint 1 of 3") && !first.contains("hint 2 of 3"), "{first}");
    assert!(hint().contains("hint 2 of 3"));
    let third = hint();
    assert!(third.contains("hint 3 of 3") && third.contains("cargo exercise solution"), "{third}");
}

#[test]
fn an_unknown_exercise_is_a_usage_error() {
    let done = run(exercise(&state()).args(["check", "99-nothing"]));
    assert_eq!(done.status.code(), Some(2));
    assert!(done.stderr.contains("cargo exercise list"), "{}", done.stderr);
}

#[test]
fn ctrl_c_ends_the_program_under_test_too() {
    // 02-pool-lock's untouched server keeps a Python client waiting for seconds: time to stop
    // the grader in the middle of a check.
    let state = state();
    let grader = Proc::spawn(exercise(&state).args(["check", "02-pool-lock"]));
    let line = grader.expect_line("  ok  started, listening on ");
    let addr = line.rsplit(' ').next().expect("an address").to_owned();
    grader.expect_line("  ok  connect and send nothing");
    grader.interrupt();
    let done = grader.finish();
    assert_eq!(done.status.code(), Some(130), "{done:?}");
    assert!(TcpStream::connect(&addr).is_err(), "the student's server at {addr} was left running");
}
