//! Deciding what a request gets: an error, a redirect, a folder's listing, or a file.
//!
//! The order of the checks follows what a request can get wrong, cheapest first, so no file is
//! touched for a request that will be refused anyway:
//!
//! 1. *framing*: can we tell where this request ends (a body we will read or refuse)?
//! 2. *method*: `GET` and `HEAD` are served; other methods get 405 or 501;
//! 3. *path*: decoded and normalised ([`crate::files::relative_path`]);
//! 4. *file*: opened beneath the root, then a folder (redirect, `index.html`, listing) or a
//!    regular file ([`crate::file_response`]).

use std::fs::File;
use std::io;

use common::narrate;
use common::narrate::fd;
use common::step;

use crate::exchange::Exchange;
use crate::files::{self, PathError};
use crate::listing::listing;
use crate::request::{Head, RequestReader};
use crate::response::Status;

impl Exchange<'_> {
    // ANCHOR: dispatch
    /// Decides what the request gets, and sends it.
    pub fn dispatch(&mut self, reader: &mut RequestReader) -> io::Result<()> {
        // 1. Framing. If we cannot tell where the body ends, we cannot find the next request:
        //    answer and close.
        if let Some((status, detail)) = framing_error(&reader.head) {
            self.keep_alive = false;
            return self.send_error(status, detail, &[]);
        }
        // 2. Method, then the body: a small one is read and dropped, so the connection can go
        //    on; a large one is refused and the connection closed without reading it.
        let refusal = method_refusal(&reader.head.method);
        let body = reader.head.content_length.unwrap_or(0);
        if body > self.shared.limits.max_body {
            self.keep_alive = false;
            return match refusal {
                Some((status, detail)) => {
                    self.send_error(status, detail, &[("Allow", "GET, HEAD")])
                }
                None => self.send_error(
                    Status::CONTENT_TOO_LARGE,
                    "The request carries a body larger than this server reads.",
                    &[],
                ),
            };
        }
        reader.consume_head();
        if body > 0 {
            step!(
                self.shared.narrator,
                self.stream,
                "recv({}) of a {body}-byte body",
                fd(self.stream)
            );
            narrate!(
                self.shared.narrator,
                self.stream,
                "recv({}) -> {body} bytes of request body, dropped",
                fd(self.stream)
            );
            if reader.discard_body(self.stream, body).is_err() {
                self.keep_alive = false;
                return Ok(());
            }
        }
        if let Some((status, detail)) = refusal {
            return self.send_error(status, detail, &[("Allow", "GET, HEAD")]);
        }
        // 3. The path, then 4. the file system.
        self.serve_target(&reader.head)
    }
    // ANCHOR_END: dispatch

    // ANCHOR: path
    /// Steps 3 and 4: the request target made into a path beneath the root, and served.
    fn serve_target(&mut self, head: &Head) -> io::Result<()> {
        // Origin-form (`/a/b?q`), or absolute-form (`http://host/a/b?q`), which HTTP/1.1
        // servers must accept too.
        let Some((path, query)) = split_target(&head.target) else {
            return self.send_error(Status::BAD_REQUEST, "The request target is not a path.", &[]);
        };
        let relative = match files::relative_path(path) {
            Ok(relative) => relative,
            Err(PathError::Malformed(what)) => {
                let detail = format!("The path contains {what}.");
                return self.send_error(Status::BAD_REQUEST, &detail, &[]);
            }
            Err(PathError::Escapes) => {
                return self.send_error(
                    Status::FORBIDDEN,
                    "The path leads outside the served folder.",
                    &[],
                );
            }
        };
        self.serve_path(path, query, &relative, head)
    }
    // ANCHOR_END: path

    // ANCHOR: serve_path
    /// Step 4: the file system. What `relative` names, opened beneath the root: a regular
    /// file, a folder (whose address must end with a slash), or something we do not serve.
    fn serve_path(
        &mut self,
        path: &str,
        query: Option<&str>,
        relative: &str,
        head: &Head,
    ) -> io::Result<()> {
        let root = &self.shared.root;
        let file = match root.open_file(relative) {
            Ok(file) => file,
            Err(e) => return self.send_open_error(&e),
        };
        let meta = match file.metadata() {
            Ok(meta) => meta,
            Err(e) => return self.send_open_error(&e),
        };
        let folder_form = files::names_a_folder(path);
        if meta.is_file() {
            if folder_form {
                // `/a.txt/` asks for a folder named a.txt; the file is not that.
                return self.send_error(Status::NOT_FOUND, "Nothing here.", &[]);
            }
            return self.send_file(&file, &meta, relative, head);
        }
        if !meta.is_dir() {
            // A FIFO, a socket, a device: reading one could block forever or never end.
            return self.send_error(Status::FORBIDDEN, "That is not a regular file.", &[]);
        }
        if !folder_form {
            // Relative links in the listing (`a.txt`) resolve against the URL's folder, which
            // needs the slash: `/docs` + `a.txt` would be `/a.txt`. The Location is built from
            // the normalised path, never from the request's text: see `folder_location`.
            let mut location = files::folder_location(relative);
            if let Some(q) = query {
                location.push('?');
                location.push_str(q);
            }
            return self.send_error(
                Status::MOVED_PERMANENTLY,
                "This is a folder: its address ends with a slash.",
                &[("Location", &location)],
            );
        }
        self.serve_folder(file, relative, head)
    }
    // ANCHOR_END: serve_path

    /// A folder, opened beneath the root as `dir`: its `index.html` if it has one, otherwise
    /// its listing.
    fn serve_folder(&mut self, dir: File, relative: &str, head: &Head) -> io::Result<()> {
        let root = &self.shared.root;
        let index = if relative.is_empty() {
            "index.html".to_owned()
        } else {
            format!("{relative}/index.html")
        };
        if let Ok(file) = root.open_file(&index) {
            if let Ok(meta) = file.metadata() {
                if meta.is_file() {
                    return self.send_file(&file, &meta, &index, head);
                }
            }
        }
        let shown = if relative.is_empty() { "/".to_owned() } else { format!("/{relative}/") };
        // Listed by descriptor, the folder as opened beneath the root (see `listing.rs`).
        match listing(root, dir, relative, &shown) {
            Ok(html) => self.send_body(Status::OK, html.as_bytes(), &[]),
            Err(e) => self.send_open_error(&e),
        }
    }

    /// A file that could not be opened: 403, 404, or (for anything unexpected) 500 and a
    /// line on stderr.
    fn send_open_error(&mut self, err: &io::Error) -> io::Result<()> {
        narrate!(self.shared.narrator, "open -> {err}");
        match err.kind() {
            io::ErrorKind::PermissionDenied => {
                self.send_error(Status::FORBIDDEN, "You may not read that.", &[])
            }
            io::ErrorKind::NotFound => self.send_error(Status::NOT_FOUND, "Nothing here.", &[]),
            _ if is_lookup_error(err) => self.send_error(Status::NOT_FOUND, "Nothing here.", &[]),
            _ => {
                eprintln!("error: could not open a requested file: {err}");
                self.send_error(Status::INTERNAL_SERVER_ERROR, "The file could not be read.", &[])
            }
        }
    }
}

