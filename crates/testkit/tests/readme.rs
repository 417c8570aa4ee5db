//! What the README promises a newcomer, checked against the files that make it true: the mdBook
//! version it tells readers to install is the one CI pins, and the tour script it names exists
//! and refuses a chapter that does not exist before it spends minutes building.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::process::Command;

fn read(relative: &str) -> String {
    let path = testkit::workspace_root().join(relative);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

#[test]
fn the_readme_installs_the_mdbook_that_ci_pins() {
    let ci = read(".ci/run");
    let pinned = ci
        .lines()
        .find_map(|line| line.strip_prefix("MDBOOK_VERSION="))
        .expect(".ci/run pins MDBOOK_VERSION");
    let readme = read("README.md");
    let install = format!("cargo install mdbook --locked --version {pinned}");
    assert!(readme.contains(&install), "README.md should tell readers to run `{install}`");
    assert!(readme.contains("mdbook serve docs"), "README.md should say how to read the book");
}

#[test]
fn the_readme_says_chapter_07_is_a_set_of_experiments() {
    let readme = read("README.md");
    assert!(!readme.contains("Every chapter has the same command line"), "07 has no server/client");
    assert!(readme.contains("07 is a set of experiments"));
}

#[test]
fn the_tour_refuses_an_unknown_chapter_before_building() {
    let out = Command::new("bash")
        .arg(testkit::workspace_root().join("scripts/tour.sh"))
        .arg("99")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no chapter matches: 99"), "{stderr}");
    assert!(!stderr.contains("building"), "it built before checking its arguments: {stderr}");
}

/// A newcomer's first build takes minutes: the tour must say so and let cargo show its
/// progress, not run it `--quiet` behind a silent terminal. A stand-in `cargo` first on PATH
/// records how it was called and fails, which stops the tour right after the build step.
#[test]
fn the_tour_shows_its_build_progress() {
    let dir = tempfile::tempdir().unwrap();
    let calls = dir.path().join("calls");
    let fake = dir.path().join("cargo");
    fs::write(&fake, format!("#!/bin/sh\necho \"$@\" >> '{}'\nexit 1\n", calls.display())).unwrap();
    let mut perms = fs::metadata(&fake).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    fs::set_permissions(&fake, perms).unwrap();
    let path = format!("{}:{}", dir.path().display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new("bash")
        .arg(testkit::workspace_root().join("scripts/tour.sh"))
        .arg("01")
        .env("PATH", path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("building every chapter"), "no word before the build: {stderr}");
    let called = fs::read_to_string(&calls).unwrap();
    assert!(called.starts_with("build --workspace"), "{called}");
    assert!(!called.contains("--quiet") && !called.contains("-q"), "a silent build: {called}");
}

/// The README's "Patterns the code demonstrates" table sends a reader to a file and the names
/// to read there (`[file](path), `name``): each file must exist and define each name
/// (`fn name`, `struct name`, `Type::method`), so moving code cannot leave the table pointing
/// at nothing.
#[test]
fn the_readmes_pattern_table_names_code_that_exists() {
    let readme = read("README.md");
    let table = readme
        .split("## Patterns the code demonstrates")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("the README has its pattern table");
    let mut problems = Vec::new();
    let mut named = 0;
    for row in table.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| Pattern")) {
        let place = row.trim_end_matches('|').rsplit(" | ").next().unwrap_or_default();
        // Each `;`-separated part is one file, then the names to read in it.
        for part in place.split(';') {
            let Some(start) = part.find("](") else { continue };
            let path = &part[start + 2..start + 2 + part[start + 2..].find(')').unwrap()];
            let full = testkit::workspace_root().join(path);
            if !full.exists() {
                problems.push(format!("{path}: no such file or folder"));
                continue;
            }
            let after = &part[start + 2 + path.len() + 1..];
            for name in after.split('`').skip(1).step_by(2) {
                named += 1;
                let code = fs::read_to_string(&full).unwrap_or_default();
                let (ty, item) = name.split_once("::").unwrap_or(("", name));
                let defined = [
                    format!("fn {item}("),
                    format!("fn {item}<"),
                    format!("struct {item}"),
                    format!("enum {item}"),
                ]
                .iter()
                .any(|def| code.contains(def.as_str()));
                let in_type = ty.is_empty()
                    || code.contains(&format!("impl {ty}"))
                    || code.contains(&format!("impl<'_> {ty}"));
                if !defined || !in_type {
                    problems.push(format!("{path}: no `{name}` there"));
                }
            }
        }
    }
    assert!(named > 20, "only {named} names found: is the table parsed right?");
    assert!(problems.is_empty(), "the README's pattern table is stale:\n{}", problems.join("\n"));
}
