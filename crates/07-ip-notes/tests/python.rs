//! The notes' address tables asked of Python's `ipaddress` (`docs/src/python/07-address-notes.py`,
//! as the book shows it) beside `07-ip-notes classify`: where they agree, and the one place the
//! page says they differ (Python's `is_private` is wider than RFC 1918).

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::process::Command;

use testkit::run;

const ADDRESSES: [&str; 9] = [
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "127.0.0.1",
    "8.8.8.8",
    "169.254.1.1",
    "100.64.0.1",
    "240.0.0.1",
    "1.1.1.1",
];

/// Python's table: address → its cells (class, private, loopback, link-local, multicast, global).
fn python_table() -> HashMap<String, Vec<String>> {
    let script = testkit::workspace_root().join("docs/src/python/07-address-notes.py");
    let out = run(Command::new("python3").arg(script).args(ADDRESSES));
    assert!(out.status.success(), "{out:?}");
    out.stdout
        .lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
            (cells[0].clone(), cells[1..].to_vec())
        })
        .collect()
}

/// A field of `classify --json`'s entry for `address`, as text.
fn ours(json: &str, address: &str, field: &str) -> String {
    let entry =
        json.split("\"input\": ").find(|e| e.starts_with(&format!("\"{address}\""))).unwrap();
    let at = entry.find(&format!("\"{field}\": ")).unwrap() + field.len() + 4;
    entry[at..].split([',', '\n']).next().unwrap().trim_matches('"').to_owned()
}

#[test]
fn python_and_classify_agree_on_class_and_public_and_differ_on_private_as_the_page_says() {
    let table = python_table();
    let out = run(Command::new(env!("CARGO_BIN_EXE_07-ip-notes"))
        .args(["classify", "--json"])
        .args(ADDRESSES));
    assert!(out.status.success(), "{out:?}");
    for address in ADDRESSES {
        let python = &table[address];
        assert_eq!(python[0], ours(&out.stdout, address, "letter"), "class of {address}");
        let public = ours(&out.stdout, address, "public") == "true";
        assert_eq!(python[5] == "yes", public, "global/public of {address}");
    }
    // RFC 1918 calls only 10/8, 172.16/12 and 192.168/16 private; Python's is_private also
    // says yes for loopback, link-local and 240/4 ("not globally reachable").
    for address in ["127.0.0.1", "169.254.1.1", "240.0.0.1"] {
        assert_eq!(table[address][1], "yes", "Python's is_private for {address}");
    }
    assert_eq!(table["100.64.0.1"][1], "no", "shared address space: neither private nor global");
}
