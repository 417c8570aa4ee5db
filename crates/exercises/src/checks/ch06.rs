//! Chapter 06's checks: a chunked body decoder, the tutorial's "read until a short read", and
//! redirects followed only on the same host. The student's program is the client; the grader
//! is the server ([`Origin`]), and keeps each connection open after its answer, as HTTP/1.1
//! servers do, so a client that waits for the close is caught.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::{Program, tail};
use crate::origin::{Origin, Part, Reply};
use crate::peer::{show, show_all};
use crate::run::{Ended, MAX_RSS};
use crate::verdict::Failure;

/// How long a client may take before the grader stops it.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(4);

/// How long the grader's server stays up for one step.
const ORIGIN_LIMIT: Duration = Duration::from_secs(15);

/// The head of a chunked response.
const CHUNKED_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";

/// A 64 KiB chunk, for the body that is too big to keep.
const BIG_CHUNK: usize = 64 * 1024;

/// How many of them: 160 MiB, more than the memory cap.
const BIG_CHUNKS: usize = 2560;

/// chunked: chunk sizes with extensions and capitals, trailers, one byte per write, a size
/// line cut in two, a malformed size, and a body bigger than the memory cap.
///
/// # Errors
/// The first step that failed.
pub fn chunked(program: &Program) -> Result<(), Failure> {
    let book = "docs/src/06-http-client.md#where-a-response-ends";
    let cases: &[(&str, &[u8], &[u8], bool)] = &[
        ("two chunks", b"5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n", b"hello, world", false),
        (
            "extensions after `;`, capital hex, leading zeros",
            b"00A;name=value\r\n0123456789\r\n1;flag\r\n!\r\n0\r\n\r\n",
            b"0123456789!",
            false,
        ),
        (
            "trailers after the last chunk",
            b"3\r\nabc\r\n0\r\nX-Checksum: 42\r\nX-Other: 1\r\n\r\n",
            b"abc",
            false,
        ),
        (
            "one byte per write",
            b"4\r\nWiki\r\n6;x=1\r\npedia \r\n0\r\nX-Checksum: 42\r\n\r\n",
            b"Wikipedia ",
            true,
        ),
    ];
    for (what, wire, body, one_byte) in cases {
        let step = format!("a chunked body: {what}");
        let reply = Reply {
            parts: vec![Part::Bytes([CHUNKED_HEAD, wire].concat())],
            one_byte_per_write: *one_byte,
            close: false,
        };
        let ended = fetch(program, &step, reply.clone(), None)?;
        expect_body(&step, &ended, body, &py_server(program, &reply), book)?;
        program.passed(&step);
    }

    let step = "a chunk size line cut in two, 100 ms apart".to_owned();
    let pause = Part::Pause(Duration::from_millis(100));
    let reply = Reply {
        parts: vec![
            Part::Bytes([CHUNKED_HEAD, b"1"].concat()),
            pause.clone(),
            Part::Bytes(b"0\r\n0123456789abcdef\r\n".to_vec()),
            pause,
            Part::Bytes(b"0\r\n\r\n".to_vec()),
        ],
        one_byte_per_write: false,
        close: false,
    };
    let ended = fetch(program, &step, reply.clone(), None)?;
    expect_body(&step, &ended, b"0123456789abcdef", &py_server(program, &reply), book)?;
    program.passed(&step);

    let step = "a malformed chunk size: an error, not a panic";
    let reply = Reply::whole([CHUNKED_HEAD, b"zz\r\nhello\r\n0\r\n\r\n"].concat());
    let ended = fetch(program, step, reply.clone(), None)?;
    let failed_cleanly = ended.status.is_some_and(|s| !s.success() && s.code() == Some(1))
        && !ended.stderr.contains("panicked");
    if !failed_cleanly {
        return Err(Failure::new(step)
            .sent(show(&[CHUNKED_HEAD, b"zz\r\nhello\r\n0\r\n\r\n"].concat()))
            .expected("exit status 1 and an error message on stderr (`zz` is not hex)")
            .got(ended_in_words(&ended))
            .repro(py_server(program, &reply))
            .book(book));
    }
    program.passed(step);

    let step = "a 160 MiB body in 64 KiB chunks, written to /dev/null";
    let mut chunk = format!("{BIG_CHUNK:x}\r\n").into_bytes();
    chunk.extend(std::iter::repeat_n(b'x', BIG_CHUNK));
    chunk.extend_from_slice(b"\r\n");
    let reply = Reply {
        parts: vec![
            Part::Bytes(CHUNKED_HEAD.to_vec()),
            Part::Repeat(chunk, BIG_CHUNKS),
            Part::Bytes(b"0\r\n\r\n".to_vec()),
        ],
        one_byte_per_write: false,
        close: false,
    };
    let ended = fetch(program, step, reply, Some("/dev/null"))?;
    let total = BIG_CHUNK * BIG_CHUNKS;
    if !ended.status.is_some_and(|s| s.success())
        || !ended.stderr.contains(&format!("body: {total} bytes"))
    {
        return Err(Failure::new(step)
            .sent(format!("{BIG_CHUNKS} chunks of {BIG_CHUNK} bytes, then the last chunk"))
            .expected(format!(
                "`body: {total} bytes` on stderr and exit 0, with memory that does not grow \
                 with the body (the grader stops a program over {} MiB)",
                MAX_RSS >> 20
            ))
            .got(ended_in_words(&ended))
            .repro(
                "python3 -c \"import socket,time; l=socket.create_server(('127.0.0.1',8080)); \
                 c,_=l.accept(); c.recv(4096); c.sendall(b'HTTP/1.1 200 OK\\r\\nTransfer-Encoding: \
                 chunked\\r\\n\\r\\n'); [c.sendall(b'10000\\r\\n'+b'x'*65536+b'\\r\\n') for i in \
                 range(2560)]; c.sendall(b'0\\r\\n\\r\\n'); time.sleep(5)\" &  sleep 0.5; \
                 /usr/bin/time -v PROGRAM 127.0.0.1:8080 /dev/null"
                    .replace("PROGRAM", &program.run_by_hand),
            )
            .book(book));
    }
    program.passed(step);
    Ok(())
}

