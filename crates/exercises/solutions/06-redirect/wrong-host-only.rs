//! Exercise 06-redirect, a wrong answer: compares the host and not the port.
//!
//! `127.0.0.1:8080` and `127.0.0.1:9090` are two servers, maybe two users' servers: an origin
//! is scheme, host *and* port.

use std::io::{self, Read, Write};
use std::net::TcpStream;

fn main() {
    let url = std::env::args().nth(1).unwrap_or_else(|| "http://127.0.0.1:8080/".to_owned());
    match run(&url) {
        Ok(body) => {
            let _ = io::stdout().write_all(&body);
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

/// How many redirects are followed before the client gives up (a loop never ends by itself).
const MAX_REDIRECTS: usize = 5;

/// GETs `url`, following redirects on the same host and port; the body of the final 200.
fn run(url: &str) -> io::Result<Vec<u8>> {
    let mut url = parse_url(url)?;
    for _ in 0..=MAX_REDIRECTS {
        let response = get(&url)?;
        match response.status {
            200 => return Ok(response.body),
            301 | 302 | 303 | 307 | 308 => {
                let location = response.header("Location").ok_or_else(|| invalid("no Location"))?;
                let next = if location.starts_with('/') {
                    // A path: the same host and port.
                    Url { path: location.to_owned(), ..url.clone() }
                } else {
                    parse_url(location)?
                };
                // Same host only.
                if next.host != url.host {
                    return Err(invalid(&format!("not following {location}: another host")));
                }
                url = next;
            }
            status => return Err(invalid(&format!("status {status}"))),
        }
    }
    Err(invalid(&format!("more than {MAX_REDIRECTS} redirects")))
}

/// A URL split the way this client needs it: `http://HOST:PORT/PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Url {
    host: String,
    port: u16,
    path: String,
}

fn parse_url(text: &str) -> io::Result<Url> {
    let rest = text.strip_prefix("http://").ok_or_else(|| invalid("only http:// URLs"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, port.parse().map_err(|_| invalid("a bad port"))?),
        None => (authority, 80),
    };
    Ok(Url { host: host.to_owned(), port, path: path.to_owned() })
}

/// A response: its status code, its headers, its body.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// One GET on a new connection (`Connection: close`), read to the close.
fn get(url: &Url) -> io::Result<Response> {
    let mut conn = TcpStream::connect((url.host.as_str(), url.port))?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}:{}\r\nConnection: close\r\n\r\n",
        url.path, url.host, url.port
    );
    conn.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw)?;
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| invalid("no head"))?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|c| c.parse().ok());
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let status = status.ok_or_else(|| invalid("no status line"))?;
    Ok(Response { status, headers, body: raw[end + 4..].to_vec() })
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}
