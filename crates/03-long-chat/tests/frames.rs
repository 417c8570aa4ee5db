//! Property tests for the frame decoder: however TCP splits a valid stream, the same frames
//! come out; and no sequence of bytes, however hostile, makes it panic or buffer more than one
//! frame's worth.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

use ch03_long_chat::frame::{Decoder, Frame, Kind, LEN_PREFIX, MAX_FRAME_LEN};
use proptest::prelude::*;

fn any_kind() -> impl Strategy<Value = Kind> {
    prop::sample::select(Kind::ALL.to_vec())
}

fn any_frame() -> impl Strategy<Value = Frame> {
    (any_kind(), ".{0,40}").prop_map(|(kind, text)| Frame::new(kind, text))
}

/// Decodes `wire` fed in pieces cut at `cuts` (positions, any order, duplicates allowed).
fn decode_in_pieces(wire: &[u8], cuts: &[usize]) -> Vec<Frame> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
    cuts.push(0);
    cuts.push(wire.len());
    cuts.sort_unstable();
    let mut decoder = Decoder::new();
    let mut frames = Vec::new();
    for piece in cuts.windows(2) {
        decoder.extend(&wire[piece[0]..piece[1]]);
        while let Some(frame) = decoder.next_frame().unwrap() {
            frames.push(frame);
        }
    }
    assert_eq!(decoder.unfinished(), None, "every byte was consumed");
    frames
}

proptest! {
    #[test]
    fn any_chunking_decodes_to_the_same_frames(
        frames in prop::collection::vec(any_frame(), 0..20),
        cuts in prop::collection::vec(any::<usize>(), 0..30),
    ) {
        let wire: Vec<u8> = frames.iter().flat_map(Frame::to_bytes).collect();
        prop_assert_eq!(decode_in_pieces(&wire, &cuts), frames);
    }

    #[test]
    fn random_bytes_never_panic_and_stay_bounded(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..30),
    ) {
        let mut decoder = Decoder::new();
        'feed: for chunk in &chunks {
            decoder.extend(chunk);
            loop {
                match decoder.next_frame() {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) if e.is_recoverable() => {}
                    Err(_) => break 'feed, // The stream is over: a real server closes here.
                }
            }
            // Never more than one unfinished frame (prefix + MAX_FRAME_LEN) is held.
            prop_assert!(decoder.buffered() <= LEN_PREFIX + MAX_FRAME_LEN);
        }
    }

    #[test]
    fn a_bad_frame_between_good_ones_costs_only_itself(
        before in any_frame(),
        after in any_frame(),
        junk_kind in 9u8..=255,
    ) {
        let mut wire = before.to_bytes();
        wire.extend([0, 0, 0, 2, junk_kind, b'?']);
        wire.extend([0, 0, 0, 3, Kind::Text as u8, 0xc3, 0x28]); // invalid UTF-8
        wire.extend(after.to_bytes());
        let mut decoder = Decoder::new();
        decoder.extend(&wire);
        prop_assert_eq!(decoder.next_frame(), Ok(Some(before)));
        prop_assert!(decoder.next_frame().is_err());
        prop_assert!(decoder.next_frame().is_err());
        prop_assert_eq!(decoder.next_frame(), Ok(Some(after)));
    }
}
