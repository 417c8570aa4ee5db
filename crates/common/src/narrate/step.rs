//! `--step`: pause before each narrated socket call until the person at the terminal presses
//! Enter, so a class can watch one call at a time.
//!
//! The prompt is read from the *controlling terminal* (`/dev/tty`), not from stdin, so a client
//! that reads its message from stdin (`01-echo client --stdin < file`) can still be stepped.
//! One thread reads the terminal and hands each line over a channel; a Ctrl-C sends the same
//! channel a "run on" message, so a program waiting at a prompt stops as cleanly as one that
//! is not stepped.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Mutex, OnceLock, PoisonError};

/// What the terminal thread (or Ctrl-C) says to a waiting prompt.
enum Answer {
    /// A line typed at the terminal: empty runs one call, `c` runs on.
    Line(String),
    /// Stop pausing: Ctrl-C, or the terminal closed.
    RunOn,
}

/// The one terminal of the process, opened by [`start`].
struct Gate {
    /// Prompts are written here, so they show even when stderr goes to a file.
    tty: Mutex<File>,
    /// Lines from the terminal thread. Holding this lock is holding the prompt: two threads
    /// that reach a call at once are paused one after the other.
    answers: Mutex<Receiver<Answer>>,
    /// A sender for [`run_on`], so Ctrl-C can wake a waiting prompt.
    wake: Mutex<Sender<Answer>>,
}

static GATE: OnceLock<Gate> = OnceLock::new();

/// Set by `c` + Enter, Ctrl-C or a closed terminal: no more pauses.
static RUNNING_ON: AtomicBool = AtomicBool::new(false);

/// Turns stepping on: opens the controlling terminal and starts the thread that reads it.
///
/// # Errors
/// When the process has no controlling terminal (run from a pipe, a service, CI): `--step`
/// would wait for an Enter nobody can press. When it runs in the background of one (started
/// with `&`): its first read of the terminal would stop it (SIGTTIN) before any Enter. The
/// message says which; callers make it a usage error.
pub fn start() -> Result<(), String> {
    if GATE.get().is_some() {
        return Ok(());
    }
    let open = || File::options().read(true).write(true).open("/dev/tty");
    let (tty, reader) = match (open(), open()) {
        (Ok(tty), Ok(reader)) => (tty, reader),
        (Err(e), _) | (_, Err(e)) => {
            return Err(format!(
                "--step waits for Enter on this process's terminal, and it has none \
                 (/dev/tty: {e}); run it in a terminal, or use --trace to narrate without pausing"
            ));
        }
    };
    if !in_foreground(&tty) {
        return Err("--step waits for Enter on this process's terminal, but it runs in the \
                    terminal's background (started with &, say), where reading the terminal \
                    would stop it; run it in the foreground, or use --trace to narrate without \
                    pausing"
            .into());
    }
    let (send, answers) = channel();
    let wake = send.clone();
    std::thread::Builder::new()
        .name("step-terminal".into())
        .spawn(move || {
            for line in BufReader::new(reader).lines() {
                let Ok(line) = line else { break };
                if send.send(Answer::Line(line)).is_err() {
                    return;
                }
            }
            // The terminal closed (the window went away): nobody can press Enter any more.
            let _ = send.send(Answer::RunOn);
        })
        .map_err(|e| format!("--step could not start its terminal thread: {e}"))?;
    let _ = GATE.set(Gate {
        tty: Mutex::new(tty),
        answers: Mutex::new(answers),
        wake: Mutex::new(wake),
    });
    Ok(())
}

/// Does the terminal's keyboard belong to this process's group? Only the foreground group may
/// read a terminal; the shell moves a job started with `&` into a group of its own, which the
/// kernel stops (SIGTTIN, "Stopped (tty input)") when it reads.
#[cfg(unix)]
fn in_foreground(tty: &File) -> bool {
    use nix::unistd::{getpgrp, tcgetpgrp};
    tcgetpgrp(tty).is_ok_and(|group| group == getpgrp())
}

/// Elsewhere there are no background groups to be stopped in.
#[cfg(not(unix))]
fn in_foreground(_tty: &File) -> bool {
    true
}

/// Is a prompt due before the next call? (Stepping is on and nobody asked to run on.)
#[inline]
pub fn is_on() -> bool {
    GATE.get().is_some() && !RUNNING_ON.load(Ordering::Relaxed)
}

/// Stops all pausing and wakes a prompt that is waiting: Ctrl-C calls this, so a stepped
/// program stops the way an unstepped one does.
pub fn run_on() {
    RUNNING_ON.store(true, Ordering::SeqCst);
    if let Some(gate) = GATE.get() {
        let _ = gate.wake.lock().unwrap_or_else(PoisonError::into_inner).send(Answer::RunOn);
    }
}

/// Shows `prompt` (the call about to happen, and the kernel's view of its socket) on the
/// terminal, then waits for one line: Enter runs the call, `c` runs on without pausing.
pub(crate) fn pause(prompt: &str) {
    let Some(gate) = GATE.get() else { return };
    let answers = gate.answers.lock().unwrap_or_else(PoisonError::into_inner);
    // Checked again under the lock: another thread may have run on while this one waited.
    if RUNNING_ON.load(Ordering::SeqCst) {
        return;
    }
    {
        let mut tty = gate.tty.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = tty.write_all(format!("{prompt}\n").as_bytes());
    }
    match answers.recv() {
        Ok(Answer::Line(line)) if line.trim().eq_ignore_ascii_case("c") => run_on(),
        Ok(Answer::Line(_)) => {}
        Ok(Answer::RunOn) | Err(_) => RUNNING_ON.store(true, Ordering::SeqCst),
    }
}
