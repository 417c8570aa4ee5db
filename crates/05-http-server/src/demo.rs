//! `demo`: the file server and a tiny client in one process, on a free port, narrated.
//!
//! The chapter's two programs are a `hello` server and a `serve` server, not a server and a
//! client of our own (chapter 06 builds the client), so the demo brings a few lines of client:
//! it opens one connection and sends three requests on it, one after the other, the way a
//! browser reuses a kept-alive connection. Watch one `accept` serve all three.

use std::io::{self, BufRead, BufReader, Read, Write};
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
        let mut reader = BufReader::new(&stream);
        for (path, last) in [("/", false), ("/hello.txt", false), ("/missing.txt", true)] {
            let status = fetch(&stream, &mut reader, addr, path, last, n)?;
            println!("GET {path} -> {status}");
        }
        drop(reader);
        // The last request said `Connection: close`: the server has sent its FIN (--kernel
        // shows CLOSE-WAIT above), and this close() ends the connection.
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
    let mut line = String::new();
    loop {
        line.clear();
        step!(n, stream, "recv");
        if (&mut *reader).take(8 << 10).read_line(&mut line)? == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof))
                .context("the server closed mid-response");
        }
        narrate!(n, stream, "recv -> {}", py_bytes_preview(line.as_bytes(), 100));
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
    let mut body = vec![0u8; length as usize];
    step!(n, stream, "recv of the {length}-byte body");
    reader.read_exact(&mut body)?;
    narrate!(n, stream, "recv -> body, {length} bytes: {}", py_bytes_preview(&body, 80));
    Ok(status)
}
// ANCHOR_END: fetch

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
