//! The tutorial's Python client, as the book shows it (`docs/src/python/06-raw-client.py`),
//! run for real against servers written for the test: it loses what arrives after a short
//! read and cannot parse a body with line breaks, as the page says; the chapter's client gets both
//! responses whole.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::process::Command;

use support::{answer_once, fetch, hold_until_client_closes, read_request, scripted};
use testkit::run;

fn python_client(url: &str) -> testkit::Finished {
    let script = testkit::workspace_root().join("docs/src/python/06-raw-client.py");
    run(Command::new("python3").arg(script).arg(url))
}

#[test]
fn a_short_read_is_taken_for_the_end_of_the_response() {
    // The head and the start of the body, then nothing until the client gives up and closes:
    // the rest of the 30 bytes Content-Length announces never comes while the client waits.
    let server = scripted(1, |_, mut stream| {
        read_request(&mut stream);
        let first_piece = b"HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\nthe first 12";
        stream.write_all(first_piece).unwrap();
        hold_until_client_closes(&mut stream);
    });
    let python = python_client(&server.url("/"));
    assert!(python.status.success(), "{python:?}");
    assert_eq!(python.stdout, "200\nthe first 12\n", "it should stop after the first piece");
}

#[test]
fn a_body_with_line_breaks_breaks_the_header_parse() {
    const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\none\r\ntwo\r\nthree";
    let python = python_client(&answer_once(RESPONSE).url("/"));
    assert!(!python.status.success(), "{python:?}");
    assert!(python.stderr.contains("ValueError"), "{}", python.stderr);

    let ours = fetch(&[&answer_once(RESPONSE).url("/")]);
    assert!(ours.status.success(), "{ours:?}");
    assert_eq!(ours.stdout.lines().collect::<Vec<_>>(), ["one", "two", "three"]);
}
