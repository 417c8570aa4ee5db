//! `Range: bytes=...`: one piece of a file, so a video can seek and a download can resume.
//!
//! Three forms name one range of a file of `len` bytes (both ends inclusive):
//!
//! | header              | bytes sent          |
//! |---------------------|---------------------|
//! | `bytes=0-99`        | the first 100       |
//! | `bytes=100-`        | from 100 to the end |
//! | `bytes=-100`        | the last 100        |
//!
//! A satisfiable range is answered with `206 Partial Content` and `Content-Range: bytes
//! 0-99/1234`; a range that starts past the end with `416` and `Content-Range: bytes */1234`.
//! Several ranges at once (`bytes=0-1,5-6`) need a multipart body; a server may ignore a
//! `Range` header it does not want to honour, so those get the whole file (200), as nginx
//! does for ranges it will not combine.

/// What a `Range` header asks of a file of a given length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// Ignore the header: send the whole file (not `bytes=`, malformed, or several ranges).
    Whole,
    /// Send bytes `start..=end`.
    Part {
        /// First byte.
        start: u64,
        /// Last byte, inclusive.
        end: u64,
    },
    /// Nothing of the file is in the range: 416.
    Unsatisfiable,
}

// ANCHOR: parse_range
/// Reads a `Range` header value against a file of `len` bytes.
pub fn parse_range(value: &str, len: u64) -> RangeRequest {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeRequest::Whole;
    };
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Whole;
    };
    let number = |text: &str| -> Option<u64> {
        let text = text.trim();
        // Digits only: `u64::from_str` would also take a leading `+`.
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse().ok()
    };
    match (first.trim().is_empty(), last.trim().is_empty()) {
        // `bytes=-N`: the last N bytes (all of them if N >= len).
        (true, false) => match number(last) {
            Some(0) => RangeRequest::Unsatisfiable,
            Some(_) if len == 0 => RangeRequest::Unsatisfiable,
            Some(n) => RangeRequest::Part { start: len.saturating_sub(n), end: len - 1 },
            None => RangeRequest::Whole,
        },
        // `bytes=N-`: from N to the end.
        (false, true) => match number(first) {
            Some(start) if start < len => RangeRequest::Part { start, end: len - 1 },
            Some(_) => RangeRequest::Unsatisfiable,
            None => RangeRequest::Whole,
        },
        // `bytes=N-M`: an end past the file is cut to the file (RFC 9110, 14.1.2).
        (false, false) => match (number(first), number(last)) {
            (Some(start), Some(end)) if start <= end => {
                if start < len {
                    RangeRequest::Part { start, end: end.min(len - 1) }
                } else {
                    RangeRequest::Unsatisfiable
                }
            }
            _ => RangeRequest::Whole,
        },
        (true, true) => RangeRequest::Whole,
    }
}
// ANCHOR_END: parse_range

#[cfg(test)]
mod tests {
    use super::*;
    use RangeRequest::*;

    #[test]
    fn the_three_forms() {
        assert_eq!(parse_range("bytes=0-99", 1000), Part { start: 0, end: 99 });
        assert_eq!(parse_range("bytes=900-", 1000), Part { start: 900, end: 999 });
        assert_eq!(parse_range("bytes=-100", 1000), Part { start: 900, end: 999 });
        assert_eq!(parse_range("bytes=-5000", 1000), Part { start: 0, end: 999 });
        assert_eq!(parse_range("bytes=990-5000", 1000), Part { start: 990, end: 999 });
    }

    #[test]
    fn past_the_end_is_unsatisfiable() {
        assert_eq!(parse_range("bytes=1000-", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=1000-2000", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 0), Unsatisfiable);
    }

    #[test]
    fn anything_else_means_the_whole_file() {
        for value in [
            "items=0-1",
            "bytes=5-1",
            "bytes=0-1,3-4",
            "bytes=a-b",
            "bytes=+1-2",
            "bytes=-",
            "bytes=1",
        ] {
            assert_eq!(parse_range(value, 1000), Whole, "{value}");
        }
    }
}
