//! Chapter 05's checks: a URL path mapped to a file without leaving the root, the tutorial's
//! response without a status line or `Content-Length`, and HEAD and `Range` added to a server.

use std::path::PathBuf;
use std::time::Duration;

use super::http::{Response, nothing_more, read_response};
use super::{ECHO_TIMEOUT, Program, Server, tail};
use crate::peer::{Ending, Mode, show};
use crate::verdict::Failure;

/// A folder of the grader's, removed when dropped: a root to serve and a secret beside it.
struct Folder(PathBuf);

impl Folder {
    fn new(name: &str) -> Result<Self, Failure> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("exercise-{name}-{}-{nanos}", std::process::id()));
        let made = (|| {
            std::fs::create_dir_all(dir.join("root/sub"))?;
            std::fs::write(dir.join("root/index.html"), INDEX)?;
            std::fs::write(dir.join("root/hello.txt"), HELLO)?;
            std::fs::write(dir.join("root/sub/a b.txt"), SPACED)?;
            std::fs::write(dir.join("secret.txt"), SECRET)
        })();
        made.map_err(|e| Failure::new("a folder to serve").got(format!("{}: {e}", dir.display())))?;
        Ok(Self(dir))
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const INDEX: &[u8] = b"<h1>the index</h1>\n";
const HELLO: &[u8] = b"hello from the root\n";
const SPACED: &[u8] = b"a file with a space in its name\n";
const SECRET: &[u8] = b"SECRET: this file is outside the root\n";

/// Where the "try it" lines put the folder: the same layout as the grader's.
const BY_HAND_DIR: &str = "/tmp/www";

/// Targets and what they must give: a file's bytes, or a refusal (4xx) without the secret.
/// `DIR` stands for the folder holding the root and the secret.
const TARGETS: &[(&str, &str, Option<&[u8]>)] = &[
    ("a file", "/hello.txt", Some(HELLO)),
    ("a folder: its index.html", "/", Some(INDEX)),
    ("an escaped space", "/sub/a%20b.txt", Some(SPACED)),
    ("a query string", "/hello.txt?lang=en", Some(HELLO)),
    ("`..` above the root", "/../secret.txt", None),
    ("`..` encoded as %2e%2e", "/%2e%2e/secret.txt", None),
    ("`..` encoded in capitals, twice", "/sub/%2E%2E/%2E%2E/secret.txt", None),
    ("an encoded slash: ..%2f", "/sub/..%2f..%2fsecret.txt", None),
    ("an absolute path behind `//`", "/DIR/secret.txt", None),
    ("a NUL byte", "/hello.txt%00.html", None),
    ("a file that is not there", "/nope.txt", None),
];

/// safe_path: every target of `TARGETS` on its own connection, then the server still runs.
///
/// # Errors
/// The first target answered wrongly.
pub fn safe_path(program: &Program) -> Result<(), Failure> {
    let folder = Folder::new("05-safe-path")?;
    let root = folder.0.join("root");
    let mut server = program.start_server_with(&[root.as_os_str()])?;
    for (what, target, want) in TARGETS {
        let dir = folder.0.display().to_string();
        let sent = target.replace("DIR", &dir);
        let shown = target.replace("DIR", BY_HAND_DIR);
        let step = format!("GET {shown}: {what}");
        let request =
            format!("GET {sent} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        let repro = format!(
            "mkdir -p {BY_HAND_DIR}/root && echo SECRET > {BY_HAND_DIR}/secret.txt && {} \
             127.0.0.1:8080 {BY_HAND_DIR}/root &  curl -v --path-as-is \
             'http://127.0.0.1:8080{shown}'",
            program.run_by_hand
        );
        let failure = || {
            Failure::new(&step)
                .sent(show(request.as_bytes()))
                .expected(match want {
                    Some(body) => format!("200 and the file's bytes, {}", show(body)),
                    None => "a 4xx status (404, 403 or 400) and none of the secret file's bytes"
                        .to_owned(),
                })
                .repro(repro.clone())
        };
        let response = exchange(&mut server, &step, request.as_bytes(), Mode::Whole)
            .map_err(|got| server.died_or(failure().got(got)))?;
        let right = match want {
            Some(body) => response.status == 200 && response.body == *body,
            None => (400..500).contains(&response.status),
        };
        if !right || response.body.windows(6).any(|w| w == b"SECRET") {
            let mut got = format!("`{}`, body {}", response.summary(), show(&response.body));
            if response.body.windows(6).any(|w| w == b"SECRET") {
                got.push_str(": the secret file, from outside the root");
            }
            return Err(failure().got(got));
        }
        program.passed(&step);
    }
    server.still_running("every target", "the requests above", "curl -v http://127.0.0.1:8080/")?;
    Ok(())
}

