//! `demo`: the file server and a tiny client in one process, on a free port, narrated.
//!
//! The chapter's two programs are a `hello` server and a `serve` server, not a server and a
//! client of our own (chapter 06 builds the client), so the demo brings a few lines of client:
//! it opens one connection and sends three requests on it, one after the other, the way a
//! browser reuses a kept-alive connection. Watch one `accept` serve all three.

use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;

use anyhow::{Context, Result};
use common::narrate;
use common::narrate::Narrator;
use common::step;
use common::stop::Stop;
use common::text::py_bytes_preview;

use crate::config::{Config, DEFAULT_BACKLOG, Limits};
use crate::server;

/// The most a demo response may hold: the demo's files are tiny.
const MAX_RESPONSE: u64 = 1 << 20;

/// The most one line of a response head may hold, as the server's own head limit is 8 KiB.
const MAX_LINE: usize = 8 << 10;

/// The client's buffer, so its size in each `recv` (std's `BufReader` default).
const RECV_SIZE: usize = 8 << 10;

/// How long the client waits for the server's close after `Connection: close`: it comes at
/// once, so waiting longer would only hide a server that forgot.
const SERVER_CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs the narrated demo.
///
/// # Errors
/// When the demo folder cannot be made, or the server or the client fails.
pub fn run() -> Result<()> {
    let dir = DemoDir::create()?;
    let config = Config {
        host: "127.0.0.1".into(),
        port: 0,
        root: dir.0.clone(),
        follow_symlinks: false,
        quiet: false,
        backlog: DEFAULT_BACKLOG,
        limits: Limits::default(),
        narrator: Narrator::new("server", true),
    };
    let stop = Stop::new();
    let (listener, shared) = server::prepare(&config, Arc::clone(&stop))?;
    let addr = listener.local_addr().context("could not read the bound address")?;
    println!("listening on {addr}");
    let serving = thread::spawn({
        let shared = Arc::clone(&shared);
        move || server::serve(listener, &shared)
    });

    let n = Narrator::new("client", true);
    let outcome = (|| -> Result<()> {
        step!(n, "socket(AF_INET, SOCK_STREAM) and connect({addr})");
        let stream =
            TcpStream::connect(addr).with_context(|| format!("could not connect to {addr}"))?;
        narrate!(n, &stream, "connect({addr}) -> {}", narrate::fd(&stream));
        let mut reader = BufReader::with_capacity(RECV_SIZE, &stream);
        for (path, last) in [("/", false), ("/hello.txt", false), ("/missing.txt", true)] {
            let status = fetch(&stream, &mut reader, addr, path, last, n)?;
            println!("GET {path} -> {status}");
        }
        // The last request said `Connection: close`, so the server closes after its answer.
        // Reading on to that end (recv returns 0) lets the server close first, as HTTP/1.1
        // means it to: --kernel shows our side in CLOSE-WAIT, and its side in TIME-WAIT.
        stream.set_read_timeout(Some(SERVER_CLOSE_WAIT))?;
        let left = reader.buffer().len();
        anyhow::ensure!(left == 0, "{left} bytes after the last response");
        let got = recv(&stream, &mut reader, n)
            .context("the server did not close after `Connection: close`")?;
        anyhow::ensure!(got == 0, "{got} bytes after the last response");
        drop(reader);
        narrate::close(n, stream, "");
        Ok(())
    })();

    stop.trigger();
    serving.join().map_err(|_| anyhow::anyhow!("the server thread panicked"))??;
    eprintln!("server stopped: {}", shared.stats);
    outcome
}