/// Serves `reply` to the program, run as `PROGRAM ADDR [OUT]`, and returns how it ended.
fn fetch(program: &Program, step: &str, reply: Reply, out: Option<&str>) -> Result<Ended, Failure> {
    let origin = Origin::start("127.0.0.1", move |_| reply.clone(), ORIGIN_LIMIT)
        .map_err(|e| Failure::new(step).got(format!("the grader could not listen: {e}")))?;
    let mut args = vec![origin.addr.to_string()];
    args.extend(out.map(str::to_owned));
    program.run_client(step, &args, CLIENT_TIMEOUT)
}

/// The program exited 0 and printed exactly `body`.
fn expect_body(
    step: &str,
    ended: &Ended,
    body: &[u8],
    repro: &str,
    book: &str,
) -> Result<(), Failure> {
    if ended.status.is_some_and(|s| s.success()) && ended.stdout.as_bytes() == body {
        return Ok(());
    }
    Err(Failure::new(step)
        .sent("the response above, and the connection kept open afterwards (HTTP/1.1)")
        .expected(format!("the body {} on stdout, then exit 0", show(body)))
        .got(ended_in_words(ended))
        .repro(repro.to_owned())
        .book(book))
}

/// How a client ended, for a failure's "got".
fn ended_in_words(ended: &Ended) -> String {
    let printed = format!("it printed {}", show(ended.stdout.as_bytes()));
    match ended.status {
        None => format!(
            "{printed}, and was still running after {CLIENT_TIMEOUT:?}: stopped by the grader \
             (waiting for a close that an HTTP/1.1 server does not send?){}",
            tail("stderr", &ended.stderr)
        ),
        Some(status) => {
            format!("{printed}, and exited with {status}{}", tail("stderr", &ended.stderr))
        }
    }
}

