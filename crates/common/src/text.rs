//! Small text helpers: byte sizes in and out, bytes shown the way Python shows them, and a
//! stranger's text made safe to print on a terminal or in a log.

use std::fmt::Write as _;

/// Parses a byte count such as `4096`, `64K`, `10M`, `1G` or `1GiB`.
///
/// Suffixes are binary, as `dd` and `curl` read them: `K` = 1024, `M` = 1024², `G` = 1024³;
/// `KiB`/`KB` and friends mean the same. Meant for clap's `value_parser`.
///
/// # Errors
/// A message naming what was wrong, for clap to print.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits_end = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, suffix) = text.split_at(digits_end);
    let number: u64 = number.parse().map_err(|_| {
        format!("`{text}` is not a size: expected a number like 4096, 64K, 10M, 1G")
    })?;
    let multiplier: u64 = match suffix.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        "T" | "TB" | "TIB" => 1 << 40,
        _ => return Err(format!("unknown size suffix `{suffix}`: use K, M, G or T")),
    };
    number.checked_mul(multiplier).ok_or_else(|| format!("`{text}` is too large"))
}

/// An exact byte count in words, for limits in messages: `1 byte`, `65535 bytes`, `64 KiB`,
/// `16 MiB` (a binary unit only where it is exact, so no limit is misquoted by rounding).
pub fn exact_bytes(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    match UNITS.iter().find(|(unit, _)| bytes >= *unit && bytes % unit == 0) {
        Some((unit, name)) => format!("{} {name}", bytes / unit),
        None => plural(bytes, "byte"),
    }
}

/// `1 connection`, `2 connections`: a count and its noun, with the noun's `s` where English
/// wants it (regular nouns only, which is all our summaries use).
pub fn plural(n: u64, noun: &str) -> String {
    if n == 1 { format!("{n} {noun}") } else { format!("{n} {noun}s") }
}

/// A byte count for people: `512 B`, `1.5 KiB`, `100.0 MiB`, `1.0 GiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Renders bytes the way Python's `repr(bytes)` does: `b'Hello, world'`, `b'tab\there'`,
/// `b'\x00\xff'`, so the output matches what the tutorial's programs print.
pub fn py_bytes(data: &[u8]) -> String {
    // Python picks double quotes only when the bytes hold a ' and no ".
    let quote = if data.contains(&b'\'') && !data.contains(&b'"') { '"' } else { '\'' };
    let mut out = String::with_capacity(data.len() + 3);
    out.push('b');
    out.push(quote);
    for &byte in data {
        match byte {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            _ if byte == quote as u8 => {
                out.push('\\');
                out.push(quote);
            }
            0x20..=0x7e => out.push(byte as char),
            _ => {
                let _ = write!(out, "\\x{byte:02x}");
            }
        }
    }
    out.push(quote);
    out
}

/// Like [`py_bytes`], but shows at most `max` bytes, then how long the whole thing was:
/// `b'xxxx'... (65507 bytes)`. For printing data whose size a peer chooses.
pub fn py_bytes_preview(data: &[u8], max: usize) -> String {
    if data.len() <= max {
        py_bytes(data)
    } else {
        format!("{}... ({} bytes)", py_bytes(&data[..max]), data.len())
    }
}

// ANCHOR: escape
/// `text` with every control character written out as an escape, so that text from the network
/// can be printed on a terminal or written to a log as it is, and can do nothing but be read.
///
/// A terminal obeys what it prints: `ESC ]0;...BEL` retitles the window, `ESC [2J` clears the
/// screen, `\r` and `\n` start a line that can pose as the program's own (`* eve joined`), and
/// Unicode's bidirectional overrides make text display in another order than it is stored.
/// All of those become visible escapes: `\x1b`, `\r`, `\n`, `\t`, `\u{202e}`. Printable
/// text, accents and all (`café`, `日本語`, `C:\temp`), is kept as it is: someone who types
/// `\x1b` gets those four harmless characters shown.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // C0 controls (ESC, BEL, backspace, ...) and DEL: one byte each.
            '\0'..='\x1f' | '\x7f' => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            // C1 controls (U+0080-U+009F: some terminals read U+009B as ESC [) and the
            // bidirectional embeddings, overrides and isolates.
            '\u{80}'..='\u{9f}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}' => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            _ => out.push(c),
        }
    }
    out
}
// ANCHOR_END: escape

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("10M"), Ok(10 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("1gib"), Ok(1 << 30));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("10Q").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(13), "13 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(100 << 20), "100.0 MiB");
    }

    #[test]
    fn bytes_render_like_python_repr() {
        assert_eq!(py_bytes(b"Hello, world"), "b'Hello, world'");
        assert_eq!(py_bytes(b"a\tb\nc\\"), "b'a\\tb\\nc\\\\'");
        assert_eq!(py_bytes(b"\x00\xff"), "b'\\x00\\xff'");
        assert_eq!(py_bytes(b"it's"), "b\"it's\"");
        assert_eq!(py_bytes(b"'\""), "b'\\'\"'");
    }

    #[test]
    fn control_characters_are_escaped_and_text_is_kept() {
        assert_eq!(escape_controls("café 日本語"), "café 日本語");
        assert_eq!(escape_controls("\x1b]0;owned\x07\x1b[2J"), "\\x1b]0;owned\\x07\\x1b[2J");
        assert_eq!(escape_controls("hi\n* eve joined\r"), "hi\\n* eve joined\\r");
        assert_eq!(escape_controls("C:\\temp"), "C:\\temp");
        assert_eq!(escape_controls("\u{9b}31m \u{202e}txt.exe"), "\\u{9b}31m \\u{202e}txt.exe");
        assert_eq!(escape_controls("\x7f\0"), "\\x7f\\x00");
    }

    #[test]
    fn previews_cut_long_data_and_say_its_length() {
        assert_eq!(py_bytes_preview(b"short", 8), "b'short'");
        assert_eq!(py_bytes_preview(b"0123456789", 4), "b'0123'... (10 bytes)");
    }
}
