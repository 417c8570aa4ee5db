//! `demo`: a tiny HTTP server on an ephemeral loopback port, in this process, and the client
//! fetching from it with `-v`, so every request and response line is on screen.
//!
//! 1. three URLs on one keep-alive connection: a `Content-Length` body, a chunked body, and a
//!    301 redirect followed with `-L` (the second and later requests say `Re-using existing
//!    connection`);
//! 2. the tutorial's "recv until a short read" loop against two responses it gets wrong: one sent
//!    in two pieces (truncated) and one exactly 1024 bytes long (hangs until a timeout).
//!
//! The server is the least an HTTP/1.1 server can be: it reads a request head (bounded), looks
//! at the path, writes a canned response, and keeps the connection for the next request.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result};
use ch01_echo::listen::{ListenOptions, listen};
use common::accept::AcceptPolicy;
use common::narrate::Narrator;
use common::{narrate, step};

use crate::client;
use crate::options::Options;
use crate::target::Target;
use crate::tutorial::{self, TutorialOutcome};
use crate::wire::Wire;

/// A small backlog: the demo's only clients are its own, one or two at a time.
const LISTEN_OPTIONS: ListenOptions = ListenOptions { backlog: 16, reuse_address: true };
/// 8 KiB: the demo server's largest request head.
const MAX_REQUEST_HEAD: usize = 8 * 1024;
/// How long the demo server waits for a request before closing an idle connection.
const SERVER_IDLE: Duration = Duration::from_secs(5);
/// How long the tutorial's loop may wait for bytes that never come, in the demo.
const TUTORIAL_PATIENCE: Duration = Duration::from_secs(1);

/// Runs the demo.
///
/// # Errors
/// When loopback cannot be bound or a fetch fails.
pub fn run(trace: bool) -> Result<()> {
    let server = Narrator::new("server", true);
    // Chapter 01's recipe, narrated: socket, SO_REUSEADDR, bind to an ephemeral port, listen.
    let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let listener = listen(loopback, &LISTEN_OPTIONS, server)?;
    let addr = listener.local_addr()?;
    println!("listening on {addr}");
    thread::spawn(move || serve(&listener, server));
    let demo = Narrator::new("demo", true);

    narrate!(demo, "1. three URLs, one connection: -v shows each request and response head");
    let base = format!("http://{addr}");
    let urls = ["/", "/chunked", "/moved"]
        .iter()
        .map(|path| Target::parse(&format!("{base}{path}")))
        .collect::<Result<Vec<_>>>()?;
    let mut options = Options::new(urls);
    options.follow = true;
    client::run(options, Wire::new(true, Narrator::new("client", trace), None))?;

    narrate!(demo, "2. the tutorial's loop: recv(1024) until a recv returns fewer than 1024 bytes");
    if narrate::step::is_on() {
        // The lesson is timing: a server paused at Enter would make every reply look late.
        narrate!(
            demo,
            "--step runs on from here: part 2 is about timing, and a pause would change it"
        );
        narrate::step::run_on();
    }
    for (path, total) in [("/slow", SLOW_BODY_LEN), ("/exact", EXACT_RESPONSE_LEN)] {
        let mut stream =
            TcpStream::connect(addr).context("could not connect to the demo server")?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        match tutorial::recv_until_short(&mut stream, request.as_bytes(), TUTORIAL_PATIENCE)? {
            TutorialOutcome::Stopped(got) => narrate!(
                demo,
                "GET {path}: a short read stopped the loop after {} bytes, head included, but \
                 the body alone is {total} bytes: TRUNCATED",
                got.len()
            ),
            TutorialOutcome::Hung(got) => narrate!(
                demo,
                "GET {path}: {} bytes, every recv full, so it called recv again and waited: \
                 HUNG (gave up after {} s)",
                got.len(),
                TUTORIAL_PATIENCE.as_secs()
            ),
        }
    }
    narrate!(
        demo,
        "the client reads by Content-Length or chunks instead; see response.rs and body.rs"
    );
    Ok(())
}

