//! HTTP on the wire: exact request bytes in, exact response bytes out, over raw sockets
//! (the mini-redis way). Dates change from run to run, so those two header values are masked.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{Read, Write};

use support::*;
use testkit::{PATIENCE, Proc};

const SERVER: &str = concat!("Server: 05-http-server/", env!("CARGO_PKG_VERSION"));

fn hello(args: &[&str]) -> (Proc, String) {
    let proc = Proc::spawn(bin().args(["hello", "--port", "0"]).args(args));
    let addr = proc.listening_addr();
    (proc, addr)
}

#[test]
fn hello_sends_the_tutorials_response_byte_for_byte() {
    let (srv, addr) = hello(&["--trace"]);
    let mut stream = connect(&addr);
    stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let reply = read_until_closed(&mut stream);
    assert_eq!(
        reply,
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 11\r\n\r\nhello world"
    );
    srv.wait_for_stderr("sendall(");
    let done = srv.stop();
    // --trace shows the exact bytes both ways, as Python's repr would.
    assert!(
        done.stderr.contains("bytes: b'GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'"),
        "{}",
        done.stderr
    );
    assert!(done.stderr.contains("sendall(90 bytes): b'HTTP/1.1 200 OK\\r\\n"), "{}", done.stderr);
    assert!(done.stdout.contains("connect from 127.0.0.1:"), "{}", done.stdout);
    assert!(done.stderr.contains("server stopped: answered 1 connection"), "{}", done.stderr);
}

#[test]
fn hello_broken_sends_the_body_alone() {
    let (_srv, addr) = hello(&["--broken"]);
    let mut stream = connect(&addr);
    stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_until_closed(&mut stream), b"hello world");
}

#[test]
fn a_file_response_byte_for_byte() {
    let site = site();
    let (_srv, addr) = serve(&site.root(), &[]);
    let r = exchange(&addr, &get("/hello.txt"));
    assert_eq!(
        r.masked_head(),
        format!(
            "HTTP/1.1 200 OK\r\n{SERVER}\r\nDate: <date>\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: 12\r\nETag: <etag>\r\nLast-Modified: <date>\r\n\
             Accept-Ranges: bytes\r\n\r\n"
        )
    );
    assert_eq!(r.body, b"hello world\n");
    // The Date header is HTTP's one date format.
    let date = r.header("Date").unwrap();
    assert!(date.ends_with(" GMT") && date.len() == 29, "{date}");
}

