//! The chat's wire format, written by hand: how a byte stream becomes messages.
//!
//! TCP delivers a stream of bytes, not messages. Two `send`s of 5 bytes may arrive as one
//! `recv` of 10, or as 3 + 7; a long message may arrive in pieces. (Chinese tutorials call the
//! first effect 粘包, "sticky packets"; it is not a bug in TCP, it is what a stream is.) So
//! every message travels in a **frame** that says how long it is:
//!
//! ```text
//!  0               1               2               3               4
//! +---------------+---------------+---------------+---------------+---------------+-----
//! |        length of what follows: u32, big-endian (network order)  |     kind      | content:
//! |        (kind byte + content), at most MAX_FRAME_LEN               | 1 byte        | UTF-8 ...
//! +---------------+---------------+---------------+---------------+---------------+-----
//! ```
//!
//! The text `hi` from the client, a TEXT frame, is these 7 bytes:
//!
//! ```text
//! 00 00 00 03  01  68 69
//! └─ length 3  │   └─ "hi"
//!              └─ kind 0x01 = TEXT
//! ```
//!
//! The length comes first and has a fixed size, so a reader always knows how many bytes to
//! wait for: 4 for the length, then `length` more. Big-endian ("network byte order") is the
//! convention of Internet protocols, and what Python's `struct.pack("!I", n)` writes.
//!
//! The tutorial's last program frames differently: a 2-byte big-endian length, then a JSON
//! header (content type, encoding, content length), then the content. That is flexible and
//! self-describing, and costs a JSON parse per message; ours is a fixed 5-byte header, which a
//! chat needs no more than.
//!
//! [`Decoder`] turns bytes into frames, whatever pieces they arrive in; `Connection`, in
//! `connection.rs`, runs it over a blocking socket. Both refuse a length above [`MAX_FRAME_LEN`]
//! **before** allocating anything for it: a peer that announces 4 GiB gets an error, not 4 GiB
//! of our memory.

use std::fmt;
use std::io::{self, Read};

// ANCHOR: limits
/// The largest frame we accept: the length field's value (kind byte + content). 64 KiB is
/// ample for chat lines and small enough that a hostile peer cannot make us hold much.
pub const MAX_FRAME_LEN: usize = 64 << 10;
/// The size of the length prefix: a `u32`.
pub const LEN_PREFIX: usize = 4;
/// Longest nickname, in bytes. Names are ASCII letters, digits, `-`, `_` and `.`.
pub const MAX_NAME_LEN: usize = 32;
/// Longest text a client may send: a relayed text gets `NAME: ` in front, and must still fit in
/// one frame.
pub const MAX_TEXT_LEN: usize = MAX_FRAME_LEN - 1 - MAX_NAME_LEN - 2;
/// Bytes asked for in each `recv`.
const READ_CHUNK: usize = 16 << 10;
// ANCHOR_END: limits

// ANCHOR: kinds
/// What a frame means: its one-byte kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    /// A chat line. Client to server: the text. Server to client: `NAME: text`.
    Text = 1,
    /// Client to server, first frame: the name it would like (may be empty). Server to
    /// client: the first JOIN names *you*; later ones say who joined.
    Join = 2,
    /// Server to client: `NAME` left, optionally followed by ` (reason)`.
    Leave = 3,
    /// Client to server: the new name it wants. Server to client: `OLD NEW`.
    Nick = 4,
    /// Client to server (empty): who is here? Server to client: the names, space-separated.
    List = 5,
    /// Either way: something was wrong; the text says what.
    Error = 6,
    /// Either way: are you there? The content is echoed back in the PONG.
    Ping = 7,
    /// The answer to a PING.
    Pong = 8,
}
// ANCHOR_END: kinds

impl Kind {
    /// Every kind, in wire order.
    pub const ALL: [Kind; 8] = [
        Kind::Text,
        Kind::Join,
        Kind::Leave,
        Kind::Nick,
        Kind::List,
        Kind::Error,
        Kind::Ping,
        Kind::Pong,
    ];

    /// The kind a byte stands for, if any.
    pub fn from_byte(byte: u8) -> Option<Kind> {
        Kind::ALL.get(usize::from(byte).wrapping_sub(1)).copied()
    }

    /// The name narration uses: `TEXT`, `JOIN`, ...
    pub fn name(self) -> &'static str {
        match self {
            Kind::Text => "TEXT",
            Kind::Join => "JOIN",
            Kind::Leave => "LEAVE",
            Kind::Nick => "NICK",
            Kind::List => "LIST",
            Kind::Error => "ERROR",
            Kind::Ping => "PING",
            Kind::Pong => "PONG",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// What it means.
    pub kind: Kind,
    /// Its content, already checked to be UTF-8.
    pub text: String,
}

impl Frame {
    /// A frame of `kind` holding `text`.
    pub fn new(kind: Kind, text: impl Into<String>) -> Self {
        Self { kind, text: text.into() }
    }

