//! How a request path becomes a file, safely: decoded, normalised, and opened beneath the root.
//!
//! A URL path is text from a stranger. Three steps turn it into a file, and each one closes a
//! door that servers have left open in the past:
//!
//! 1. **Decode** the `%XX` escapes, rejecting what has no business in a file path: a `%2F`
//!    (an encoded `/`, which would smuggle a separator past step 2), a backslash (a
//!    separator on Windows), a NUL byte (which ends a C string early), bad escapes, and bytes
//!    that are not UTF-8.
//! 2. **Normalise** the segments: drop `.` and empty ones, let `..` remove the segment before
//!    it, and refuse a `..` that would climb above the root. Decoding comes *first*, so
//!    `%2e%2e` is seen as the `..` it is.
//! 3. **Open beneath the root**. On Linux, `openat2(root, path, RESOLVE_BENEATH)` makes the
//!    kernel refuse any path that leaves the root while it resolves it, symlinks included, in
//!    the same call that opens the file (no gap between a check and the open for someone to
//!    swap a symlink in). What was checked is what is used: a file is sent from that
//!    descriptor and a folder is listed from it (`listing.rs`), never looked up by path
//!    again.
//!    (A folder's `index.html` is a new request for a path, opened beneath the root the same
//!    way.) Elsewhere the canonical path (`realpath`) is compared with the root, and the gap
//!    remains.
//!    `--follow-symlinks` opens by plain path instead, as Python's http.server always does.

use std::fmt::Write as _;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Why a request path was refused before the file system was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// Not a path we will decode (bad escape, `%2F`, backslash, NUL, not UTF-8): 400.
    Malformed(&'static str),
    /// A `..` that climbs above the root: 403.
    Escapes,
}

// ANCHOR: normalise
/// Percent-decodes a URL path (without its query) and normalises it into a path relative to
/// the root: `"/a/./b/../c%20d"` becomes `"a/c d"`; `"/"` becomes `""`.
///
/// # Errors
/// [`PathError`] when the path is malformed or climbs above the root.
pub fn relative_path(url_path: &str) -> Result<String, PathError> {
    let decoded = percent_decode(url_path)?;
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                // Climbing above the root is the classic traversal attack (`/../etc/passwd`).
                if segments.pop().is_none() {
                    return Err(PathError::Escapes);
                }
            }
            name => segments.push(name),
        }
    }
    Ok(segments.join("/"))
}
// ANCHOR_END: normalise

/// Does `url_path` name a folder: does its last segment, once decoded, end in `/`, `.` or `..`?
/// `/a.txt/`, `/a.txt/.` and `/a.txt/x/..` all normalise to `a.txt`, but each asks for a
/// folder, and a file is not one: they get 404, as nginx answers, and never the file.
pub fn names_a_folder(url_path: &str) -> bool {
    let decoded = percent_decode(url_path).unwrap_or_default();
    matches!(decoded.rsplit('/').next(), None | Some("" | "." | ".."))
}

// ANCHOR: folder_location
/// The address of the folder `relative` (as [`relative_path`] returns it), with its slash:
/// `a/b c` becomes `/a/b%20c/`, built from the normalised segments and never from the request
/// text. So it always starts with exactly one `/` and names a path on *this* host: a target
/// like `//evil.example` normalises to `evil.example`, and its redirect is `/evil.example/`,
/// not the protocol-relative `//evil.example/` that a browser would follow to another host.
pub fn folder_location(relative: &str) -> String {
    let mut location = String::with_capacity(relative.len() + 2);
    for segment in relative.split('/').filter(|s| !s.is_empty()) {
        location.push('/');
        location.push_str(&percent_encode(segment));
    }
    location.push('/');
    location
}
// ANCHOR_END: folder_location