/// Sends `request` on a new connection (in `mode`) and reads one response.
fn exchange(
    server: &mut Server,
    step: &str,
    request: &[u8],
    mode: Mode,
) -> Result<Response, String> {
    let mut peer = server.connect(step).map_err(|f| f.got)?;
    peer.send(request, mode).map_err(|e| format!("send failed: {e}"))?;
    read_response(&mut peer, &mut Vec::new(), false, ECHO_TIMEOUT)
}

/// The body the tutorial's server sends: `hello world` and the `\r\n` its triple-quoted string
/// ended with.
const HELLO_BODY: &[u8] = b"hello world\r\n";

/// A request as a keep-alive client sends it.
const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/// fix_response: curl, a keep-alive client, pipelined requests, a head in pieces,
/// `Connection: close`, and the descriptors of closed connections.
///
/// # Errors
/// The first step that failed.
pub fn fix_response(program: &Program) -> Result<(), Failure> {
    let mut server = program.start_server()?;
    let step = "curl: a status line, headers, the body";
    curl_hello(&mut server, step)?;
    program.passed(step);

    let book_keep_alive = "docs/src/05-http-server.md#reading-requests-off-a-stream";
    let step = "two requests, one after the other, on one connection (keep-alive)";
    let repro = "python3 -c \"import http.client as h; c=h.HTTPConnection('127.0.0.1',PORT); \
                 [(c.request('GET','/'), print(c.getresponse().read())) for _ in range(2)]\"";
    let mut peer = server.connect(step)?;
    let mut buf = Vec::new();
    for i in 1..=2 {
        let sent = format!("request {i} of 2: {}", show(GET));
        let _ = peer.send(GET, Mode::Whole);
        let response = read_response(&mut peer, &mut buf, false, ECHO_TIMEOUT);
        hello_or_fail(&mut server, step, &sent, response, repro, book_keep_alive)?;
    }
    drop(peer);
    program.passed(step);

    let step = "two requests in one write (pipelined)";
    let repro = "python3 -c \"import socket; s=socket.create_connection(('127.0.0.1',PORT)); \
                 s.sendall(b'GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'*2); import time; \
                 time.sleep(0.5); print(s.recv(4096))\"";
    let mut peer = server.connect(step)?;
    let _ = peer.send(&[GET, GET].concat(), Mode::Coalesced);
    let mut buf = Vec::new();
    for i in 1..=2 {
        let sent = format!("{} twice in one write; response {i}", show(GET));
        let response = read_response(&mut peer, &mut buf, false, ECHO_TIMEOUT);
        hello_or_fail(&mut server, step, &sent, response, repro, book_keep_alive)?;
    }
    drop(peer);
    program.passed(step);

    let step = "a request head one byte per write";
    let repro = "python3 -c \"import socket; s=socket.create_connection(('127.0.0.1',PORT)); \
                 [s.send(bytes([b])) for b in b'GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n']; \
                 print(s.recv(4096))\"";
    let mut peer = server.connect(step)?;
    let _ = peer.send(GET, Mode::OneBytePerWrite);
    let response = read_response(&mut peer, &mut Vec::new(), false, ECHO_TIMEOUT);
    hello_or_fail(&mut server, step, &show(GET), response, repro, book_keep_alive)?;
    drop(peer);
    program.passed(step);

    let step = "`Connection: close`: the answer, then the server closes";
    let request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    let repro = "curl -v -H 'Connection: close' http://127.0.0.1:PORT/";
    let mut peer = server.connect(step)?;
    let _ = peer.send(request, Mode::Whole);
    let mut buf = Vec::new();
    let response = read_response(&mut peer, &mut buf, false, ECHO_TIMEOUT);
    hello_or_fail(&mut server, step, &show(request), response, repro, book_keep_alive)?;
    let (more, ending) = peer.read_to_close(4096, ECHO_TIMEOUT);
    if !buf.is_empty() || !more.is_empty() || ending != Ending::Done {
        return Err(server.died_or(
            Failure::new(step)
                .sent(show(request))
                .expected("the response, then the connection closed (recv returns 0)")
                .got(format!(
                    "after the response: {}, {}",
                    show(&more),
                    ending.describe(ECHO_TIMEOUT)
                ))
                .repro(server.repro(repro)),
        ));
    }
    drop(peer);
    program.passed(step);

    let step = "20 connections, each closed by its client: their sockets are closed too";
    server.closes_its_sockets(
        step,
        20,
        GET,
        "for i in $(seq 20); do curl -s http://127.0.0.1:PORT/ >/dev/null; done",
    )?;
    program.passed(step);
    Ok(())
}

