//! Everything a peer sends is hostile. Each case here gets a clear status or a clean close,
//! the server keeps serving everybody else, and nothing outside the served folder is ever
//! sent: every response is checked for the secret that lies beside the root.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};
use support::*;
use testkit::PATIENCE;

/// What a case expects: a status, after which the server closes (`true`) or keeps the
/// connection (`false`).
struct Case {
    name: &'static str,
    request: Vec<u8>,
    status: u16,
    closes: bool,
}

fn case(name: &'static str, request: impl AsRef<[u8]>, status: u16, closes: bool) -> Case {
    Case { name, request: request.as_ref().to_vec(), status, closes }
}

fn with_path(path: &str) -> Vec<u8> {
    get(path)
}

fn cases() -> Vec<Case> {
    let big_header = format!("GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n", "a".repeat(9 << 10));
    let many_headers = format!("GET / HTTP/1.1\r\nHost: t\r\n{}\r\n", "X-H: v\r\n".repeat(100));
    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(9 << 10));
    vec![
        // The request line.
        case("garbage", "hello there\r\n\r\n", 400, true),
        case("method only", "GET\r\n\r\n", 400, true),
        case("HTTP/0.9 (no version)", "GET /\r\n\r\n", 400, true),
        case("three words and more", "GET / HTTP/1.1 extra\r\nHost: t\r\n\r\n", 400, true),
        case("two spaces", "GET  / HTTP/1.1\r\nHost: t\r\n\r\n", 400, true),
        case("tab separators", "GET\t/\tHTTP/1.1\r\nHost: t\r\n\r\n", 400, true),
        case("lower-case version", "GET / http/1.1\r\nHost: t\r\n\r\n", 400, true),
        case("HTTX", "GET / HTTX/1.1\r\nHost: t\r\n\r\n", 400, true),
        case("HTTP/2.0 as text", "GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505, true),
        case("HTTP/1.2", "GET / HTTP/1.2\r\nHost: t\r\n\r\n", 505, true),
        case("NUL in the request line", "GET /hello\0.txt HTTP/1.1\r\nHost: t\r\n\r\n", 400, true),
        case("unknown method", "BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n", 501, false),
        case(
            "POST",
            "POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
            405,
            false,
        ),
        case("asterisk target on GET", "GET * HTTP/1.1\r\nHost: t\r\n\r\n", 400, false),
        case("URI of 9 KiB", long_uri, 414, true),
        // Headers.
        case("header without colon", "GET / HTTP/1.1\r\nHost t\r\n\r\n", 400, true),
        case("space before colon", "GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400, true),
        case("obs-fold", "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n", 400, true),
        case(
            "control byte in a value",
            "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\x01b\r\n\r\n",
            400,
            true,
        ),
        case("9 KiB header", big_header, 431, true),
        case("101 headers", many_headers, 431, true),
        case("no Host in 1.1", "GET /hello.txt HTTP/1.1\r\n\r\n", 400, true),
        case("two Hosts", "GET /hello.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, true),
        // Bodies.
        case(
            "huge Content-Length",
            "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999\r\n\r\n",
            413,
            true,
        ),
        case(
            "10 GB Content-Length",
            "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000000\r\n\r\n",
            413,
            true,
        ),
        case(
            "negative Content-Length",
            "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
            400,
            true,
        ),
        case(
            "two Content-Lengths",
            "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            400,
            true,
        ),
        case(
            "Content-Length and chunked",
            "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
            true,
        ),
        case(
            "chunked body on GET",
            "GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            501,
            true,
        ),
        case(
            "small body on GET",
            "GET /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbody",
            200,
            false,
        ),
        // Traversal, in every spelling.
        case("dot-dot", with_path("/../outside/secret.txt"), 403, false),
        case("dot-dot deeper", with_path("/sub/../../outside/secret.txt"), 403, false),
        case("%2e%2e", with_path("/%2e%2e/outside/secret.txt"), 403, false),
        case("%2E%2E mixed", with_path("/.%2E/outside/secret.txt"), 403, false),
        case("%2f separators", with_path("/sub%2f..%2f..%2foutside%2fsecret.txt"), 400, false),
        case("%5c backslashes", with_path("/..%5c..%5coutside%5csecret.txt"), 400, false),
        case("raw backslashes", with_path("/..\\outside\\secret.txt"), 400, false),
        case("overlong UTF-8 dot", with_path("/%c0%ae%c0%ae/outside/secret.txt"), 400, false),
        case("%00", with_path("/hello.txt%00.html"), 400, false),
        case("bad escape", with_path("/%zz"), 400, false),
        case("absolute-form dot-dot", with_path("http://t/../outside/secret.txt"), 403, false),
        case("four dots are a name", with_path("/..../outside/secret.txt"), 404, false),
        case("symlink out of the root", with_path("/link-out.txt"), 403, false),
        case("folder symlink out of the root", with_path("/dir-out/secret.txt"), 403, false),
        case("absolute symlink out of the root", with_path("/abs-out/secret.txt"), 403, false),
        case("listing of a symlinked outside folder", with_path("/dir-out/"), 403, false),
        case("a FIFO is not a file", with_path("/pipe.txt"), 403, false),
        case("symlink inside the root is fine", with_path("/link-in.txt"), 200, false),
    ]
}

/// After the response, does the server close (read returns 0) or keep the connection (a
/// second request is answered)?
fn check_connection_after(stream: &mut TcpStream, closes: bool, name: &str) {
    if closes {
        let mut rest = Vec::new();
        // The server may reset instead, if we sent more than it read: either way it is over.
        let _ = stream.read_to_end(&mut rest);
        assert!(rest.is_empty(), "{name}: bytes after the response: {rest:?}");
    } else {
        stream.write_all(&get("/hello.txt")).unwrap();
        let again = read_response(stream, false);
        assert_eq!(again.body, b"hello world\n", "{name}: the connection goes on");
    }
}

#[test]
fn hostile_requests_get_a_clear_status_and_the_server_goes_on() {
    let site = site();
    let (srv, addr) = serve(&site.root(), &[]);
    let cases = cases();
    assert!(cases.len() >= 30, "the issue asks for at least 30 cases");
    for case in &cases {
        let mut stream = connect(&addr);
        stream.write_all(&case.request).unwrap();
        let response = read_response(&mut stream, false);
        let text = String::from_utf8_lossy(&response.body);
        assert!(!text.contains(SECRET), "{}: the secret was served!", case.name);
        assert_eq!(response.status(), case.status, "{}: {}", case.name, response.head);
        assert_eq!(
            response.header("Connection") == Some("close"),
            case.closes,
            "{}: {}",
            case.name,
            response.head
        );
        check_connection_after(&mut stream, case.closes, case.name);
    }
    // And the server still serves a plain request.
    assert_eq!(exchange(&addr, &get("/hello.txt")).body, b"hello world\n");
    let done = srv.stop();
    assert!(!done.stderr.contains("panicked"), "{}", done.stderr);
}

#[test]
fn follow_symlinks_serves_what_the_links_point_to() {
    let site = site();
    let (_srv, addr) = serve(&site.root(), &["--follow-symlinks"]);
    let r = exchange(&addr, &get("/link-out.txt"));
    assert_eq!(r.body, SECRET.as_bytes(), "this is what --follow-symlinks is for");
    // Dot-dot is refused all the same: it is not a symlink.
    assert_eq!(exchange(&addr, &get("/../outside/secret.txt")).status(), 403);
}

#[test]
fn slowloris_is_cut_off_by_the_header_timeout_while_others_are_served() {
    let site = site();
    let (_srv, addr) = serve(&site.root(), &["--header-timeout", "2"]);
    let slow_addr = addr.clone();
    let slowloris = thread::spawn(move || {
        let mut stream = connect(&slow_addr);
        let started = Instant::now();
        let request = get("/hello.txt");
        // One byte a second, each well within any per-read timeout; the head as a whole is
        // what has a deadline.
        for byte in &request {
            if stream.write_all(&[*byte]).is_err() {
                break;
            }
            thread::sleep(Duration::from_secs(1));
            if started.elapsed() > Duration::from_secs(6) {
                break;
            }
        }
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply);
        (started.elapsed(), String::from_utf8_lossy(&reply).into_owned())
    });
    // Meanwhile, others are served at once.
    for _ in 0..5 {
        let started = Instant::now();
        assert_eq!(exchange(&addr, &get("/hello.txt")).body, b"hello world\n");
        assert!(started.elapsed() < Duration::from_secs(1));
        thread::sleep(Duration::from_millis(200));
    }
    let (took, reply) = slowloris.join().unwrap();
    assert!(reply.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "{reply}");
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(7), "{took:?}");
}

