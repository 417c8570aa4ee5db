//! Against servers nobody here wrote, Python's `http.server` (real files, keep-alive, HEAD,
//! IPv6) and httpbin under gunicorn (echoed requests, statuses, redirects, chunked streams,
//! sizes, delays), and chapter 05's file server, written by another chapter of this book. The
//! httpbin venv is made on first use (see `tests/httpbin-venv.sh`).

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

mod support;

use std::fs;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{code, fetch, httpbin, python_http_server};

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

fn ok(args: &[&str]) -> testkit::Finished {
    let done = fetch(args);
    assert_eq!(code(&done), 0, "{done:?}");
    done
}

// ---- python3 -m http.server --------------------------------------------------------------

fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.txt"), "alpha\n").unwrap();
    fs::write(dir.path().join("b.txt"), "bravo\n").unwrap();
    // Binary, every byte value, not a multiple of any buffer size.
    let big: Vec<u8> = (0..3_000_017u32).map(|i| (i * 7 % 251) as u8).collect();
    fs::write(dir.path().join("big.bin"), big).unwrap();
    dir
}

#[test]
fn python_serves_files_and_two_urls_share_one_connection() {
    let dir = site();
    let py = python_http_server(dir.path(), "127.0.0.1");
    let done = ok(&["-v", &format!("{}/a.txt", py.base), &format!("{}/b.txt", py.base)]);
    assert_eq!(done.stdout, "alpha\nbravo\n");
    assert_eq!(done.stderr.matches("Trying ").count(), 1, "{}", done.stderr);
    assert!(done.stderr.contains("* Re-using existing connection #0"), "{}", done.stderr);
    assert!(done.stderr.contains("< HTTP/1.1 200 OK"), "{}", done.stderr);
    // Host carries the port because it is not 80.
    let port = py.base.rsplit(':').next().unwrap();
    assert!(done.stderr.contains(&format!("> Host: 127.0.0.1:{port}")), "{}", done.stderr);
}

#[test]
fn python_big_binary_file_arrives_byte_for_byte() {
    let dir = site();
    let py = python_http_server(dir.path(), "127.0.0.1");
    let out = dir.path().join("copy.bin");
    ok(&["-s", "-o", out.to_str().unwrap(), &format!("{}/big.bin", py.base)]);
    assert_eq!(fs::read(out).unwrap(), fs::read(dir.path().join("big.bin")).unwrap());
}

#[test]
fn python_head_prints_the_head_and_no_body() {
    let dir = site();
    let py = python_http_server(dir.path(), "127.0.0.1");
    let done = ok(&["-I", &format!("{}/big.bin", py.base)]);
    assert!(done.stdout.starts_with("HTTP/1.1 200 OK"), "{}", done.stdout);
    assert!(done.stdout.contains("Content-Length: 3000017"), "{}", done.stdout);
    // The head ends with its blank line and nothing follows: 3 MB were not read.
    assert!(done.stdout.ends_with("\n\n") || done.stdout.ends_with("\r\n"), "{:?}", done.stdout);
    assert!(done.stdout.len() < 1000);
    py.wait_for_log("\"HEAD /big.bin HTTP/1.1\" 200");
}

#[test]
fn python_ignores_range_and_the_client_reads_the_status_not_the_wish() {
    // Python 3.11's server does not implement Range: it answers 200 with the whole file. A
    // client must look at the status (206 or 200) before trusting it got a slice.
    let dir = site();
    let py = python_http_server(dir.path(), "127.0.0.1");
    let done = ok(&["-i", "-H", "Range: bytes=1-3", &format!("{}/a.txt", py.base)]);
    if done.stdout.starts_with("HTTP/1.1 206") {
        assert!(done.stdout.ends_with("lph\n"), "{}", done.stdout);
    } else {
        assert!(done.stdout.starts_with("HTTP/1.1 200") && done.stdout.ends_with("alpha\n"));
    }
}

#[test]
fn python_over_ipv6_and_minus_6() {
    let dir = site();
    let py = python_http_server(dir.path(), "::1");
    let done = ok(&["-6", "-v", &format!("{}/a.txt", py.base)]);
    assert_eq!(done.stdout, "alpha\n");
    let port = py.base.rsplit(':').next().unwrap();
    assert!(done.stderr.contains(&format!("> Host: [::1]:{port}")), "{}", done.stderr);
    let refused = fetch(&["-4", &format!("{}/a.txt", py.base)]);
    assert_eq!(code(&refused), 6, "-4 with an IPv6 literal has no address: {refused:?}");
}

