//! The book includes its code listings from the crates by anchor, so text and code cannot
//! drift apart. This test fails when any `{{#include …}}` in `docs/src` names a file that does
//! not exist or an anchor that the file does not mark with both `ANCHOR:` and `ANCHOR_END:`.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};

/// Every `{{#include PATH}}`, `{{#include PATH:ANCHOR}}` (and `rustdoc_include`) in `text`.
fn includes(text: &str) -> Vec<(String, Option<String>)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{#") {
        let after = &rest[start + 3..];
        let Some(end) = after.find("}}") else { break };
        let directive = after[..end].trim();
        rest = &after[end..];
        let Some(target) = directive
            .strip_prefix("include ")
            .or_else(|| directive.strip_prefix("rustdoc_include "))
        else {
            continue;
        };
        let mut parts = target.trim().splitn(2, ':');
        let path = parts.next().unwrap_or_default().to_owned();
        // `:10`, `:10:20` and `:10:` are line ranges, not anchors.
        let anchor = parts
            .next()
            .filter(|a| !a.is_empty() && !a.starts_with(|c: char| c.is_ascii_digit()))
            .map(str::to_owned);
        found.push((path, anchor));
    }
    found
}

#[test]
fn every_book_include_and_anchor_resolves() {
    let pages = testkit::book_pages(&testkit::workspace_root().join("docs/src"));

    let mut problems = Vec::new();
    let mut checked = 0;
    for page in &pages {
        let text = fs::read_to_string(page).unwrap();
        for (path, anchor) in includes(&text) {
            checked += 1;
            let file = page.parent().unwrap().join(&path);
            let Ok(code) = fs::read_to_string(&file) else {
                problems.push(format!("{}: no such file {path}", page.display()));
                continue;
            };
            if let Some(anchor) = anchor {
                let has = |marker: &str| {
                    code.lines().any(|line| {
                        let comment = line.trim_start();
                        // `// ANCHOR:` in Rust, `# ANCHOR:` in the tutorial's Python.
                        let text = comment.strip_prefix("//").or_else(|| comment.strip_prefix('#'));
                        text.is_some_and(|t| t.trim() == format!("{marker}: {anchor}"))
                    })
                };
                if !has("ANCHOR") || !has("ANCHOR_END") {
                    problems.push(format!(
                        "{}: {path} has no ANCHOR/ANCHOR_END `{anchor}`",
                        page.display()
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "broken book includes:\n{}", problems.join("\n"));
    assert!(checked > 0, "no page includes any code: the book should show the crates' code");
}

/// Every `ANCHOR: name` in `dir`'s Rust files (recursively, `target/` aside), with its file.
fn anchors(dir: &Path, found: &mut Vec<(PathBuf, String)>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && path.file_name().is_some_and(|name| name != "target") {
            anchors(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs" || ext == "py") {
            for line in fs::read_to_string(&path).unwrap().lines() {
                let comment = line.trim_start();
                let marker = comment.strip_prefix("//").or_else(|| comment.strip_prefix('#'));
                let marker = marker.unwrap_or_default().trim();
                if let Some(name) = marker.strip_prefix("ANCHOR: ") {
                    found.push((path.clone(), name.trim().to_owned()));
                }
            }
        }
    }
}

/// The other direction: an anchor no page includes marks lines for a listing that is gone, and
/// misleads a reader of the code about what the book shows.
#[test]
fn every_anchor_in_the_code_is_included_by_some_page() {
    let root = testkit::workspace_root();
    let pages = testkit::book_pages(&root.join("docs/src"));
    let mut used = std::collections::HashSet::new();
    for page in &pages {
        for (path, anchor) in includes(&fs::read_to_string(page).unwrap()) {
            if let (Ok(file), Some(anchor)) =
                (page.parent().unwrap().join(path).canonicalize(), anchor)
            {
                used.insert((file, anchor));
            }
        }
    }
    let mut marked = Vec::new();
    anchors(&root.join("crates"), &mut marked);
    anchors(&root.join("docs/src/python"), &mut marked);
    assert!(!marked.is_empty(), "no anchors found under crates/");
    let unused: Vec<String> = marked
        .into_iter()
        .filter(|(file, name)| !used.contains(&(file.canonicalize().unwrap(), name.clone())))
        .map(|(file, name)| format!("{}: ANCHOR `{name}`", file.display()))
        .collect();
    assert!(unused.is_empty(), "anchors no page includes:\n{}", unused.join("\n"));
}

#[test]
fn the_include_scanner_reads_paths_anchors_and_line_ranges() {
    let found = includes(
        "a {{#include ../x.rs:listen}} b {{#include y.rs}} {{#include z.rs:3:9}} {{#title t}}",
    );
    assert_eq!(
        found,
        vec![
            ("../x.rs".to_owned(), Some("listen".to_owned())),
            ("y.rs".to_owned(), None),
            ("z.rs".to_owned(), None),
        ]
    );
}
