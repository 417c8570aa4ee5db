//! `cargo exercise`: graded exercises for every chapter, checked offline over real sockets.
//!
//! A student edits a plain crate under `crates/exercises/ID/`; `cargo exercise check ID` builds
//! it, starts it (or runs it against a peer) on loopback, and talks to it the way real and
//! hostile peers do. The grader never reads the student's source: it judges behaviour only.
//!
//! - [`catalog`]: every exercise, its hints, its reference and wrong answers, its check;
//! - [`checks`]: the checks, one function per exercise, built from shared steps;
//! - [`origin`]: an HTTP server for client exercises, replies paced byte by byte or in pieces;
//! - [`peer`]: the adversarial peer (one byte per write, coalesced, silent, drip, half-close,
//!   reset, flood) and a server that answers in pieces, for client exercises;
//! - [`run`]: the program under test as a supervised process (deadlines, output caps, kill and
//!   reap);
//! - [`build`]: cargo builds the student's crate (or the reference) in the shared target dir;
//! - [`progress`]: what passed and which hints were shown, kept under `target/`;
//! - [`verdict`]: a failure: sent, expected, got, a command to try it, the book section.
//!
//! How to add an exercise: see this crate's `README.md`.

// A check returns at most one Failure, once: its size (six strings) costs nothing worth boxing.
#![allow(clippy::result_large_err)]

pub mod build;
pub mod catalog;
pub mod checks;
pub mod origin;
pub mod peer;
pub mod progress;
pub mod run;
pub mod verdict;
