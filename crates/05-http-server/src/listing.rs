//! A folder's listing: the HTML page `serve` shows for a folder without an `index.html`.
//!
//! The names in it come from whoever could write to the folder, so each is HTML-escaped where
//! it is shown (a file named `<script>` shows as text) and percent-encoded in its link. The
//! folder is read from the descriptor that was opened, and so checked, beneath the root
//! ([`crate::files::Root::open_file`]), never looked up by its path a second time.

use std::fmt::Write as _;
use std::fs::File;
use std::io;
use std::time::SystemTime;

use crate::files::{Root, percent_encode};

/// The most entries a listing shows: a folder with a million files would otherwise become a
/// response of a hundred megabytes, built in memory.
pub const MAX_LISTING_ENTRIES: usize = 10_000;

// ANCHOR: listing
/// The HTML listing of the folder `dir`, opened (and so checked) as `relative` beneath the
/// root, shown at `url_path` (decoded, with its trailing slash). Names are HTML-escaped where
/// shown and percent-encoded in links.
///
/// The listing reads the descriptor `dir`, not the path `relative` a second time: between the
/// check and a second lookup by path, someone could swap a symlink into the path and have a
/// folder outside the root listed. A descriptor names the folder itself, whatever happens to
/// the names that led to it.
///
/// # Errors
/// When the folder cannot be read.
pub fn listing(root: &Root, dir: File, relative: &str, url_path: &str) -> io::Result<String> {
    let (mut entries, more) = read_entries(root, dir, relative)?;
    // Case-insensitive, as Python's http.server and most file browsers sort.
    entries.sort_by(|a, b| {
        a.name.to_lowercase().cmp(&b.name.to_lowercase()).then_with(|| a.name.cmp(&b.name))
    });

    let title = format!("Index of {}", html_escape(url_path));
    let mut html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title>\n\
         <style>body{{font-family:sans-serif;margin:2em}}td{{padding:0 1.5em 0 0}}\
         td.size{{text-align:right}}</style></head>\n<body><h1>{title}</h1>\n<table>\n\
         <tr><th>Name</th><th>Size</th><th>Last modified (UTC)</th></tr>\n"
    );
    if url_path != "/" {
        html.push_str("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
    }
    for entry in &entries {
        let slash = if entry.is_dir { "/" } else { "" };
        let mark = match (entry.is_dir, entry.size) {
            (true, _) => "/",
            (false, None) => "@",
            (false, Some(_)) => "",
        };
        let size = match (entry.is_dir, entry.size) {
            (false, Some(size)) => size.to_string(),
            _ => "-".to_owned(),
        };
        let modified = entry.modified.map(httpdate::fmt_http_date).unwrap_or_default();
        let _ = writeln!(
            html,
            "<tr><td><a href=\"{href}{slash}\">{name}{mark}</a></td>\
             <td class=\"size\">{size}</td><td>{modified}</td></tr>",
            href = percent_encode(&entry.name),
            name = html_escape(&entry.name),
        );
    }
    html.push_str("</table>\n");
    if more > 0 {
        let _ =
            writeln!(html, "<p>... and {more} more (only {MAX_LISTING_ENTRIES} are listed)</p>");
    }
    html.push_str("</body></html>\n");
    Ok(html)
}
// ANCHOR_END: listing

/// One line of the listing.
struct Entry {
    name: String,
    is_dir: bool,
    /// `None` for a symlink that leads nowhere we serve.
    size: Option<u64>,
    modified: Option<SystemTime>,
}

/// The folder's entries, read from its descriptor: `getdents64` on `dir`, and `fstatat`
/// relative to `dir` for each name (without following a symlink). At most
/// [`MAX_LISTING_ENTRIES`]; the second number counts the rest.
#[cfg(target_os = "linux")]
fn read_entries(root: &Root, dir: File, relative: &str) -> io::Result<(Vec<Entry>, usize)> {
    use rustix::fs::{AtFlags, Dir, FileType, statat};
    // `Dir::read_from` opens "." relative to the descriptor: the same folder, not a path.
    let names = Dir::read_from(&dir)?;
    let mut entries = Vec::new();
    let mut more = 0usize;
    for entry in names {
        let Ok(entry) = entry else { continue };
        let raw_name = entry.file_name();
        if matches!(raw_name.to_bytes(), b"." | b"..") {
            continue;
        }
        if entries.len() == MAX_LISTING_ENTRIES {
            more += 1;
            continue;
        }
        let name = raw_name.to_string_lossy().into_owned();
        let Ok(stat) = statat(&dir, raw_name, AtFlags::SYMLINK_NOFOLLOW) else { continue };
        let kind = FileType::from_raw_mode(stat.st_mode);
        if kind == FileType::Symlink {
            entries.push(symlink_entry(root, relative, name));
            continue;
        }
        let nanos = u32::try_from(stat.st_mtime_nsec).unwrap_or(0);
        let modified = u64::try_from(stat.st_mtime)
            .ok()
            .map(|secs| SystemTime::UNIX_EPOCH + std::time::Duration::new(secs, nanos));
        entries.push(Entry {
            name,
            is_dir: kind == FileType::Directory,
            size: u64::try_from(stat.st_size).ok(),
            modified,
        });
    }
    Ok((entries, more))
}

/// Elsewhere std has no way to list a descriptor, so the folder is listed by path again:
/// the race `open_checked` already has, which Linux closes.
#[cfg(not(target_os = "linux"))]
fn read_entries(root: &Root, dir: File, relative: &str) -> io::Result<(Vec<Entry>, usize)> {
    drop(dir);
    let mut entries = Vec::new();
    let mut more = 0usize;
    for entry in std::fs::read_dir(root.join(relative))? {
        let Ok(entry) = entry else { continue };
        if entries.len() == MAX_LISTING_ENTRIES {
            more += 1;
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(kind) = entry.file_type() else { continue };
        if kind.is_symlink() {
            entries.push(symlink_entry(root, relative, name));
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        entries.push(Entry {
            name,
            is_dir: meta.is_dir(),
            size: Some(meta.len()),
            modified: meta.modified().ok(),
        });
    }
    Ok((entries, more))
}

/// A symlink is shown as what it points to, found the way a request would find it: through
/// `open_file`, so a link out of the root shows nothing of its target (not even a size or a
/// date), just its name and `@`, as `ls -F` marks links.
fn symlink_entry(root: &Root, relative: &str, name: String) -> Entry {
    let path = if relative.is_empty() { name.clone() } else { format!("{relative}/{name}") };
    match root.open_file(&path).and_then(|file| file.metadata()) {
        Ok(meta) => Entry {
            name,
            is_dir: meta.is_dir(),
            size: Some(meta.len()),
            modified: meta.modified().ok(),
        },
        Err(_) => Entry { name, is_dir: false, size: None, modified: None },
    }
}

/// Escapes text for HTML, so a file named `<script>` shows as text and runs nothing.
fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_for_html() {
        assert_eq!(html_escape("<b>&\"'"), "&lt;b&gt;&amp;&quot;&#39;");
    }
}