#[test]
fn head_is_get_without_the_body() {
    let site = site();
    let (_srv, addr) = serve(&site.root(), &[]);
    let mut stream = connect(&addr);
    stream.write_all(b"HEAD /hello.txt HTTP/1.1\r\nHost: t\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    let head = read_response(&mut stream, true);
    assert_eq!(head.status(), 200);
    assert_eq!(head.header("Content-Length"), Some("12"));
    // If HEAD had sent a body, it would be read here as the next response's head.
    let get = read_response(&mut stream, false);
    assert_eq!(get.body, b"hello world\n");
}

#[test]
fn folders_redirect_to_their_slash_then_serve_index_html() {
    let site = site();
    let (_srv, addr) = serve(&site.root(), &[]);
    let r = exchange(&addr, &get("/sub?x=1"));
    assert_eq!(r.status(), 301);
    assert_eq!(r.header("Location"), Some("/sub/?x=1"));
    let r = exchange(&addr, &get("/sub/"));
    assert_eq!(r.status(), 200);
    assert_eq!(r.header("Content-Type"), Some("text/html; charset=utf-8"));
    assert!(String::from_utf8_lossy(&r.body).contains("index of sub"));
}

#[test]
fn the_listing_is_sorted_escaped_and_encoded() {
    let site = site();
    let (_srv, addr) = serve(&site.root(), &[]);
    let r = exchange(&addr, &get("/listing/"));
    assert_eq!(r.status(), 200);
    let html = String::from_utf8(r.body).unwrap();
    assert!(html.contains("<title>Index of /listing/</title>"), "{html}");
    assert!(html.contains("<a href=\"../\">../</a>"), "{html}");
    // The name is text, not markup; the link is percent-encoded.
    assert!(html.contains(">&lt;img src=x onerror=alert(1)&gt;.txt</a>"), "{html}");
    assert!(html.contains("href=\"%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.txt\""), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(html.contains("<a href=\"a%20b.txt\">a b.txt</a>"), "{html}");
    assert!(html.contains("<a href=\"100%25.txt\">100%.txt</a>"), "{html}");
    assert!(html.contains("<a href=\"caf%C3%A9.txt\">café.txt</a>"), "{html}");
    assert!(html.contains("<a href=\"folder/\">folder/</a>"), "{html}");
    // Sizes, dates, and case-insensitive order.
    assert!(html.contains("<td class=\"size\">7</td>"), "a b.txt holds 7 bytes: {html}");
    let order: Vec<usize> = ["100%.txt", "a b.txt", "alpha.txt", "café.txt", "folder/", "Zeta.txt"]
        .iter()
        .map(|name| html.find(&format!(">{name}</a>")).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    assert!(html.contains(" GMT</td>"), "{html}");
    // A link from the listing leads to the file.
    let r = exchange(&addr, &get("/listing/a%20b.txt"));
    assert_eq!(r.body, b"a b.txt");
}

#[test]
fn if_modified_since_gets_304_and_an_older_date_gets_the_file() {
    let site = site();
    let (_srv, addr) = serve(&site.root(), &[]);
    let first = exchange(&addr, &get("/hello.txt"));
    let modified = first.header("Last-Modified").unwrap().to_owned();
    let req =
        format!("GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: {modified}\r\n\r\n");
    let r = exchange(&addr, req.as_bytes());
    assert_eq!(
        r.masked_head(),
        format!(
            "HTTP/1.1 304 Not Modified\r\n{SERVER}\r\nDate: <date>\r\nETag: <etag>\r\n\
             Last-Modified: <date>\r\n\r\n"
        )
    );
    let req = "GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n\r\n";
    assert_eq!(exchange(&addr, req.as_bytes()).status(), 200);
    // A date that does not parse is ignored, as the RFC says.
    let req = "GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-Modified-Since: yesterday\r\n\r\n";
    assert_eq!(exchange(&addr, req.as_bytes()).status(), 200);
}

#[test]
fn ranges_get_206_or_416_and_several_ranges_get_the_whole_file() {
    let site = site();
    let (_srv, addr) = serve(&site.root(), &[]);
    let range = |value: &str| {
        exchange(
            &addr,
            format!("GET /hello.txt HTTP/1.1\r\nHost: t\r\nRange: {value}\r\n\r\n").as_bytes(),
        )
    };
    let r = range("bytes=0-4");
    assert_eq!((r.status(), r.body.as_slice()), (206, &b"hello"[..]));
    assert_eq!(r.header("Content-Range"), Some("bytes 0-4/12"));
    let r = range("bytes=-6");
    assert_eq!((r.status(), r.body.as_slice()), (206, &b"world\n"[..]));
    let r = range("bytes=6-");
    assert_eq!(r.header("Content-Range"), Some("bytes 6-11/12"));
    let r = range("bytes=12-");
    assert_eq!(r.status(), 416);
    assert_eq!(r.header("Content-Range"), Some("bytes */12"));
    let r = range("bytes=0-1,3-4");
    assert_eq!((r.status(), r.body.len()), (200, 12));
    // A range deep in the big file (sent with sendfile, from an offset).
    let req = "GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=5000000-5999999\r\n\r\n";
    let r = exchange(&addr, req.as_bytes());
    assert_eq!(r.status(), 206);
    assert!(r.body.iter().enumerate().all(|(i, &b)| b == big_byte(5_000_000 + i)));
    // If-Range with a date that is not the file's: the whole (changed) file.
    let req = "GET /hello.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-4\r\nIf-Range: Sat, 01 Jan 2000 00:00:00 GMT\r\n\r\n";
    assert_eq!(exchange(&addr, req.as_bytes()).status(), 200);
}

#[test]
fn a_large_file_arrives_whole() {
    let site = site();
    let (_srv, addr) = serve(&site.root(), &[]);
    let r = exchange(&addr, &get("/big.bin"));
    assert_eq!(r.header("Content-Type"), Some("application/octet-stream"));
    assert_eq!(r.body.len(), BIG);
    assert!(r.body.iter().enumerate().all(|(i, &b)| b == big_byte(i)));
}

#[test]
fn http11_keeps_the_connection_and_close_closes_it() {
    let site = site();
    let (_srv, addr) = serve(&site.root(), &[]);
    let mut stream = connect(&addr);
    for _ in 0..3 {
        stream.write_all(&get("/hello.txt")).unwrap();
        let r = read_response(&mut stream, false);
        assert_eq!(r.header("Connection"), None, "1.1 keeps the connection by default");
    }
    stream.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").unwrap();
    let r = read_response(&mut stream, false);
    assert_eq!(r.header("Connection"), Some("close"));
    assert_eq!(read_until_closed(&mut stream), b"", "then the server closes");
}

#[test]
fn http10_closes_unless_asked_to_keep_alive() {
    let site = site();
    let (_srv, addr) = serve(&site.root(), &[]);
    let mut stream = connect(&addr);
    stream.write_all(b"GET /hello.txt HTTP/1.0\r\n\r\n").unwrap();
    let r = read_response(&mut stream, false);
    assert_eq!(r.header("Connection"), Some("close"));
    assert_eq!(read_until_closed(&mut stream), b"");

    let mut stream = connect(&addr);
    for _ in 0..2 {
        stream.write_all(b"GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").unwrap();
        let r = read_response(&mut stream, false);
        assert_eq!(r.header("Connection"), Some("keep-alive"));
        assert_eq!(r.body, b"hello world\n");
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let site = site();
    let (_srv, addr) = serve(&site.root(), &[]);
    let mut stream = connect(&addr);
    // Three requests in one write: the server reads them in one recv, and must answer each,
    // in order, without reading again until the buffer runs dry.
    let mut batch = get("/hello.txt");
    batch.extend(get("/missing"));
    batch.extend(b"GET /listing/alpha.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    stream.write_all(&batch).unwrap();
    assert_eq!(read_response(&mut stream, false).body, b"hello world\n");
    assert_eq!(read_response(&mut stream, false).status(), 404);
    assert_eq!(read_response(&mut stream, false).body, b"alpha.txt");
    assert_eq!(read_until_closed(&mut stream), b"");
}

#[test]
fn errors_have_a_small_html_page_and_405_says_allow() {
    let site = site();
    let (_srv, addr) = serve(&site.root(), &[]);
    let r = exchange(&addr, &get("/missing"));
    assert_eq!(r.status(), 404);
    assert_eq!(r.header("Content-Type"), Some("text/html; charset=utf-8"));
    assert!(String::from_utf8_lossy(&r.body).contains("<h1>404 Not Found</h1>"));
    let r = exchange(&addr, b"DELETE /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(r.status(), 405);
    assert_eq!(r.header("Allow"), Some("GET, HEAD"));
    assert!(site.root().join("hello.txt").exists());
}

#[test]
fn the_access_log_is_common_log_format() {
    let site = site();
    let (srv, addr) = serve(&site.root(), &[]);
    exchange(&addr, &get("/hello.txt"));
    exchange(&addr, &get("/missing"));
    // Each connection's thread logs after its response is sent, so the two lines may come in
    // either order: wait for both.
    srv.wait_for_stderr("\"GET /hello.txt HTTP/1.1\" 200 ");
    srv.wait_for_stderr("\"GET /missing HTTP/1.1\" 404 ");
    let log = srv.stderr();
    let line = log.lines().find(|l| l.contains("/hello.txt")).unwrap();
    // 127.0.0.1 - - [24/Nov/2026:08:05:00 +0000] "GET /hello.txt HTTP/1.1" 200 12
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
    assert!(line.ends_with("] \"GET /hello.txt HTTP/1.1\" 200 12"), "{line}");
    assert_eq!(line.find(" +0000]").unwrap(), line.find('[').unwrap() + 21, "{line}");
    // --quiet: no log.
    let (srv, addr) = serve(&site.root(), &["--quiet"]);
    exchange(&addr, &get("/hello.txt"));
    let done = srv.stop();
    assert!(!done.stderr.contains("GET /hello.txt"), "{}", done.stderr);
}

#[test]
fn ipv6_works_with_bind() {
    let site = site();
    let (_srv, addr) = serve(&site.root(), &["-b", "::1"]);
    assert!(addr.starts_with("[::1]:"), "{addr}");
    let r = exchange(&addr, &get("/hello.txt"));
    assert_eq!(r.body, b"hello world\n");
}

#[test]
fn ctrl_c_lets_a_download_in_flight_finish() {
    let site = site();
    let (srv, addr) = serve(&site.root(), &["--quiet", "--trace"]);
    let mut stream = connect(&addr);
    stream.write_all(&get("/big.bin")).unwrap();
    // Read a little, so the server is mid-file, blocked on our full receive buffer.
    let mut first = [0u8; 1000];
    stream.read_exact(&mut first).unwrap();
    // An idle keep-alive connection, which the stop closes at once.
    let mut idle = connect(&addr);
    idle.write_all(&get("/hello.txt")).unwrap();
    read_response(&mut idle, false);
    srv.interrupt();
    assert_eq!(read_until_closed(&mut idle), b"", "the idle connection is closed");
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    let head_end = first.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(first.len() - head_end + rest.len(), BIG, "the whole file arrived");
    let done = srv.finish();
    assert!(done.status.success(), "{done:?}");
    assert!(
        done.stderr.contains("server stopped: served 2 requests on 2 connections"),
        "{}",
        done.stderr
    );
    // The idle one's thread was woken by the stop, not by its client, and says so.
    assert!(
        done.stderr.contains("-> 0 bytes (stopping: our shutdown(SHUT_RD) woke it)"),
        "{}",
        done.stderr
    );
}

#[test]
fn beyond_max_connections_a_client_gets_503() {
    let site = site();
    let (srv, addr) = serve(&site.root(), &["--max-connections", "2"]);
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = connect(&addr);
        s.write_all(&get("/hello.txt")).unwrap();
        read_response(&mut s, false); // Served, so counted before the next connect.
        held.push(s);
    }
    let mut third = connect(&addr);
    let reply = String::from_utf8(read_until_closed(&mut third)).unwrap();
    assert!(reply.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{reply}");
    assert!(reply.contains("Retry-After: 1\r\n"), "{reply}");
    drop(held);
    let done = srv.stop();
    assert!(done.stderr.contains("refused 1 (--max-connections)"), "{}", done.stderr);
}

#[test]
fn an_idle_connection_is_closed_after_the_keep_alive_timeout() {
    let site = site();
    let (srv, addr) = serve(&site.root(), &["--keep-alive-timeout", "0.5", "--trace"]);
    let mut stream = connect(&addr);
    stream.write_all(&get("/hello.txt")).unwrap();
    read_response(&mut stream, false);
    let started = std::time::Instant::now();
    assert_eq!(read_until_closed(&mut stream), b"", "closed without a word");
    assert!(started.elapsed() < PATIENCE);
    // --trace names the recv that ended it, and the other way a connection ends between
    // requests: the client's own close.
    srv.wait_for_stderr("-> timed out: idle for the keep-alive timeout");
    let mut closing = connect(&addr);
    closing.write_all(&get("/hello.txt")).unwrap();
    read_response(&mut closing, false);
    drop(closing);
    srv.wait_for_stderr("-> 0 bytes (the client closed)");
}

/// Issue 15: a strong `ETag` beside `Last-Modified`, and the conditional requests that use it.
#[test]
fn etags_answer_if_none_match_and_if_range() {
    let site = site();
    let (_srv, addr) = serve(&site.root(), &[]);
    let first = exchange(&addr, &get("/hello.txt"));
    let etag = first.header("ETag").expect("an ETag on 200").to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "a strong tag: {etag}");
    let ask = |headers: &str| {
        let request = format!("GET /hello.txt HTTP/1.1\r\nHost: t\r\n{headers}\r\n");
        exchange(&addr, request.as_bytes())
    };
    // If-None-Match, compared weakly: W/ or not, in a list, or `*`.
    for value in [etag.clone(), format!("W/{etag}"), format!("\"x\", {etag}"), "*".into()] {
        let r = ask(&format!("If-None-Match: {value}\r\n"));
        assert_eq!(r.status(), 304, "If-None-Match: {value}");
        assert_eq!(r.header("ETag"), Some(etag.as_str()), "a 304 names the version");
        assert!(r.header("Content-Length").is_none() && r.body.is_empty());
    }
    // Split over two header lines, it is still one list.
    let r = ask(&format!("If-None-Match: \"x\"\r\nIf-None-Match: {etag}\r\n"));
    assert_eq!(r.status(), 304);
    let r = ask("If-None-Match: \"x\"\r\n");
    assert_eq!((r.status(), r.body.as_slice()), (200, &b"hello world\n"[..]));
    // If-None-Match wins over If-Modified-Since (RFC 9110, 13.2.2): another version is asked
    // about, so the whole file, however recent the date.
    let r = ask("If-None-Match: \"x\"\r\nIf-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n");
    assert_eq!(r.status(), 200);
    // If-Range with the tag: the range; with a weak or another tag: the whole file.
    let r = ask(&format!("Range: bytes=0-4\r\nIf-Range: {etag}\r\n"));
    assert_eq!((r.status(), r.body.as_slice()), (206, &b"hello"[..]));
    assert_eq!(r.header("ETag"), Some(etag.as_str()));
    for other in [format!("W/{etag}"), "\"x\"".into()] {
        let r = ask(&format!("Range: bytes=0-4\r\nIf-Range: {other}\r\n"));
        assert_eq!(r.status(), 200, "If-Range: {other}");
    }
    // A large file's 200 carries it too.
    let r = exchange(&addr, b"HEAD /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(r.header("ETag").is_some_and(|t| t.starts_with('"')), "{}", r.head);
}
