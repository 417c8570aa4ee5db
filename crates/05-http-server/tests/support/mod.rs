//! What the chapter's test files share: a site on disk to serve, the server started on it,
//! and a raw HTTP exchange over a plain `TcpStream`, so tests see the exact bytes.

// Not every test file uses every helper, and `pub` here means "for the test files".
#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;

use testkit::{PATIENCE, Proc};

/// What `outside/secret.txt`, beside the served folder, holds. No response may ever contain it.
pub const SECRET: &str = "TOP SECRET: outside the served folder";
/// The size of `big.bin`.
pub const BIG: usize = 10 << 20;

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_05-http-server"))
}

/// A scratch folder: `root/` is served, `outside/` is its sibling and must never be served.
pub struct Site {
    pub dir: tempfile::TempDir,
}

impl Site {
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }
}

/// The byte at offset `i` of `big.bin`: a pattern, so a misplaced byte shows.
pub fn big_byte(i: usize) -> u8 {
    (i % 251) as u8
}

/// Builds the site every test serves.
pub fn site() -> Site {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let outside = dir.path().join("outside");
    for d in
        [&root, &outside, &root.join("sub"), &root.join("listing"), &root.join("listing/folder")]
    {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(outside.join("secret.txt"), SECRET).unwrap();
    std::fs::write(root.join("hello.txt"), "hello world\n").unwrap();
    std::fs::write(
        root.join("sub/index.html"),
        "<!DOCTYPE html><title>sub</title><p>index of sub</p>\n",
    )
    .unwrap();
    for name in [
        "a b.txt",
        "<img src=x onerror=alert(1)>.txt",
        "Zeta.txt",
        "alpha.txt",
        "100%.txt",
        "café.txt",
    ] {
        std::fs::write(root.join("listing").join(name), name).unwrap();
    }
    let big: Vec<u8> = (0..BIG).map(big_byte).collect();
    std::fs::write(root.join("big.bin"), big).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        symlink("../outside/secret.txt", root.join("link-out.txt")).unwrap();
        symlink("../outside", root.join("dir-out")).unwrap();
        symlink(&outside, root.join("abs-out")).unwrap();
        symlink("hello.txt", root.join("link-in.txt")).unwrap();
        let fifo = Command::new("mkfifo").arg(root.join("pipe.txt")).status().unwrap();
        assert!(fifo.success(), "mkfifo");
    }
    Site { dir }
}

/// `05-http-server serve ROOT --port 0 ARGS`, with its address once it is listening.
pub fn serve(root: &Path, args: &[&str]) -> (Proc, String) {
    let proc = Proc::spawn(bin().arg("serve").arg(root).args(["--port", "0"]).args(args));
    let addr = proc.listening_addr();
    (proc, addr)
}

pub fn connect(addr: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// A connection whose receive buffer is small (4 KiB), so the server's writes to it block
/// soon when it stops reading.
pub fn small_window_connect(addr: &str) -> TcpStream {
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    let socket =
        socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None)
            .unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&addr.into()).unwrap();
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// One response: its head as text (up to and including the blank line) and its body.
#[derive(Debug)]
pub struct Response {
    pub head: String,
    pub body: Vec<u8>,
}

impl Response {
    pub fn status(&self) -> u16 {
        self.head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0)
    }

    /// A header's value (first one; names compared without case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The head with the values of `Date`, `Last-Modified` and `ETag` (which change) replaced.
    pub fn masked_head(&self) -> String {
        self.head
            .split("\r\n")
            .map(|line| {
                for (name, mask) in
                    [("Date: ", "<date>"), ("Last-Modified: ", "<date>"), ("ETag: ", "<etag>")]
                {
                    if line.starts_with(name) {
                        return format!("{name}{mask}");
                    }
                }
                line.to_owned()
            })
            .collect::<Vec<_>>()
            .join("\r\n")
    }
}

/// Reads one response from `stream`: the head, then `Content-Length` bytes of body (none
/// when `no_body`, as for `HEAD`). Byte by byte for the head, so nothing of the next response
/// is read ahead.
pub fn read_response(stream: &mut TcpStream, no_body: bool) -> Response {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).unwrap();
        assert!(n == 1, "the connection ended inside a head: {:?}", String::from_utf8_lossy(&head));
        head.push(byte[0]);
        assert!(head.len() < 64 << 10, "a runaway head");
    }
    let head = String::from_utf8(head).unwrap();
    let mut response = Response { head, body: Vec::new() };
    let status = response.status();
    if !no_body && status != 304 {
        let len: usize =
            response.header("Content-Length").expect("Content-Length").parse().unwrap();
        response.body = vec![0u8; len];
        stream.read_exact(&mut response.body).unwrap();
    }
    response
}

/// Sends `request` on a fresh connection and reads one response.
pub fn exchange(addr: &str, request: &[u8]) -> Response {
    let mut stream = connect(addr);
    stream.write_all(request).unwrap();
    read_response(&mut stream, request.starts_with(b"HEAD "))
}

/// A GET for `path` with a Host header, as raw bytes.
pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").into_bytes()
}

/// Reads until the server closes (or the read times out, which fails the test).
pub fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    stream.read_to_end(&mut all).unwrap();
    all
}