/// curl as the outside client: it refuses a response without a status line ("HTTP/0.9").
fn curl_hello(server: &mut Server, step: &str) -> Result<(), Failure> {
    let url = format!("http://{}/", server.addr);
    let args = ["-sS", "-i", "--max-time", "5", &url];
    let repro = server.repro("curl -v http://127.0.0.1:PORT/");
    let ended = super::outside_tool("curl", &args, Duration::from_secs(6))
        .map_err(|e| Failure::new(step).got(e))?;
    let expected_tail = String::from_utf8_lossy(HELLO_BODY).into_owned();
    let ok = ended.status.is_some_and(|s| s.success())
        && ended.stdout.starts_with("HTTP/1.1 200")
        && ended.stdout.ends_with(&format!("\r\n\r\n{expected_tail}"));
    if !ok {
        let got = match ended.status {
            Some(status) if !status.success() => {
                format!("curl {status}{}", tail("curl said", &ended.stderr))
            }
            None => "curl was still waiting after 6 s (stopped)".to_owned(),
            Some(_) => match ended.stdout.split_once("\r\n\r\n") {
                Some((head, body)) => format!(
                    "curl printed the head `{}`, then the body {}",
                    head.replace("\r\n", " | "),
                    show(body.as_bytes())
                ),
                None => format!("curl printed {}", show(ended.stdout.as_bytes())),
            },
        };
        return Err(server.died_or(
            Failure::new(step)
                .sent(format!("curl -sS -i {url}"))
                .expected(format!(
                    "`HTTP/1.1 200 OK`, headers with `Content-Length: {}`, a blank line, then {}",
                    HELLO_BODY.len(),
                    show(HELLO_BODY)
                ))
                .got(got)
                .repro(repro)
                .book("docs/src/05-http-server.md#why-the-broken-version-fails"),
        ));
    }
    Ok(())
}

fn hello_or_fail(
    server: &mut Server,
    step: &str,
    sent: &str,
    response: Result<Response, String>,
    repro: &str,
    book: &str,
) -> Result<(), Failure> {
    let got = match response {
        Ok(r) if r.status == 200 && r.body == HELLO_BODY => return Ok(()),
        Ok(r) => format!("`{}`, then the body {}", r.summary(), show(&r.body)),
        Err(why) => why,
    };
    Err(server.died_or(
        Failure::new(step)
            .sent(sent.to_owned())
            .expected(format!(
                "`HTTP/1.1 200 OK` with `Content-Length: {}`, then the body {} (and the \
                 connection kept open for the next request)",
                HELLO_BODY.len(),
                show(HELLO_BODY)
            ))
            .got(got)
            .repro(server.repro(repro))
            .book(book),
    ))
}

/// The body the range server serves: the alphabet, again and again, 1000 bytes.
fn range_body() -> Vec<u8> {
    (0..1000u32).map(|i| b'a' + (i % 26) as u8).collect()
}