#[test]
fn five_hundred_idle_connections_do_not_block_anybody() {
    let site = site();
    let (srv, addr) = serve(&site.root(), &[]);
    let idle: Vec<TcpStream> = (0..500).map(|_| connect(&addr)).collect();
    // Half of them also started a request and stopped.
    for stream in idle.iter().step_by(2) {
        (&*stream).write_all(b"GET /hel").unwrap();
    }
    for _ in 0..20 {
        let started = Instant::now();
        assert_eq!(exchange(&addr, &get("/hello.txt")).body, b"hello world\n");
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }
    drop(idle);
    assert_eq!(exchange(&addr, &get("/listing/alpha.txt")).body, b"alpha.txt");
    let done = srv.stop();
    assert!(done.stderr.contains("on 521 connections"), "{}", done.stderr);
}

#[test]
fn resets_in_the_middle_of_a_large_response_hurt_nobody() {
    let site = site();
    let (srv, addr) = serve(&site.root(), &["--quiet"]);
    for round in 0..20 {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        socket.connect(&addr.parse::<std::net::SocketAddr>().unwrap().into()).unwrap();
        let mut stream: TcpStream = socket.into();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.write_all(&get("/big.bin")).unwrap();
        let mut some = vec![0u8; 1000 + round * 5000];
        stream.read_exact(&mut some).unwrap();
        // SO_LINGER 0: close() sends RST, and the server's next write fails (EPIPE/ECONNRESET).
        socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO)).unwrap();
        drop(stream);
    }
    // Half a request, then a reset.
    for _ in 0..20 {
        let mut stream = connect(&addr);
        stream.write_all(b"GET /hello.txt HTTP/1.1\r\nHo").unwrap();
        socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO)).unwrap();
    }
    let r = exchange(&addr, &get("/big.bin"));
    assert_eq!(r.body.len(), BIG);
    let done = srv.stop();
    assert!(done.stderr.contains("server stopped: served "), "{}", done.stderr);
}