/// `/slow` sends its 3000-byte body in two writes with a pause between them.
const SLOW_BODY_LEN: usize = 3000;
/// `/exact` is a response of exactly 1024 bytes, head and body, on a kept-alive connection.
const EXACT_RESPONSE_LEN: usize = 1024;

fn serve(listener: &TcpListener, n: Narrator) {
    let mut accept_errors = AcceptPolicy::new(n);
    loop {
        step!(n, listener, "accept()");
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            // Out of descriptors, retrying at once would burn a core: common::accept pauses.
            Err(e) => match accept_errors.recover(e) {
                Ok(()) => continue,
                Err(_) => return,
            },
        };
        accept_errors.accepted();
        let peer = stream.peer_addr().map(|p| p.to_string()).unwrap_or_default();
        narrate!(n, (listener, &stream), "accept() -> {}, peer {peer}", narrate::fd(&stream));
        // One thread per connection, as in chapter 02: the tutorial's hung loop keeps its
        // connection open while the next one is served.
        thread::spawn(move || {
            let _ = serve_client(stream, n);
        });
    }
}

fn serve_client(mut stream: TcpStream, n: Narrator) -> std::io::Result<()> {
    stream.set_read_timeout(Some(SERVER_IDLE))?;
    let mut buf = Vec::new();
    loop {
        let Some(path) = read_request_path(&mut stream, &mut buf)? else {
            // With --kernel: CLOSE-WAIT, the client's FIN has arrived; returning drops the
            // stream, which sends ours.
            narrate!(n, &stream, "recv() -> 0 bytes (the client closed); close()");
            return Ok(());
        };
        // One pause per response: with --kernel it shows the request already read and the
        // connection ESTABLISHED, before the response goes out.
        step!(n, &stream, "sendall(the response to GET {path})");
        let body = "Hello from the demo server!\n";
        match path.as_str() {
            "/" => {
                narrate!(n, "GET / -> 200, {} bytes with Content-Length", body.len());
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                stream.write_all(format!("{head}{body}").as_bytes())?;
            }
            "/chunked" => {
                narrate!(n, "GET /chunked -> 200, 3 chunks");
                stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n\
                      6\r\nchunks\r\n6\r\n come \r\nc\r\none by one.\n\r\n0\r\n\r\n",
                )?;
            }
            "/moved" => {
                narrate!(n, "GET /moved -> 301, Location: /");
                stream.write_all(
                    b"HTTP/1.1 301 Moved Permanently\r\nLocation: /\r\nContent-Length: 0\r\n\r\n",
                )?;
            }
            "/slow" => {
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {SLOW_BODY_LEN}\r\n\r\n");
                let body = vec![b's'; SLOW_BODY_LEN];
                stream.write_all(head.as_bytes())?;
                stream.write_all(&body[..1000])?;
                narrate!(
                    n,
                    &stream,
                    "GET /slow -> sent the head and 1000 bytes; the other 2000 in 200 ms"
                );
                thread::sleep(Duration::from_millis(200));
                stream.write_all(&body[1000..])?;
            }
            _ => {
                let head = "HTTP/1.1 200 OK\r\nContent-Length: ";
                // The body length that makes head + body exactly EXACT_RESPONSE_LEN bytes.
                let mut len = EXACT_RESPONSE_LEN - head.len() - 4;
                len -= len.to_string().len();
                narrate!(n, "GET {path} -> 200, exactly {EXACT_RESPONSE_LEN} bytes in all");
                let response = format!("{head}{len}\r\n\r\n{}", "x".repeat(len));
                stream.write_all(response.as_bytes())?;
            }
        }
    }
}

/// Reads one request head (bounded) and returns its path, or `None` when the client closed.
fn read_request_path(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Option<String>> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(buf) {
            Ok(httparse::Status::Complete(len)) => {
                let path = request.path.unwrap_or("/").to_owned();
                buf.drain(..len);
                return Ok(Some(path));
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_REQUEST_HEAD => {}
            _ => return Ok(None),
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return Ok(None),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}