/// A Python server that sends `reply` once, and the program run against it: the "try it" line.
fn py_server(program: &Program, reply: &Reply) -> String {
    let mut sends = Vec::new();
    // Long bodies here are the alphabet again and again: written as a Python expression.
    let mut offset = 0;
    let mut literal = |bytes: &[u8]| {
        if bytes.len() <= 200 {
            return show_all(bytes);
        }
        let head = bytes.windows(4).position(|w| w == b"\r\n\r\n").map_or(0, |i| i + 4);
        let (start, end) = (offset, offset + bytes.len() - head);
        offset = end;
        format!("{}+bytes(97+i%26 for i in range({start},{end}))", show_all(&bytes[..head]))
    };
    for part in &reply.parts {
        match part {
            Part::Bytes(bytes) if reply.one_byte_per_write => {
                sends.push(format!("[c.send(bytes([b])) for b in {}]", literal(bytes)));
            }
            Part::Bytes(bytes) => sends.push(format!("c.sendall({})", literal(bytes))),
            Part::Pause(pause) => sends.push(format!("time.sleep({})", pause.as_secs_f64())),
            Part::Repeat(..) => {}
        }
    }
    format!(
        "python3 -c \"import socket,time; l=socket.create_server(('127.0.0.1',8080)); \
         c,_=l.accept(); c.recv(4096); {}; time.sleep(5)\" &  sleep 0.5; {} 127.0.0.1:8080",
        sends.join("; "),
        program.run_by_hand
    )
}

