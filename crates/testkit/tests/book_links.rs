//! Every link inside the book lands: `[text](page.md#section)` and `[text](#section)` name a
//! page that exists and a heading (or `<a id>`) on it. mdBook does not check fragments, and the
//! chapters link back to each other's sections ("the listening socket" is chapter 01's), so a
//! renamed heading would otherwise leave a link that silently goes to the top of a page.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::fs;

/// A heading's id as mdBook makes it: the text without markup, lower-cased, spaces become `-`,
/// and anything but letters, digits, `-` and `_` dropped; a repeated id gets `-1`, `-2`.
fn heading_ids(page: &str) -> HashSet<String> {
    let mut ids = HashSet::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut in_fence = false;
    for line in page.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        for (at, _) in line.match_indices("id=\"") {
            let rest = &line[at + 4..];
            ids.insert(rest[..rest.find('"').unwrap_or(0)].to_owned());
        }
        let Some(text) = line.strip_prefix('#').map(|t| t.trim_start_matches('#')) else {
            continue;
        };
        if !text.starts_with(' ') {
            continue;
        }
        let text = strip_links(text.trim());
        let id: String = text
            .chars()
            .filter_map(|c| {
                if c.is_alphanumeric() || c == '_' || c == '-' {
                    Some(c.to_ascii_lowercase())
                } else if c.is_whitespace() {
                    Some('-')
                } else {
                    None
                }
            })
            .collect();
        let count = seen.entry(id.clone()).or_default();
        ids.insert(if *count == 0 { id } else { format!("{id}-{count}") });
        *count += 1;
    }
    ids
}

/// `[text](target)` becomes `text`, as in the rendered heading.
fn strip_links(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find("](") {
        let close = rest[open..].find(')').map_or(rest.len(), |c| open + c + 1);
        out.push_str(&rest[..open].replacen('[', "", 1));
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

/// Every `](target)` outside code fences, with its line number.
fn links(page: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut in_fence = false;
    for (number, line) in page.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        }
        if in_fence {
            continue;
        }
        for (at, _) in line.match_indices("](") {
            let rest = &line[at + 2..];
            if let Some(end) = rest.find(')') {
                found.push((number + 1, rest[..end].to_owned()));
            }
        }
    }
    found
}

#[test]
fn every_link_between_pages_names_a_page_and_a_heading_that_exist() {
    let mut pages = HashMap::new();
    for path in testkit::book_pages(&testkit::workspace_root().join("docs/src")) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        pages.insert(name, fs::read_to_string(&path).unwrap());
    }
    let ids: HashMap<&String, HashSet<String>> =
        pages.iter().map(|(name, text)| (name, heading_ids(text))).collect();
    let mut broken = Vec::new();
    let mut checked = 0;
    for (name, text) in &pages {
        for (line, target) in links(text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, fragment) = target.split_once('#').unwrap_or((&target, ""));
            let file = if file.is_empty() { name.as_str() } else { file };
            if !file.ends_with(".md") {
                continue; // images and other files: mdbook and the picture test check them
            }
            checked += 1;
            match ids.iter().find(|(page, _)| page.as_str() == file) {
                None => broken.push(format!("{name}:{line}: no page {file}")),
                Some((_, known)) if !fragment.is_empty() && !known.contains(fragment) => {
                    broken.push(format!("{name}:{line}: {file} has no heading #{fragment}"));
                }
                Some(_) => {}
            }
        }
    }
    assert!(checked > 50, "only {checked} links found: is the scanner broken?");
    assert!(broken.is_empty(), "broken links in the book:\n{}", broken.join("\n"));
}

#[test]
fn heading_ids_follow_mdbook() {
    let ids = heading_ids(
        "# 01 · Echo\n## The listening socket: `listen`\n## Try it\n### Try it\n\
         ## [TLS](x.md) over TCP\n```\n# not a heading\n```\n<a id=\"old-name\"></a>\n",
    );
    for id in [
        "01--echo",
        "the-listening-socket-listen",
        "try-it",
        "try-it-1",
        "tls-over-tcp",
        "old-name",
    ] {
        assert!(ids.contains(id), "{id} missing from {ids:?}");
    }
    assert!(!ids.contains("not-a-heading"));
}