// ANCHOR: framing
/// Step 1: can we tell where this request ends? If not, the status to answer with, after
/// which the connection closes.
fn framing_error(head: &Head) -> Option<(Status, &'static str)> {
    // Two lengths that disagree, or a length next to chunks: servers and proxies that resolve
    // them differently are how request smuggling works.
    if head.bad_length || (head.transfer_encoding && head.content_length.is_some()) {
        return Some((Status::BAD_REQUEST, "The request's body length is unclear."));
    }
    if head.transfer_encoding {
        return Some((
            Status::NOT_IMPLEMENTED,
            "Request bodies sent with Transfer-Encoding are not supported.",
        ));
    }
    if head.minor_version == 1 && head.hosts != 1 {
        // HTTP/1.1 requires exactly one Host header (RFC 9112, 3.2).
        return Some((Status::BAD_REQUEST, "An HTTP/1.1 request needs one Host header."));
    }
    None
}

/// Step 2: `GET` and `HEAD` are served (`None`); the other methods HTTP defines get 405, with
/// `Allow` saying what works; a method nobody defined gets 501.
fn method_refusal(method: &str) -> Option<(Status, &'static str)> {
    match method {
        "GET" | "HEAD" => None,
        "POST" | "PUT" | "DELETE" | "PATCH" | "OPTIONS" | "TRACE" | "CONNECT" => {
            Some((Status::METHOD_NOT_ALLOWED, "This server only reads files: GET and HEAD."))
        }
        _ => Some((Status::NOT_IMPLEMENTED, "This server does not know that method.")),
    }
}
// ANCHOR_END: framing

/// Splits a request target into its path and query; `None` for a target that is not a path.
fn split_target(target: &str) -> Option<(&str, Option<&str>)> {
    let path = if target.starts_with('/') {
        target
    } else {
        // absolute-form: `http://host:port/path?q`. The host part is not ours to check: we
        // serve one folder, whatever name the client used for us.
        let rest = target.strip_prefix("http://").or_else(|| target.strip_prefix("https://"))?;
        match rest.find('/') {
            Some(slash) => &rest[slash..],
            None => "/",
        }
    };
    let path = path.split('#').next().unwrap_or(path);
    Some(match path.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path, None),
    })
}

/// A lookup that failed on the path itself (a component that is a file, a name too long, a
/// symlink loop): as good as "not found" to the client.
///
/// By name, never by number: error numbers differ between systems (Linux's 62 is ETIME,
/// macOS's is ELOOP), and a number matched by hand turns unrelated errors into 404s.
#[cfg(target_os = "linux")]
fn is_lookup_error(err: &io::Error) -> bool {
    use rustix::io::Errno;
    matches!(Errno::from_io_error(err), Some(Errno::NOTDIR | Errno::NAMETOOLONG | Errno::LOOP))
}

/// Elsewhere, std's names. Only ENOTDIR's is within our minimum Rust (ENAMETOOLONG's came in
/// 1.87, ELOOP's is not stable yet), so there the other two are a 500.
#[cfg(not(target_os = "linux"))]
fn is_lookup_error(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::NotADirectory
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split_into_path_and_query() {
        assert_eq!(split_target("/a/b?x=1"), Some(("/a/b", Some("x=1"))));
        assert_eq!(split_target("/a#frag"), Some(("/a", None)));
        assert_eq!(split_target("http://example.com:80/x?y"), Some(("/x", Some("y"))));
        assert_eq!(split_target("http://example.com"), Some(("/", None)));
        assert_eq!(split_target("*"), None);
        assert_eq!(split_target("a/b"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn only_lookup_errors_count_as_not_found() {
        use rustix::io::Errno;
        for errno in [Errno::NOTDIR, Errno::NAMETOOLONG, Errno::LOOP] {
            assert!(is_lookup_error(&errno.into()), "{errno:?}");
        }
        // ETIME (62) and ENOSR (63) on Linux have nothing to do with a path: a 500, not a 404.
        for errno in [Errno::TIME, Errno::NOSR, Errno::IO, Errno::NOMEM] {
            assert!(!is_lookup_error(&errno.into()), "{errno:?}");
        }
    }
}