    /// The frame's bytes on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(LEN_PREFIX + 1 + self.text.len());
        encode_into(&mut out, self.kind, &self.text);
        out
    }

    /// Bytes on the wire: prefix, kind, content.
    pub fn wire_len(&self) -> usize {
        LEN_PREFIX + 1 + self.text.len()
    }
}

// ANCHOR: encode
/// Appends one frame to `out`: the length of what follows as a big-endian `u32`, the kind
/// byte, the content. Content longer than [`MAX_FRAME_LEN`] - 1 is cut at a character boundary,
/// since no peer would accept the frame.
pub fn encode_into(out: &mut Vec<u8>, kind: Kind, text: &str) {
    let text = truncate(text, MAX_FRAME_LEN - 1);
    let len = u32::try_from(1 + text.len()).expect("at most MAX_FRAME_LEN, which fits in a u32");
    out.extend_from_slice(&len.to_be_bytes()); // "network byte order": most significant first
    out.push(kind as u8);
    out.extend_from_slice(text.as_bytes());
}
// ANCHOR_END: encode

/// `text`, cut to at most `max` bytes without splitting a character.
pub fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// What can be wrong with a frame. Only [`FrameError::TooLong`] loses the frame boundaries;
/// after the others the decoder has skipped the bad frame and the stream can go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The length prefix is above [`MAX_FRAME_LEN`]. We cannot skip that many bytes without
    /// reading them, so the connection must end.
    TooLong {
        /// The length the peer announced.
        len: u32,
    },
    /// A length of 0: there must be at least the kind byte.
    Empty,
    /// A kind byte we do not know.
    UnknownKind(u8),
    /// The content is not valid UTF-8.
    NotUtf8 {
        /// The frame's kind.
        kind: Kind,
    },
}

impl FrameError {
    /// Can the stream go on after this error? (The bad frame has been skipped.)
    pub fn is_recoverable(&self) -> bool {
        !matches!(self, FrameError::TooLong { .. })
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLong { len } => write!(
                f,
                "frame length {len} is over the limit of {MAX_FRAME_LEN} bytes (MAX_FRAME_LEN)"
            ),
            FrameError::Empty => write!(f, "frame length 0: a frame has at least its kind byte"),
            FrameError::UnknownKind(byte) => write!(f, "unknown frame kind 0x{byte:02x}"),
            FrameError::NotUtf8 { kind } => write!(f, "{kind} frame content is not valid UTF-8"),
        }
    }
}

impl std::error::Error for FrameError {}

// ANCHOR: decoder
/// Turns bytes, in whatever pieces they arrive, into frames.
///
/// Feed it with [`Decoder::extend`] (or [`Decoder::read_from`]), then call
/// [`Decoder::next_frame`] until it returns `Ok(None)`: "not a whole frame yet". Bytes of an
/// unfinished frame stay buffered for the next call.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
    /// Where the unread bytes start in `buf`: consumed frames are dropped lazily, in one
    /// `drain`, rather than shifting the buffer after every frame.
    start: usize,
}
// ANCHOR_END: decoder

