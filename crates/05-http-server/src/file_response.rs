//! A regular file's response: `304` if the client's copy is current, `206` or `416` for a
//! range, else `200`; every one of them carrying the file's validators, `ETag` and
//! `Last-Modified`, which name this version of the file.
//!
//! The body, when there is one, goes out in one of two ways: a small one in the same `write`
//! as the head, a large one with `sendfile` after it (see [`crate::send`]).

use std::fs::{File, Metadata};
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use std::time::SystemTime;

use common::narrate;
use common::narrate::fd;
use common::step;
use httpdate::HttpDate;

use crate::deadline::SendDeadline;
use crate::exchange::Exchange;
use crate::files;
use crate::range::{RangeRequest, parse_range};
use crate::request::Head;
use crate::response::{Status, end_head, header, http_date, start_head};
use crate::send::SMALL_BODY;

impl Exchange<'_> {
    // ANCHOR: send_file
    /// A regular file, opened as `name` beneath the root: a `304`, a `416`, or the head and
    /// the bytes `head` asks for.
    pub fn send_file(
        &mut self,
        file: &File,
        meta: &Metadata,
        name: &str,
        head: &Head,
    ) -> io::Result<()> {
        let version = FileVersion::of(meta);
        if version.not_modified(head) {
            return self.send_not_modified(&version);
        }
        // `If-Range`: send the range only if the file is still the one the client has part
        // of; otherwise the whole (new) file.
        let range_applies = !head.range.is_empty()
            && (head.if_range.is_empty() || version.if_range_holds(&head.if_range));
        let (status, part) = match range_applies.then(|| parse_range(&head.range, version.len)) {
            Some(RangeRequest::Part { start, end }) => (Status::PARTIAL_CONTENT, start..end + 1),
            Some(RangeRequest::Unsatisfiable) => {
                let content_range = format!("bytes */{}", version.len);
                return self.send_error(
                    Status::RANGE_NOT_SATISFIABLE,
                    "The range asked for is not in the file.",
                    &[("Content-Range", &content_range)],
                );
            }
            Some(RangeRequest::Whole) | None => (Status::OK, 0..version.len),
        };
        self.start_file_head(status, name, &version, &part);
        if self.head_only || part.is_empty() {
            return self.write_out();
        }
        if part.end - part.start <= SMALL_BODY {
            return self.send_small_body(file, name, part);
        }
        self.send_large_body(file, part)
    }
    // ANCHOR_END: send_file

    // ANCHOR: not_modified
    /// `304 Not Modified`: a head without a body, naming the version the client holds.
    fn send_not_modified(&mut self, version: &FileVersion) -> io::Result<()> {
        self.status = Status::NOT_MODIFIED.code;
        start_head(self.out, Status::NOT_MODIFIED);
        version.headers(self.out);
        end_head(self.out, self.keep_alive, self.http10);
        self.write_out()
    }
    // ANCHOR_END: not_modified

    /// The head of a `200` or `206`: what the body is, how long, which version, and that
    /// ranges may be asked for.
    fn start_file_head(
        &mut self,
        status: Status,
        name: &str,
        version: &FileVersion,
        part: &Range<u64>,
    ) {
        self.status = status.code;
        start_head(self.out, status);
        let (mime, utf8) = files::content_type(std::path::Path::new(name));
        if utf8 {
            header(self.out, "Content-Type", format_args!("{mime}; charset=utf-8"));
        } else {
            header(self.out, "Content-Type", mime);
        }
        header(self.out, "Content-Length", part.end - part.start);
        version.headers(self.out);
        header(self.out, "Accept-Ranges", "bytes");
        if status == Status::PARTIAL_CONTENT {
            let last = part.end - 1;
            header(
                self.out,
                "Content-Range",
                format_args!("bytes {}-{last}/{}", part.start, version.len),
            );
        }
        end_head(self.out, self.keep_alive, self.http10);
    }

    // ANCHOR: small_body
    /// Head and body in one buffer, one write. A file that shrank since `fstat` is our
    /// problem, found before a byte is sent: a 500 instead of a short body.
    fn send_small_body(&mut self, mut file: &File, name: &str, part: Range<u64>) -> io::Result<()> {
        if part.start > 0 {
            file.seek(SeekFrom::Start(part.start))?;
        }
        let at = self.out.len();
        self.out.resize(at + (part.end - part.start) as usize, 0);
        if let Err(e) = file.read_exact(&mut self.out[at..]) {
            eprintln!("error: could not read {name}: {e}");
            return self.send_error(
                Status::INTERNAL_SERVER_ERROR,
                "The file could not be read.",
                &[],
            );
        }
        self.body_sent = part.end - part.start;
        self.write_out()
    }
    // ANCHOR_END: small_body

    // ANCHOR: large_body
    /// The head, then the file straight from the page cache to the socket, both under one
    /// deadline for the whole response.
    fn send_large_body(&mut self, file: &File, part: Range<u64>) -> io::Result<()> {
        let count = part.end - part.start;
        self.deadline = Some(SendDeadline::new(&self.shared.limits, self.out.len() as u64 + count));
        self.write_out()?;
        let n = self.shared.narrator;
        step!(
            n,
            self.stream,
            "sendfile({}, file, offset {}, {count} bytes)",
            fd(self.stream),
            part.start
        );
        let sent = self.send_file_range(file, part.start, count)?;
        narrate!(
            self.shared.narrator,
            self.stream,
            "sendfile({}, file, offset {}) -> {sent} bytes",
            fd(self.stream),
            part.start
        );
        if sent < count {
            // The file shrank after the head promised `count` bytes: the client would wait
            // for bytes that never come. Closing tells it the response is cut short.
            self.keep_alive = false;
        }
        Ok(())
    }
    // ANCHOR_END: large_body
}