/// short_read: a body that comes with the head, after it, and in pieces; the connection is
/// kept open after each.
///
/// # Errors
/// The first step that failed.
pub fn short_read(program: &Program) -> Result<(), Failure> {
    let book = "docs/src/06-http-client.md#why-recv-until-short-is-wrong";
    let head =
        |len: usize| format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n").into_bytes();
    let small = b"hello from the server".to_vec();
    // Under the 64 KiB of output the grader keeps, over a dozen recv(4096)s.
    let big: Vec<u8> = (0..50_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let pause = Part::Pause(Duration::from_millis(300));
    let cases: Vec<(&str, Vec<Part>, &[u8])> = vec![
        (
            "the head and the body in one write",
            vec![Part::Bytes([head(small.len()), small.clone()].concat())],
            &small,
        ),
        (
            "the body 300 ms after the head",
            vec![Part::Bytes(head(small.len())), pause.clone(), Part::Bytes(small.clone())],
            &small,
        ),
        (
            "a 50,000-byte body in three pieces, 300 ms apart",
            vec![
                Part::Bytes([head(big.len()), big[..15_000].to_vec()].concat()),
                pause.clone(),
                Part::Bytes(big[15_000..35_000].to_vec()),
                pause,
                Part::Bytes(big[35_000..].to_vec()),
            ],
            &big,
        ),
    ];
    for (what, parts, body) in cases {
        let step = format!("Content-Length: {}, {what}", body.len());
        let reply = Reply { parts, one_byte_per_write: false, close: false };
        let ended = fetch(program, &step, reply.clone(), None)?;
        expect_body(&step, &ended, body, &py_server(program, &reply), book)?;
        program.passed(&step);
    }
    Ok(())
}

/// redirect: a path and an absolute URL on the same origin are followed; another host,
/// another port and a loop are not, and the other servers see no connection.
///
/// # Errors
/// The first step that failed.
pub fn redirect(program: &Program) -> Result<(), Failure> {
    let book = "docs/src/06-http-client.md#redirects";
    let stolen = |_: &str| Reply {
        parts: vec![Part::Bytes(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nstolen\n".to_vec())],
        one_byte_per_write: false,
        close: true,
    };
    let listen = |ip: &str, routes: Box<dyn Fn(&str) -> Reply + Send + Sync>| {
        Origin::start(ip, routes, ORIGIN_LIMIT).map_err(|e| {
            Failure::new("the grader's servers").got(format!("could not listen on {ip}: {e}"))
        })
    };
    // Another host: 127.0.0.2 is loopback too (all of 127.0.0.0/8 is), and another name.
    let other_host = listen("127.0.0.2", Box::new(stolen))?;
    let other_port = listen("127.0.0.1", Box::new(stolen))?;
    let own: Arc<OnceLock<String>> = Arc::new(OnceLock::new());
    let (away, port) = (other_host.addr, other_port.addr);
    let own_in_routes = Arc::clone(&own);
    let site = listen(
        "127.0.0.1",
        Box::new(move |path: &str| {
            let to = |status: &str, location: String| Reply {
                parts: vec![Part::Bytes(
                    format!(
                        "HTTP/1.1 {status}\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
                    )
                    .into_bytes(),
                )],
                one_byte_per_write: false,
                close: true,
            };
            let own = own_in_routes.get().cloned().unwrap_or_default();
            match path {
                "/start" => to("302 Found", "/final".to_owned()),
                "/abs" => to("301 Moved Permanently", format!("http://{own}/final")),
                "/away" => to("302 Found", format!("http://{away}/stolen")),
                "/port" => to("307 Temporary Redirect", format!("http://{port}/stolen")),
                "/loop" => to("302 Found", "/loop".to_owned()),
                _ => Reply {
                    parts: vec![Part::Bytes(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nyou made it\n".to_vec(),
                    )],
                    one_byte_per_write: false,
                    close: true,
                },
            }
        }),
    )?;
    let _ = own.set(site.addr.to_string());
    let url = |path: &str| format!("http://{}{path}", site.addr);
    // The "try it" line: a Python server on 8080 that redirects to `location` (on 9090 for
    // the other servers, watched by nc) and answers /final, then the program.
    let by_hand = |path: &str| {
        let location = match path {
            "/start" => "/final",
            "/abs" => "http://127.0.0.1:8080/final",
            "/away" => "http://127.0.0.2:9090/stolen",
            "/port" => "http://127.0.0.1:9090/stolen",
            other => other,
        };
        let watch = match path {
            "/away" => "nc -lv 127.0.0.2 9090 &  ",
            "/port" => "nc -lv 127.0.0.1 9090 &  ",
            _ => "",
        };
        format!(
            "{watch}python3 -c \"import socket; l=socket.create_server(('127.0.0.1',8080)); \
             [(lambda c: (lambda r: (c.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: \
             12\\r\\n\\r\\nyou made it\\n' if b' /final ' in r else b'HTTP/1.1 302 \
             Found\\r\\nLocation: {location}\\r\\nContent-Length: 0\\r\\n\\r\\n'), \
             c.close()))(c.recv(4096)))(l.accept()[0]) for _ in range(10)]\" &  sleep 0.5; {} \
             http://127.0.0.1:8080{path}",
            program.run_by_hand
        )
    };

    for (path, what) in [
        ("/final", "no redirect"),
        ("/start", "302 to a path: /final"),
        ("/abs", "301 to an absolute URL on the same host and port"),
    ] {
        let step = format!("GET {path}: {what}");
        let ended = program.run_client(&step, &[url(path)], CLIENT_TIMEOUT)?;
        expect_body(&step, &ended, b"you made it\n", &by_hand(path), book)?;
        program.passed(&step);
    }

    for (path, what, other) in [
        ("/away", format!("302 to another host, http://{away}/"), &other_host),
        ("/port", format!("307 to another port, http://{port}/"), &other_port),
    ] {
        let step = format!("GET {path}: {what}");
        let ended = program.run_client(&step, &[url(path)], CLIENT_TIMEOUT)?;
        let refused = ended.status.is_some_and(|s| !s.success());
        if !refused || other.connections() > 0 {
            let got = if other.connections() > 0 {
                format!(
                    "the client connected to {} and asked for {:?}; {}",
                    other.addr,
                    other.seen().first().map(|s| s.request_line.clone()).unwrap_or_default(),
                    ended_in_words(&ended)
                )
            } else {
                ended_in_words(&ended)
            };
            return Err(Failure::new(&step)
                .sent(format!("a redirect from {} to {}", site.addr, other.addr))
                .expected(
                    "exit 1 with a message, and no connection to the other server: an origin \
                     is scheme, host and port, and a real client would carry this site's \
                     cookies and credentials along",
                )
                .got(got)
                .repro(by_hand(path))
                .book("docs/src/06-http-client.md#urls-strict-about-the-authority"));
        }
        program.passed(&step);
    }

    let step = "GET /loop: a redirect to itself, for ever";
    let ended = program.run_client(step, &[url("/loop")], CLIENT_TIMEOUT)?;
    let asked = site.seen().iter().filter(|s| s.request_line.starts_with("GET /loop ")).count();
    let refused = ended.status.is_some_and(|s| !s.success());
    if !refused || asked > 6 {
        return Err(Failure::new(step)
            .sent("302 with `Location: /loop`, every time")
            .expected("at most 5 redirects followed (6 requests), then exit 1 with a message")
            .got(format!("{asked} requests for /loop; {}", ended_in_words(&ended)))
            .repro(by_hand("/loop"))
            .book(book));
    }
    program.passed(step);
    Ok(())
}