// ANCHOR: fetch
/// Sends one `GET` and reads its response: the head up to the blank line, then exactly
/// `Content-Length` bytes of body, so the next response on this connection starts where it
/// should. Returns the status line.
fn fetch(
    mut stream: &TcpStream,
    reader: &mut BufReader<&TcpStream>,
    addr: std::net::SocketAddr,
    path: &str,
    last: bool,
    n: Narrator,
) -> Result<String> {
    let connection = if last { "Connection: close\r\n" } else { "" };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: 05-http-server-demo\r\n{connection}\r\n"
    );
    // Narrated before the call, so the line comes before the server's answer to it.
    step!(n, stream, "sendall({} bytes)", request.len());
    narrate!(n, "sendall({} bytes): {}", request.len(), py_bytes_preview(request.as_bytes(), 120));
    stream.write_all(request.as_bytes())?;
    let mut status = String::new();
    let mut length = 0u64;
    loop {
        let line = next_line(stream, reader, n)?;
        narrate!(n, "  from the buffer: {}", py_bytes_preview(&line, 100));
        let line = String::from_utf8_lossy(&line);
        let text = line.trim_end();
        if text.is_empty() {
            break;
        }
        if status.is_empty() {
            status = text.to_owned();
        } else if let Some((name, value)) = text.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().context("a bad Content-Length")?;
            }
        }
    }
    anyhow::ensure!(length <= MAX_RESPONSE, "a {length}-byte body is more than the demo reads");
    let mut body = Vec::with_capacity(length as usize);
    while body.len() < length as usize {
        let buffered = refill(stream, reader, n)?;
        let take = buffered.len().min(length as usize - body.len());
        body.extend_from_slice(&buffered[..take]);
        reader.consume(take);
    }
    narrate!(n, "  from the buffer: body, {length} bytes: {}", py_bytes_preview(&body, 80));
    Ok(status)
}
// ANCHOR_END: fetch

/// The next line of the response head, `\n` included, cut from the reader's buffer.
fn next_line(
    stream: &TcpStream,
    reader: &mut BufReader<&TcpStream>,
    n: Narrator,
) -> Result<Vec<u8>> {
    let mut line = Vec::new();
    loop {
        let buffered = refill(stream, reader, n)?;
        let end = buffered.iter().position(|&b| b == b'\n');
        let take = end.map_or(buffered.len(), |i| i + 1);
        line.extend_from_slice(&buffered[..take]);
        reader.consume(take);
        if end.is_some() {
            return Ok(line);
        }
        anyhow::ensure!(line.len() <= MAX_LINE, "a response line longer than {MAX_LINE} bytes");
    }
}

// ANCHOR: refill
/// The bytes the reader holds, after one `recv` if it held none. A `recv` returns whatever has
/// arrived, here often a whole response: the lines and the body are then cut from the buffer
/// with no further call, which is why the narration shows fewer `recv`s than lines.
fn refill<'r>(
    stream: &TcpStream,
    reader: &'r mut BufReader<&TcpStream>,
    n: Narrator,
) -> Result<&'r [u8]> {
    if reader.buffer().is_empty() {
        let got = recv(stream, reader, n)?;
        anyhow::ensure!(got > 0, "the server closed mid-response");
    }
    Ok(reader.buffer())
}

/// One `recv` into the reader's empty buffer, stepped and narrated; 0 is the server's close.
fn recv(stream: &TcpStream, reader: &mut BufReader<&TcpStream>, n: Narrator) -> io::Result<usize> {
    step!(n, stream, "recv({RECV_SIZE})");
    let got = reader.fill_buf()?.len();
    let closed = if got == 0 { " (the server closed)" } else { "" };
    narrate!(n, stream, "recv({RECV_SIZE}) -> {got} bytes{closed}");
    Ok(got)
}
// ANCHOR_END: refill

/// A scratch folder with a few files to serve, removed when the demo ends.
struct DemoDir(PathBuf);

impl DemoDir {
    fn create() -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("05-http-server-demo-{}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
        let made = Self(dir);
        std::fs::write(made.0.join("hello.txt"), "hello world\n")?;
        std::fs::write(
            made.0.join("page.html"),
            "<!DOCTYPE html><title>page</title><p>A page.</p>\n",
        )?;
        std::fs::create_dir_all(made.0.join("pictures"))?;
        Ok(made)
    }
}

impl Drop for DemoDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