// ANCHOR: percent_decode
/// Decodes `%XX` escapes. An escaped `/` is refused: after decoding it would be a separator
/// that step 2 never saw as one.
fn percent_decode(text: &str) -> Result<String, PathError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = match bytes[i] {
            b'%' => {
                let hex =
                    bytes.get(i + 1..i + 3).ok_or(PathError::Malformed("a cut-off % escape"))?;
                let value = std::str::from_utf8(hex)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or(PathError::Malformed("a % escape that is not two hex digits"))?;
                if value == b'/' {
                    return Err(PathError::Malformed("an encoded slash (%2F)"));
                }
                i += 3;
                value
            }
            other => {
                i += 1;
                other
            }
        };
        match byte {
            0 => return Err(PathError::Malformed("a NUL byte")),
            b'\\' => return Err(PathError::Malformed("a backslash")),
            _ => out.push(byte),
        }
    }
    String::from_utf8(out).map_err(|_| PathError::Malformed("bytes that are not UTF-8"))
}
// ANCHOR_END: percent_decode

/// Percent-encodes a file name for a link: everything but letters, digits and `-._~` (the
/// characters a URL never needs to escape).
pub fn percent_encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The served folder: where every path starts, and how files are opened beneath it.
#[derive(Debug)]
pub struct Root {
    /// The folder as given, made absolute and canonical.
    path: PathBuf,
    /// The folder, opened once: `openat2` resolves every request relative to it.
    #[cfg(target_os = "linux")]
    dir: File,
    /// `--follow-symlinks`: open by plain path, as Python's http.server does.
    follow_symlinks: bool,
}

impl Root {
    /// Opens the served folder.
    ///
    /// # Errors
    /// When `dir` does not exist or is not a folder.
    pub fn open(dir: &Path, follow_symlinks: bool) -> io::Result<Self> {
        let path = std::fs::canonicalize(dir)?;
        if !path.is_dir() {
            return Err(io::Error::new(io::ErrorKind::NotADirectory, "not a folder"));
        }
        Ok(Self {
            #[cfg(target_os = "linux")]
            dir: File::open(&path)?,
            path,
            follow_symlinks,
        })
    }

    /// The folder's canonical path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `relative` (as [`relative_path`] returns it) on disk.
    pub fn join(&self, relative: &str) -> PathBuf {
        self.path.join(relative)
    }

    // ANCHOR: open_beneath
    /// Opens `relative` for reading, refusing (with `PermissionDenied`) a file whose real
    /// path lies outside the root, unless symlinks are followed.
    ///
    /// `O_NONBLOCK` keeps a named pipe (FIFO) in the folder from blocking the open until a
    /// writer comes along; it changes nothing for regular files, which we check for next.
    ///
    /// # Errors
    /// `NotFound`, `PermissionDenied` (outside the root, or no permission), and the like.
    pub fn open_file(&self, relative: &str) -> io::Result<File> {
        let relative = if relative.is_empty() { "." } else { relative };
        if self.follow_symlinks {
            return open_nonblocking(&self.path.join(relative));
        }
        #[cfg(target_os = "linux")]
        {
            use rustix::fs::{Mode, OFlags, ResolveFlags, openat2};
            let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK;
            // RESOLVE_BENEATH: every step of the lookup, `..` and symlinks included, must stay
            // beneath `dir`, or the call fails with EXDEV. The kernel checks while it walks.
            match openat2(&self.dir, relative, flags, Mode::empty(), ResolveFlags::BENEATH) {
                Ok(fd) => return Ok(File::from(fd)),
                Err(rustix::io::Errno::XDEV) => return Err(outside_root()),
                // openat2 is Linux 5.6+, and some sandboxes filter it: check paths instead.
                Err(rustix::io::Errno::NOSYS | rustix::io::Errno::PERM) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.open_checked(relative)
    }
    // ANCHOR_END: open_beneath

    /// The portable way: resolve every symlink (`realpath`), then compare with the root. A
    /// symlink swapped in between the check and the open could still win the race, which is
    /// why Linux uses `openat2` instead.
    fn open_checked(&self, relative: &str) -> io::Result<File> {
        let real = std::fs::canonicalize(self.path.join(relative))?;
        if !real.starts_with(&self.path) {
            return Err(outside_root());
        }
        open_nonblocking(&real)
    }
}

fn outside_root() -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, "the real path is outside the served folder")
}