#[test]
fn python_404_is_success_without_fail_and_22_with_it() {
    let dir = site();
    let py = python_http_server(dir.path(), "127.0.0.1");
    let missing = format!("{}/nope", py.base);
    let done = ok(&[&missing]);
    assert!(done.stdout.contains("404"), "the error page is the body: {}", done.stdout);
    let failed = fetch(&["--fail", &missing]);
    assert_eq!(code(&failed), 22, "{failed:?}");
    assert!(failed.stdout.is_empty() && failed.stderr.contains("404"), "{failed:?}");
}

// ---- httpbin ------------------------------------------------------------------------------

#[test]
fn httpbin_get_echoes_our_request_line_and_headers() {
    let hb = httpbin();
    let done = ok(&[&hb.url("/get?lang=rust&n=6")]);
    let body = json(&done.stdout);
    assert_eq!(body["args"]["lang"], "rust");
    let host = hb.base.trim_start_matches("http://");
    assert_eq!(body["headers"]["Host"], host);
    assert!(body["headers"]["User-Agent"].as_str().unwrap().starts_with("06-http-client/"));
    assert_eq!(body["headers"]["Accept"], "*/*");
}

#[test]
fn httpbin_post_form_data() {
    let hb = httpbin();
    let done = ok(&["-d", "name=ada", "-d", "lang=rust", &hb.url("/post")]);
    let body = json(&done.stdout);
    assert_eq!(body["form"]["name"], "ada");
    assert_eq!(body["form"]["lang"], "rust");
    assert_eq!(body["headers"]["Content-Type"], "application/x-www-form-urlencoded");
    assert_eq!(body["headers"]["Content-Length"], "18");
}

#[test]
fn httpbin_post_json_and_data_binary_from_a_file() {
    let hb = httpbin();
    let done = ok(&["--json", r#"{"k":[1,2],"s":"é"}"#, &hb.url("/post")]);
    let body = json(&done.stdout);
    assert_eq!(body["json"]["k"], serde_json::json!([1, 2]));
    assert_eq!(body["json"]["s"], "é");
    assert_eq!(body["headers"]["Content-Type"], "application/json");
    assert_eq!(body["headers"]["Accept"], "application/json");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("payload");
    fs::write(&file, "line one\nline two\n").unwrap();
    let arg = format!("@{}", file.display());
    let done = ok(&["--data-binary", &arg, "-H", "Content-Type: text/plain", &hb.url("/post")]);
    assert_eq!(json(&done.stdout)["data"], "line one\nline two\n", "--data-binary keeps newlines");
    let done = ok(&["-d", &arg, "-H", "Content-Type: text/plain", &hb.url("/post")]);
    assert_eq!(json(&done.stdout)["data"], "line oneline two", "-d @FILE drops them, as curl");
}

#[test]
fn httpbin_headers_added_replaced_and_removed() {
    let hb = httpbin();
    let done = ok(&[
        "-H",
        "X-Chapter: 06",
        "-H",
        "User-Agent: curl-ish",
        "-H",
        "Accept:",
        &hb.url("/headers"),
    ]);
    let headers = &json(&done.stdout)["headers"];
    assert_eq!(headers["X-Chapter"], "06");
    assert_eq!(headers["User-Agent"], "curl-ish");
    assert!(headers.get("Accept").is_none(), "{headers}");
}

#[test]
fn httpbin_418_with_and_without_fail() {
    let hb = httpbin();
    let done = ok(&["-i", &hb.url("/status/418")]);
    assert!(done.stdout.starts_with("HTTP/1.1 418"), "{}", done.stdout);
    assert!(done.stdout.contains("teapot"), "{}", done.stdout);
    let failed = fetch(&["--fail", &hb.url("/status/418")]);
    assert_eq!(code(&failed), 22, "{failed:?}");
    assert!(failed.stdout.is_empty(), "--fail shows no body: {}", failed.stdout);
    assert!(failed.stderr.contains("418"), "{}", failed.stderr);
}

#[test]
fn httpbin_three_redirects_followed_on_one_connection() {
    let hb = httpbin();
    let done = ok(&["-L", "-v", &hb.url("/redirect/3")]);
    assert_eq!(json(&done.stdout)["url"], hb.url("/get"));
    assert_eq!(done.stderr.matches("* Following 302 redirect").count(), 3, "{}", done.stderr);
    assert_eq!(done.stderr.matches("Trying ").count(), 1, "{}", done.stderr);

    let not_followed = ok(&["-i", &hb.url("/redirect/3")]);
    assert!(not_followed.stdout.starts_with("HTTP/1.1 302"), "{}", not_followed.stdout);
    assert!(
        not_followed.stdout.contains("Location: /relative-redirect/2"),
        "{}",
        not_followed.stdout
    );

    let too_many = fetch(&["-L", "--max-redirs", "2", &hb.url("/redirect/3")]);
    assert_eq!(code(&too_many), 47, "{too_many:?}");
}

#[test]
fn httpbin_post_redirected_by_303_becomes_get_and_by_307_stays_post() {
    let hb = httpbin();
    let to = "/anything";
    let see_other =
        ok(&["-L", "-d", "x=1", &hb.url(&format!("/redirect-to?url={to}&status_code=303"))]);
    let body = json(&see_other.stdout);
    assert_eq!(
        (body["method"].as_str(), body["form"].as_object().map(|f| f.len())),
        (Some("GET"), Some(0))
    );
    let temporary =
        ok(&["-L", "-d", "x=1", &hb.url(&format!("/redirect-to?url={to}&status_code=307"))]);
    let body = json(&temporary.stdout);
    assert_eq!((body["method"].as_str(), &body["form"]["x"]), (Some("POST"), &Value::from("1")));
}

#[test]
fn httpbin_chunked_stream() {
    let hb = httpbin();
    let done = ok(&["-v", &hb.url("/stream/5")]);
    assert!(
        done.stderr.to_ascii_lowercase().contains("< transfer-encoding: chunked"),
        "{}",
        done.stderr
    );
    let lines: Vec<Value> = done.stdout.lines().map(json).collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[4]["id"], 4);
}

#[test]
fn httpbin_100_kib_of_random_bytes_to_a_file() {
    let hb = httpbin();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bytes.bin");
    ok(&["-o", out.to_str().unwrap(), &hb.url("/bytes/102400")]);
    assert_eq!(fs::metadata(out).unwrap().len(), 102_400);
}

#[test]
fn httpbin_range_gives_206_and_the_slice() {
    let hb = httpbin();
    let done = ok(&["-i", "-H", "Range: bytes=2-5", &hb.url("/range/26")]);
    assert!(done.stdout.starts_with("HTTP/1.1 206"), "{}", done.stdout);
    assert!(
        done.stdout.ends_with("\ncdef") || done.stdout.ends_with("\ncdef\n"),
        "{:?}",
        done.stdout
    );
}

#[test]
fn httpbin_delay_3_with_max_time_1_times_out() {
    let hb = httpbin();
    let started = Instant::now();
    let done = fetch(&["--max-time", "1", &hb.url("/delay/3")]);
    let took = started.elapsed();
    assert_eq!(code(&done), 28, "{done:?}");
    assert!(done.stderr.contains("--max-time ran out"), "{}", done.stderr);
    assert!(took < Duration::from_millis(2500), "{took:?}");
}

// ---- chapter 05's server --------------------------------------------------------------------

/// Chapter 05's binary, built now if this test run did not build it (with `-p` only). The
/// nested `cargo build` is quick when it is already built, and cargo allows it during tests.
fn chapter_05_server() -> std::path::PathBuf {
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "ch05-http-server"])
        .status()
        .unwrap();
    assert!(status.success(), "could not build chapter 05's server");
    let dir = std::path::Path::new(env!("CARGO_BIN_EXE_06-http-client")).parent().unwrap();
    dir.join(format!("05-http-server{}", std::env::consts::EXE_SUFFIX))
}