impl Decoder {
    /// An empty decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes received from the peer.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.compact();
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received and not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    // ANCHOR: next_frame
    /// The next whole frame, `Ok(None)` if the buffer does not hold one yet, or an error.
    ///
    /// # Errors
    /// [`FrameError`]; see [`FrameError::is_recoverable`] for which ones end the stream.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        let unread = &self.buf[self.start..];
        let Some(prefix) = unread.first_chunk::<LEN_PREFIX>() else {
            return Ok(None); // Not even the length yet.
        };
        let len = u32::from_be_bytes(*prefix);
        // The check that matters: before waiting for (or reserving room for) `len` bytes.
        if len as usize > MAX_FRAME_LEN {
            return Err(FrameError::TooLong { len });
        }
        let len = len as usize;
        if unread.len() < LEN_PREFIX + len {
            return Ok(None); // The rest of this frame is still on its way.
        }
        let body = &unread[LEN_PREFIX..LEN_PREFIX + len];
        self.start += LEN_PREFIX + len; // Consumed, whatever its content turns out to be.
        let Some((&kind_byte, content)) = body.split_first() else {
            return Err(FrameError::Empty);
        };
        let kind = Kind::from_byte(kind_byte).ok_or(FrameError::UnknownKind(kind_byte))?;
        let text = std::str::from_utf8(content).map_err(|_| FrameError::NotUtf8 { kind })?;
        Ok(Some(Frame { kind, text: text.to_owned() }))
    }
    // ANCHOR_END: next_frame

    // ANCHOR: unfinished
    /// When the stream ends: `None` if it ended between frames, or `(have, want)` bytes of the
    /// frame it cut off (`want` is 4 while even the length was incomplete).
    pub fn unfinished(&self) -> Option<(usize, usize)> {
        let have = self.buffered();
        if have == 0 {
            return None;
        }
        let want = match self.buf[self.start..].first_chunk::<LEN_PREFIX>() {
            Some(prefix) => LEN_PREFIX + u32::from_be_bytes(*prefix) as usize,
            None => LEN_PREFIX,
        };
        Some((have, want))
    }
    // ANCHOR_END: unfinished

    /// Drops consumed bytes from the front of the buffer, and frees a buffer a burst made big.
    fn compact(&mut self) {
        if self.start == 0 {
            return;
        }
        self.buf.drain(..self.start);
        self.start = 0;
        if self.buf.is_empty() && self.buf.capacity() > 4 * READ_CHUNK {
            self.buf = Vec::new();
        }
    }

    /// One `recv` into the buffer: returns the byte count, 0 at end of stream. At most
    /// `READ_CHUNK` bytes, so the buffer never grows by more than what actually arrived.
    ///
    /// # Errors
    /// The socket's error, including `WouldBlock`/`TimedOut` from a non-blocking socket or a
    /// read timeout; the buffered bytes are kept.
    pub fn read_from(&mut self, reader: &mut impl Read) -> io::Result<usize> {
        self.compact();
        let old = self.buf.len();
        self.buf.resize(old + READ_CHUNK, 0);
        let result = reader.read(&mut self.buf[old..]);
        let got = *result.as_ref().unwrap_or(&0);
        self.buf.truncate(old + got);
        result
    }
}

/// Is `name` a valid nickname: 1 to [`MAX_NAME_LEN`] ASCII letters, digits, `-`, `_`, `.`?
/// (No spaces or colons, so `NAME: text` and `OLD NEW` split without ambiguity.)
pub fn valid_name(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hi_is_seven_bytes() {
        assert_eq!(Frame::new(Kind::Text, "hi").to_bytes(), [0, 0, 0, 3, 1, b'h', b'i']);
    }

    #[test]
    fn frames_split_anywhere_are_reassembled() {
        let mut wire = Frame::new(Kind::Join, "alice").to_bytes();
        wire.extend(Frame::new(Kind::Text, "héllo").to_bytes());
        let mut decoder = Decoder::new();
        let mut frames = Vec::new();
        for byte in &wire {
            decoder.extend(std::slice::from_ref(byte));
            while let Some(frame) = decoder.next_frame().unwrap_or(None) {
                frames.push(frame);
            }
        }
        assert_eq!(frames, [Frame::new(Kind::Join, "alice"), Frame::new(Kind::Text, "héllo")]);
        assert_eq!(decoder.unfinished(), None);
    }

    #[test]
    fn a_four_gib_length_is_refused_from_the_prefix_alone() {
        let mut decoder = Decoder::new();
        decoder.extend(&[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(decoder.next_frame(), Err(FrameError::TooLong { len: u32::MAX }));
        assert!(decoder.buf.capacity() < 1024, "nothing was reserved for the announced length");
    }

    #[test]
    fn bad_frames_are_skipped_and_the_stream_goes_on() {
        let mut decoder = Decoder::new();
        decoder.extend(&[0, 0, 0, 3, 1, 0xff, 0xfe]); // TEXT, not UTF-8
        decoder.extend(&[0, 0, 0, 1, 0x42]); // unknown kind
        decoder.extend(&[0, 0, 0, 0]); // empty
        decoder.extend(&Frame::new(Kind::Ping, "1").to_bytes());
        assert_eq!(decoder.next_frame(), Err(FrameError::NotUtf8 { kind: Kind::Text }));
        assert_eq!(decoder.next_frame(), Err(FrameError::UnknownKind(0x42)));
        assert_eq!(decoder.next_frame(), Err(FrameError::Empty));
        assert_eq!(decoder.next_frame(), Ok(Some(Frame::new(Kind::Ping, "1"))));
    }

    #[test]
    fn names() {
        assert!(valid_name("alice") && valid_name("bob_2.x-y"));
        assert!(!valid_name("") && !valid_name("a b") && !valid_name("a:b"));
        assert!(!valid_name(&"x".repeat(MAX_NAME_LEN + 1)));
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
    }
}