fn open_nonblocking(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK: see `open_file`. The value differs between systems, so it is spelled out.
        #[cfg(target_os = "linux")]
        const O_NONBLOCK: i32 = 0o4000;
        #[cfg(not(target_os = "linux"))]
        const O_NONBLOCK: i32 = 0x0004;
        options.custom_flags(O_NONBLOCK);
    }
    options.open(path)
}

/// `Content-Type` for a file, from its extension, and whether to add `; charset=utf-8`.
///
/// Browsers guess the encoding of text without a charset, and often guess wrong; UTF-8 is what
/// a student's files are in. Unknown extensions are `application/octet-stream` ("just bytes"),
/// which a browser downloads instead of displaying.
pub fn content_type(path: &Path) -> (&'static str, bool) {
    let mime = mime_guess::from_path(path).first_raw().unwrap_or("application/octet-stream");
    let text = mime.starts_with("text/")
        || matches!(mime, "application/javascript" | "application/json" | "image/svg+xml");
    (mime, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_decoded_then_normalised() {
        assert_eq!(relative_path("/"), Ok(String::new()));
        assert_eq!(relative_path("/a/./b/../c%20d"), Ok("a/c d".into()));
        assert_eq!(relative_path("//a//b/"), Ok("a/b".into()));
        assert_eq!(relative_path("/caf%C3%A9.txt"), Ok("café.txt".into()));
        assert_eq!(relative_path("/a/.."), Ok(String::new()));
    }

    #[test]
    fn every_spelling_of_dot_dot_that_climbs_is_refused() {
        for path in ["/..", "/../etc/passwd", "/a/../../b", "/%2e%2e/x", "/%2E%2E/x", "/.%2e/x"] {
            assert_eq!(relative_path(path), Err(PathError::Escapes), "{path}");
        }
    }

    #[test]
    fn separators_and_nul_smuggled_in_escapes_are_malformed() {
        for path in [
            "/a%2fb",
            "/a%2F..%2F..%2Fetc",
            "/a\\..\\b",
            "/a%5c..",
            "/a%00.txt",
            "/%zz",
            "/%4",
            "/%ff",
        ] {
            assert!(matches!(relative_path(path), Err(PathError::Malformed(_))), "{path}");
        }
    }

    #[test]
    fn folder_locations_name_this_host() {
        assert_eq!(folder_location(""), "/");
        assert_eq!(folder_location("a/b c"), "/a/b%20c/");
        assert_eq!(folder_location(&relative_path("//evil.example").unwrap()), "/evil.example/");
    }

    #[test]
    fn a_trailing_slash_dot_or_dot_dot_names_a_folder() {
        for path in ["/", "/a.txt/", "/a.txt/.", "/a.txt/x/..", "/a.txt/%2e", "/a.txt/x/%2E%2e"] {
            assert!(names_a_folder(path), "{path}");
        }
        for path in ["/a.txt", "/a/b.txt", "/.hidden", "/..a"] {
            assert!(!names_a_folder(path), "{path}");
        }
    }

    #[test]
    fn names_are_percent_encoded_for_links() {
        assert_eq!(percent_encode("a b#?%/é"), "a%20b%23%3F%25%2F%C3%A9");
    }

    #[test]
    fn text_types_get_a_charset() {
        assert_eq!(content_type(Path::new("a.html")), ("text/html", true));
        assert_eq!(content_type(Path::new("a.png")), ("image/png", false));
        assert_eq!(content_type(Path::new("a.unknownext")), ("application/octet-stream", false));
    }
}