/// range: GET as before, HEAD without a body, and ranges of every form, with curl in repros.
///
/// # Errors
/// The first step that failed.
pub fn range(program: &Program) -> Result<(), Failure> {
    let body = range_body();
    let mut server = program.start_server()?;
    let book = "docs/src/05-http-server.md#sending-a-file-304-206-and-zero-copy";

    let step = "GET: the whole body";
    let full =
        expect_status(&mut server, step, "GET", None, 200, "curl -v http://127.0.0.1:PORT/")?;
    if full.body != body {
        return Err(Failure::new(step)
            .sent("GET / HTTP/1.1")
            .expected(format!("the 1000-byte body {}", show(&body)))
            .got(show(&full.body))
            .repro(server.repro("curl -v http://127.0.0.1:PORT/")));
    }
    program.passed(step);

    let step = "HEAD: the same head as GET, and no body";
    let request = "HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    let repro = server.repro("curl -v -I http://127.0.0.1:PORT/");
    let mut peer = server.connect(step)?;
    let _ = peer.send(request.as_bytes(), Mode::Whole);
    let mut buf = Vec::new();
    let failure = || {
        Failure::new(step)
            .sent(show(request.as_bytes()))
            .expected(
                "`HTTP/1.1 200 OK` with `Content-Length: 1000`, and not one byte after the head",
            )
            .repro(repro.clone())
            .book(book)
    };
    let head = read_response(&mut peer, &mut buf, true, ECHO_TIMEOUT)
        .map_err(|got| server.died_or(failure().got(got)))?;
    if head.status != 200 || head.header("Content-Length") != Some("1000") {
        return Err(failure().got(format!("`{}`", head.summary())));
    }
    nothing_more(&mut peer, &buf, Duration::from_millis(300)).map_err(|got| {
        failure().got(format!(
            "`{}`, then {got}: a body after HEAD is read as the start of the next response",
            head.summary()
        ))
    })?;
    drop(peer);
    program.passed(step);

    // (what, the Range header, the status, the bytes FIRST..=LAST of the body expected)
    type Case<'a> = (&'a str, &'a str, u16, Option<(usize, usize)>);
    let cases: &[Case] = &[
        ("the first 100 bytes", "bytes=0-99", 206, Some((0, 99))),
        ("from byte 990 to the end", "bytes=990-", 206, Some((990, 999))),
        ("the last 5 bytes", "bytes=-5", 206, Some((995, 999))),
        ("an end past the last byte", "bytes=995-2000", 206, Some((995, 999))),
        ("a start past the end: 416", "bytes=1000-", 416, None),
        ("a header that is not a byte range: ignored", "bytes=abc", 200, None),
    ];
    for (what, range, status, slice) in cases {
        let step = format!("Range: {range} ({what})");
        let repro = format!("curl -v -H 'Range: {range}' http://127.0.0.1:PORT/");
        let response = expect_status(&mut server, &step, "GET", Some(range), *status, &repro)?;
        let (want_range, want_body) = match (status, slice) {
            (206, Some((first, last))) => {
                (Some(format!("bytes {first}-{last}/1000")), body[*first..=*last].to_vec())
            }
            (416, _) => (Some("bytes */1000".to_owned()), response.body.clone()),
            _ => (None, body.clone()),
        };
        let got_range = response.header("Content-Range").map(str::to_owned);
        if (want_range.is_some() && got_range != want_range) || response.body != want_body {
            return Err(Failure::new(&step)
                .sent(format!("GET / with `Range: {range}`"))
                .expected(format!(
                    "{status}{}, body {}",
                    want_range.map(|r| format!(" with `Content-Range: {r}`")).unwrap_or_default(),
                    show(&want_body)
                ))
                .got(format!("`{}`, body {}", response.summary(), show(&response.body)))
                .repro(server.repro(&repro))
                .book(book));
        }
        program.passed(&step);
    }
    Ok(())
}

/// Sends `METHOD /` (with a `Range` header if given) and expects `status`.
fn expect_status(
    server: &mut Server,
    step: &str,
    method: &str,
    range: Option<&str>,
    status: u16,
    repro: &str,
) -> Result<Response, Failure> {
    let range_line = range.map(|r| format!("Range: {r}\r\n")).unwrap_or_default();
    let request = format!("{method} / HTTP/1.1\r\nHost: 127.0.0.1\r\n{range_line}\r\n");
    let failure = |got: String| {
        Failure::new(step)
            .sent(show(request.as_bytes()))
            .expected(format!("status {status}"))
            .got(got)
            .book("docs/src/05-http-server.md#sending-a-file-304-206-and-zero-copy")
    };
    match exchange(server, step, request.as_bytes(), Mode::Whole) {
        Ok(response) if response.status == status => Ok(response),
        Ok(response) => {
            let f = failure(format!("`{}`", response.summary()));
            Err(f.repro(server.repro(repro)))
        }
        Err(why) => {
            let f = failure(why).repro(server.repro(repro));
            Err(server.died_or(f))
        }
    }
}