#[test]
fn chapter_05_server_files_keep_alive_head_and_404() {
    let dir = site();
    let server = testkit::Proc::spawn(
        std::process::Command::new(chapter_05_server())
            .arg("serve")
            .arg(dir.path())
            .args(["--port", "0", "--quiet"]),
    );
    let base = format!("http://{}", server.listening_addr());
    let done = ok(&["-v", &format!("{base}/a.txt"), &format!("{base}/b.txt")]);
    assert_eq!(done.stdout, "alpha\nbravo\n");
    assert!(done.stderr.contains("* Re-using existing connection #0"), "{}", done.stderr);

    let out = dir.path().join("copy.bin");
    ok(&["-s", "-o", out.to_str().unwrap(), &format!("{base}/big.bin")]);
    assert_eq!(fs::read(out).unwrap(), fs::read(dir.path().join("big.bin")).unwrap());

    let head = ok(&["-I", &format!("{base}/big.bin")]);
    assert!(head.stdout.starts_with("HTTP/1.1 200"), "{}", head.stdout);
    assert!(head.stdout.contains("Content-Length: 3000017"), "{}", head.stdout);

    // Unlike Python 3.11's server, chapter 05 implements Range.
    let range = ok(&["-i", "-H", "Range: bytes=1-3", &format!("{base}/a.txt")]);
    assert!(range.stdout.starts_with("HTTP/1.1 206"), "{}", range.stdout);
    assert!(
        range.stdout.ends_with("\r\n\r\nlph\n") || range.stdout.ends_with("\nlph\n"),
        "{:?}",
        range.stdout
    );

    let missing = fetch(&["--fail", &format!("{base}/nope")]);
    assert_eq!(code(&missing), 22, "{missing:?}");
    server.stop();
}
