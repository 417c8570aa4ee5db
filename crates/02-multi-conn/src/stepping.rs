//! What `--step` adds to a non-blocking loop: a line for the call that found nothing to do.
//!
//! A stepped run pauses before every socket call. On a non-blocking socket a call may find
//! nothing to do: `accept` with an empty queue, `recv` with nothing received, `send` with a
//! full send buffer. It returns `WouldBlock` at once, and the loop goes back to `poll`.
//! `--trace` leaves those calls out (they happen after every burst of work, and say only "come
//! back later"), but a class that pressed Enter for one should see what it did, so under
//! `--step` it gets its line: one prompt, one result, for every call.

use std::fmt;

use common::narrate;
use common::narrate::{Narrator, Watch};

/// Says that `call` on `socket` returned `WouldBlock` and why (`because`), when `--step` is on.
pub fn would_block<S: Watch + ?Sized>(
    n: Narrator,
    socket: &S,
    call: fmt::Arguments<'_>,
    because: &str,
) {
    if n.is_on() && narrate::step::is_on() {
        narrate!(n, socket, "{call} -> WouldBlock ({because})");
    }
}