#[test]
fn a_refused_upload_still_reads_its_answer() {
    let site = site();
    let (_srv, addr) = serve(&site.root(), &[]);
    let mut stream = connect(&addr);
    let writer = stream.try_clone().unwrap();
    // 1 MiB the server will not read: the head says so, and the answer comes before the body
    // is through. Written from another thread, since the server stops reading.
    let uploading = thread::spawn(move || {
        let mut writer = writer;
        let head = "PUT /upload.bin HTTP/1.1\r\nHost: t\r\nContent-Length: 1048576\r\n\r\n";
        let _ = writer.write_all(head.as_bytes());
        let _ = writer.write_all(&vec![b'x'; 1 << 20]);
    });
    let response = read_response(&mut stream, false);
    assert_eq!(response.status(), 405, "{}", response.head);
    assert_eq!(response.header("Connection"), Some("close"));
    drop(stream);
    uploading.join().unwrap();
    assert!(!site.root().join("upload.bin").exists());
    assert_eq!(exchange(&addr, &get("/hello.txt")).body, b"hello world\n");
}

#[test]
fn a_body_sent_a_byte_at_a_time_is_cut_off_too() {
    let site = site();
    let (_srv, addr) = serve(&site.root(), &["--header-timeout", "1"]);
    let mut stream = connect(&addr);
    let started = Instant::now();
    stream
        .write_all(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nx")
        .unwrap();
    let mut dribble = stream.try_clone().unwrap();
    let dribbling = thread::spawn(move || {
        for _ in 0..10 {
            thread::sleep(Duration::from_millis(300));
            if dribble.write_all(b"x").is_err() {
                break;
            }
        }
    });
    // No answer: the request never completed. The connection just ends, after about 1 s.
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    dribbling.join().unwrap();
    assert_eq!(exchange(&addr, &get("/hello.txt")).body, b"hello world\n");
}

#[test]
fn a_listing_shows_nothing_of_what_a_symlink_out_of_the_root_points_to() {
    let site = site();
    let (_srv, addr) = serve(&site.root(), &[]);
    let html = String::from_utf8(exchange(&addr, &get("/")).body).unwrap();
    // Links out: their names only, marked like `ls -F` marks links; no size, no date.
    for name in ["link-out.txt", "dir-out", "abs-out"] {
        let row = html.lines().find(|l| l.contains(&format!("href=\"{name}\""))).unwrap();
        assert!(row.contains(&format!(">{name}@</a>")), "{row}");
        assert!(row.contains("<td class=\"size\">-</td><td></td>"), "{row}");
    }
    // A link inside the root is listed as its target: a file with its size.
    let row = html.lines().find(|l| l.contains("href=\"link-in.txt\"")).unwrap();
    assert!(row.contains(">link-in.txt</a></td><td class=\"size\">12</td>"), "{row}");
    // With --follow-symlinks the outside file is served, so it is listed too.
    let (_srv, addr) = serve(&site.root(), &["--follow-symlinks"]);
    let html = String::from_utf8(exchange(&addr, &get("/")).body).unwrap();
    let row = html.lines().find(|l| l.contains("href=\"dir-out/\"")).unwrap();
    assert!(row.contains(">dir-out/</a>"), "{row}");
}

/// Issue 15: a folder redirect's `Location` is built from the normalised path, so no request
/// target can make it name another host (`//host/...` is a protocol-relative URL, which a
/// browser or `curl -L` follows off the site: CVE-2021-28861 in Python's http.server).
#[test]
fn a_folder_redirect_never_names_another_host() {
    let site = site();
    let (_srv, addr) = serve(&site.root(), &[]);
    for (target, location) in [
        ("//sub", "/sub/"),
        ("///sub", "/sub/"),
        ("////sub?x=1", "/sub/?x=1"),
        ("/.//sub", "/sub/"),
        ("/%2e//sub", "/sub/"),
        ("/listing/..//sub", "/sub/"),
        ("http://x//sub", "/sub/"),
        ("http://x///sub", "/sub/"),
        ("//listing/folder", "/listing/folder/"),
    ] {
        let r = exchange(&addr, &get(target));
        assert_eq!(r.status(), 301, "{target}");
        assert_eq!(r.header("Location"), Some(location), "{target}");
    }
}

/// Issue 15: a file is not a folder. `/hello.txt/` and the spellings that normalise to it
/// get 404, as nginx answers, and never the file.
#[test]
fn a_file_is_not_served_at_a_folder_address() {
    let site = site();
    let (_srv, addr) = serve(&site.root(), &[]);
    for target in
        ["/hello.txt/", "/hello.txt/.", "/hello.txt/x/..", "/hello.txt/%2e", "//hello.txt//"]
    {
        let r = exchange(&addr, &get(target));
        assert_eq!(r.status(), 404, "{target}");
        assert!(!String::from_utf8_lossy(&r.body).contains("hello world"), "{target}");
    }
    assert_eq!(exchange(&addr, &get("/hello.txt")).status(), 200);
    assert_eq!(exchange(&addr, &get("/sub/index.html/")).status(), 404);
}

/// Issue 15: a folder is listed through the descriptor that `openat2(RESOLVE_BENEATH)` checked,
/// not looked up by path a second time. Here a symlink `swap` flips, as fast as `rename` goes,
/// between a folder inside the root and one outside it; a listing of `/swap/` is either the
/// inside folder's or a 403, never the outside one's. Bounded in requests and in time.
#[cfg(target_os = "linux")]
#[test]
fn a_symlink_swapped_during_a_listing_never_lists_outside_the_root() {
    use std::os::unix::fs::symlink;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let site = site();
    let root = site.root();
    symlink("listing", root.join("swap")).unwrap();
    let (_srv, addr) = serve(&root, &[]);
    let done = Arc::new(AtomicBool::new(false));
    let swapper = {
        let done = Arc::clone(&done);
        let root = root.clone();
        thread::spawn(move || {
            // rename() replaces the link in one step, so `swap` always exists.
            let (inside, outside) = (root.join(".swap-in"), root.join(".swap-out"));
            symlink("listing", &inside).unwrap();
            symlink("../outside", &outside).unwrap();
            let started = Instant::now();
            while !done.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(10) {
                for (target, temp) in [("../outside", &outside), ("listing", &inside)] {
                    // An error means the test has ended and its folder is gone: stop.
                    if std::fs::rename(temp, root.join("swap")).is_err()
                        || symlink(target, temp).is_err()
                    {
                        return;
                    }
                }
            }
        })
    };
    let started = Instant::now();
    let (mut listed, mut refused) = (0, 0);
    let mut stream = connect(&addr);
    for _ in 0..20_000 {
        if started.elapsed() > Duration::from_millis(2500) {
            break;
        }
        stream.write_all(&get("/swap/")).unwrap();
        let r = read_response(&mut stream, false);
        let body = String::from_utf8_lossy(&r.body);
        assert!(!body.contains("secret.txt"), "the folder outside the root was listed:\n{body}");
        match r.status() {
            200 => listed += 1,
            403 => refused += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    done.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
    assert!(listed > 0 && refused > 0, "the swap never raced: {listed} listed, {refused} refused");
}

/// Issue 15: each response has a send deadline, `--send-timeout` + size / `--min-send-rate`
/// (here 1 s + 10 MiB at 10 MiB/s = 2 s). A client that never reads, and one that reads a
/// few bytes now and then (which a timeout per write never catches), are both cut off by it.
#[test]
fn slow_readers_are_cut_off_at_the_send_deadline() {
    let site = site();
    let (srv, addr) = serve(&site.root(), &["--send-timeout", "1", "--min-send-rate", "10M"]);
    let deadline = Duration::from_secs(2);
    // Room for a loaded machine: the bug held these clients 4 s and forever.
    let bound = deadline + Duration::from_millis(1500);

    let mut silent = small_window_connect(&addr);
    let started = Instant::now();
    silent.write_all(&get("/big.bin")).unwrap();
    // The access log line is written when the response ends, cut off or not.
    srv.wait_for_stderr("\"GET /big.bin HTTP/1.1\" 200");
    let held = started.elapsed();
    assert!(held < bound, "a client that reads nothing was held {held:?}");

    let mut trickle = small_window_connect(&addr);
    let started = Instant::now();
    trickle.write_all(&get("/big.bin")).unwrap();
    let mut bytes = [0u8; 64];
    let mut got = 0usize;
    loop {
        match trickle.read(&mut bytes) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
        let held = started.elapsed();
        assert!(held < bound + Duration::from_secs(3), "a trickling reader is still served");
        // The slow reader is the thing under test: 64 bytes every 20 ms, 3 KiB/s.
        thread::sleep(Duration::from_millis(20));
    }
    let held = started.elapsed();
    assert!(held < bound, "a trickling reader was held {held:?}");
    assert!(got < BIG, "the whole file went out at 3 KiB/s?");
    // And the server serves others.
    assert_eq!(exchange(&addr, &get("/hello.txt")).body, b"hello world\n");
}

/// A steady reader, 32 KiB every 10 ms (3 MiB/s at best), slower than the 10 MiB/s the
/// deadline asks for: each wait for room ends soon, yet the response is cut at the deadline.
#[test]
fn a_steady_reader_slower_than_the_minimum_rate_is_cut_off_at_the_deadline() {
    let site = site();
    let (_srv, addr) = serve(&site.root(), &["--send-timeout", "1", "--min-send-rate", "10M"]);
    let bound = Duration::from_secs(2) + Duration::from_millis(1500);
    let mut steady = connect(&addr);
    let started = Instant::now();
    steady.write_all(&get("/big.bin")).unwrap();
    let mut chunk = vec![0u8; 32 << 10];
    let mut got = 0usize;
    loop {
        match steady.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
        assert!(
            started.elapsed() < bound + Duration::from_secs(3),
            "a slow reader is still served"
        );
        thread::sleep(Duration::from_millis(10));
    }
    let held = started.elapsed();
    assert!(held < bound, "a steady but slow reader was held {held:?}");
    assert!(got < BIG, "the whole file went out to a reader slower than --min-send-rate");
}

/// A lookup that fails on the path itself is "not found": a file used as a folder (ENOTDIR),
/// a name longer than the system takes (ENAMETOOLONG), a symlink loop (ELOOP).
#[cfg(target_os = "linux")]
#[test]
fn paths_that_cannot_be_looked_up_are_404() {
    use std::os::unix::fs::symlink;
    let site = site();
    symlink("loop-b", site.root().join("loop-a")).unwrap();
    symlink("loop-a", site.root().join("loop-b")).unwrap();
    let (_srv, addr) = serve(&site.root(), &[]);
    let long = format!("/{}", "n".repeat(300));
    for target in ["/hello.txt/x", long.as_str(), "/loop-a", "/loop-a/x"] {
        assert_eq!(
            exchange(&addr, &get(target)).status(),
            404,
            "{}",
            &target[..20.min(target.len())]
        );
    }
}
