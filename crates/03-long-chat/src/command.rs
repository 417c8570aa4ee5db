//! What a typed line means: `/nick NAME`, `/who`, `/quit`, or words to say.
//!
//! The client's prompt and the one-to-one operator's prompt read lines the same way, so the
//! parser lives here, below both: neither side of the chat has to import the other.

use crate::frame::{Frame, Kind};

// ANCHOR: commands
/// What a typed line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Say this to the room.
    Say(String),
    /// `/nick NAME`: change name.
    Nick(String),
    /// `/who`: who is here?
    Who,
    /// `/quit`, or `exit` alone on a line (the tutorial's word): leave.
    Quit,
    /// An empty line: nothing.
    Nothing,
    /// A `/word` we do not know.
    Unknown(String),
}
// ANCHOR_END: commands

// ANCHOR: parse
/// Reads a typed line as a [`Command`].
pub fn parse_line(line: &str) -> Command {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return Command::Nothing;
    }
    if trimmed == "exit" || trimmed == "/quit" {
        return Command::Quit;
    }
    if trimmed == "/who" {
        return Command::Who;
    }
    if let Some(name) = trimmed.strip_prefix("/nick ") {
        return Command::Nick(name.trim().to_owned());
    }
    if trimmed.starts_with('/') {
        return Command::Unknown(trimmed.to_owned());
    }
    Command::Say(line.to_owned())
}
// ANCHOR_END: parse

/// The frame a command sends, if any.
pub fn command_frame(command: &Command) -> Option<Frame> {
    match command {
        Command::Say(text) => Some(Frame::new(Kind::Text, text.clone())),
        Command::Nick(name) => Some(Frame::new(Kind::Nick, name.clone())),
        Command::Who => Some(Frame::new(Kind::List, "")),
        Command::Quit | Command::Nothing | Command::Unknown(_) => None,
    }
}