/// This version of a file, as HTTP names it: its size, modification time and entity-tag.
struct FileVersion {
    len: u64,
    modified: Option<SystemTime>,
    last_modified: Option<HttpDate>,
    etag: Option<String>,
}

impl FileVersion {
    fn of(meta: &Metadata) -> Self {
        let len = meta.len();
        let modified = meta.modified().ok();
        Self {
            len,
            modified,
            last_modified: modified.map(http_date),
            etag: modified.map(|time| entity_tag(time, len)),
        }
    }

    // ANCHOR: conditional
    /// Does the client already hold this version? RFC 9110, 13.2.2: `If-None-Match`, when
    /// sent, decides alone; `If-Modified-Since` is looked at only without it (an ETag tells
    /// versions apart within one second, a date cannot).
    fn not_modified(&self, head: &Head) -> bool {
        if !head.if_none_match.is_empty() {
            none_match(&head.if_none_match, self.etag.as_deref())
        } else if let (Some(since), Some(modified)) = (head.if_modified_since, self.modified) {
            // HTTP dates have whole seconds: compare at that precision, or a file modified at
            // 08:05:00.300 would never match the `08:05:00` the client was given.
            whole_seconds(modified) <= whole_seconds(since)
        } else {
            false
        }
    }
    // ANCHOR_END: conditional

    /// `If-Range`: see [`if_range_holds`].
    fn if_range_holds(&self, value: &str) -> bool {
        if_range_holds(value, self.etag.as_deref(), self.last_modified.as_ref())
    }

    /// `ETag` and `Last-Modified`, on every `200`, `206` and `304` of a file.
    fn headers(&self, out: &mut Vec<u8>) {
        if let Some(tag) = &self.etag {
            header(out, "ETag", tag);
        }
        if let Some(date) = &self.last_modified {
            header(out, "Last-Modified", date);
        }
    }
}

// ANCHOR: etag
/// The file's strong entity-tag: its modification time, to the nanosecond, and its size, in
/// hex: `"187b3a9c1d2e4f00-c"`. nginx builds its ETag the same way, from the mtime in seconds;
/// nanoseconds tell apart two versions written within one second.
fn entity_tag(modified: std::time::SystemTime, len: u64) -> String {
    let nanos = modified.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("\"{nanos:x}-{len:x}\"")
}
// ANCHOR_END: etag

/// The entity-tags in an `If-None-Match` or `If-Range` value: `"a", W/"b"` gives `"a"` and
/// `W/"b"`. A quoted tag may hold a comma, so the list is not simply split at commas. Anything
/// malformed comes out as itself, up to the next comma, and matches no tag of ours.
fn entity_tags(list: &str) -> impl Iterator<Item = &str> {
    let mut rest = list;
    std::iter::from_fn(move || {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return None;
        }
        let opaque = if rest.starts_with("W/") { 2 } else { 0 };
        let end = match rest[opaque..].strip_prefix('"').and_then(|tag| tag.find('"')) {
            Some(close) => opaque + close + 2,
            None => rest.find(',').unwrap_or(rest.len()),
        };
        let (tag, after) = rest.split_at(end);
        rest = after;
        Some(tag)
    })
}

// ANCHOR: none_match
/// `If-None-Match`: does the client already hold this version? The weak comparison (RFC 9110,
/// 8.8.3.2): two tags match if their quoted parts are equal, `W/` or not. `*` matches any file
/// that exists.
fn none_match(list: &str, etag: Option<&str>) -> bool {
    if list.trim() == "*" {
        return true;
    }
    let Some(etag) = etag else { return false };
    let ours = etag.trim_start_matches("W/");
    entity_tags(list).any(|tag| tag.trim_start_matches("W/") == ours)
}
// ANCHOR_END: none_match

// ANCHOR: if_range
/// `If-Range`: is the part the client holds from this version of the file? An entity-tag
/// needs the strong comparison (a weak tag never matches: a range of a merely "equivalent"
/// file would splice two files together); a date must equal `Last-Modified`.
fn if_range_holds(value: &str, etag: Option<&str>, last_modified: Option<&impl ToString>) -> bool {
    let value = value.trim();
    if value.starts_with('"') || value.starts_with("W/") {
        !value.starts_with("W/") && etag == Some(value)
    } else {
        last_modified.is_some_and(|date| date.to_string() == value)
    }
}
// ANCHOR_END: if_range

/// Whole seconds since 1970, the precision of an HTTP date.
fn whole_seconds(time: std::time::SystemTime) -> u64 {
    time.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_tag_lists_are_read_as_lists() {
        let tags: Vec<_> = entity_tags(r#" "a" , W/"b,c",,"d" junk, "e""#).collect();
        assert_eq!(tags, [r#""a""#, r#"W/"b,c""#, r#""d""#, "junk", r#""e""#]);
        assert!(none_match(r#""x", W/"b,c""#, Some(r#""b,c""#)));
        assert!(!none_match(r#""x""#, Some(r#""b""#)));
        assert!(none_match("*", None));
        assert!(!none_match("junk", Some(r#""junk""#)));
    }
}
