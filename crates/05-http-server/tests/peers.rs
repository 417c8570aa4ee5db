//! Chapter 05 against clients nobody here wrote: curl, Python's `http.client` and `urllib`,
//! and a real browser (headless Chromium). `.ci/run` installs curl and chromium; a missing
//! one fails the test loudly rather than skipping it.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;

use support::*;
use testkit::{Finished, Proc, run};

/// Runs curl. (The test kit collects stdout line by line, so `\r\n` arrives as `\n`, and the
/// last line gets a `\n`.)
fn curl(args: &[&str]) -> Finished {
    run(Command::new("curl").args(["--silent", "--show-error", "--max-time", "10"]).args(args))
}

fn url(addr: &str, path: &str) -> String {
    format!("http://{addr}{path}")
}

#[test]
fn curl_get_head_range_and_304() {
    let site = site();
    let (_srv, addr) = serve(&site.root(), &[]);
    let out = curl(&[&url(&addr, "/hello.txt")]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, "hello world\n");

    let out = curl(&["--head", &url(&addr, "/hello.txt")]);
    assert!(out.stdout.starts_with("HTTP/1.1 200 OK\n"), "{}", out.stdout);
    assert!(out.stdout.contains("\nContent-Length: 12\n"), "{}", out.stdout);
    let modified = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Last-Modified: "))
        .unwrap()
        .trim()
        .to_owned();

    let out = curl(&["--range", "0-4", &url(&addr, "/hello.txt")]);
    assert_eq!(out.stdout, "hello\n");
    // Ten bytes from the middle of the big file, into a file: 206, and the right bytes.
    let part = site.dir.path().join("part.bin");
    let part_arg = part.to_str().unwrap();
    let args = ["--range", "5000000-5000009", "--write-out", "%{http_code}", "--output", part_arg];
    let out = curl(&[&args[..], &[url(&addr, "/big.bin").as_str()]].concat());
    assert_eq!(out.stdout, "206\n");
    let expected: Vec<u8> = (5_000_000..5_000_010).map(big_byte).collect();
    assert_eq!(std::fs::read(&part).unwrap(), expected);

    let ims = format!("If-Modified-Since: {modified}");
    let out = curl(&[
        "--header",
        &ims,
        "--write-out",
        "%{http_code}",
        "--output",
        "/dev/null",
        &url(&addr, "/hello.txt"),
    ]);
    assert_eq!(out.stdout, "304\n");

    // A folder without its slash: curl follows the 301 to the listing.
    let out = curl(&["--location", &url(&addr, "/listing")]);
    assert!(out.stdout.contains("<title>Index of /listing/</title>"), "{}", out.stdout);
}

#[test]
fn curl_reuses_one_connection_for_two_urls() {
    let site = site();
    let (srv, addr) = serve(&site.root(), &[]);
    let out = curl(&["--verbose", &url(&addr, "/hello.txt"), &url(&addr, "/listing/alpha.txt")]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, "hello world\nalpha.txt\n");
    assert!(out.stderr.contains("Re-using existing connection"), "{}", out.stderr);
    let done = srv.stop();
    assert!(done.stderr.contains("served 2 requests on 1 connection,"), "{}", done.stderr);
}

#[test]
fn curl_accepts_hello_and_refuses_the_broken_hello() {
    let srv = Proc::spawn(bin().args(["hello", "--port", "0"]));
    let addr = srv.listening_addr();
    let out = curl(&["--include", &url(&addr, "/")]);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.starts_with("HTTP/1.1 200 OK\n"), "{}", out.stdout);
    assert!(out.stdout.ends_with("Content-Length: 11\n\nhello world\n"), "{}", out.stdout);

    let broken = Proc::spawn(bin().args(["hello", "--port", "0", "--broken"]));
    let addr = broken.listening_addr();
    let out = curl(&[&url(&addr, "/")]);
    // No status line: curl takes it for HTTP/0.9, which it refuses by default.
    assert!(!out.status.success(), "{out:?}");
    assert!(out.stderr.contains("HTTP/0.9"), "{}", out.stderr);
}

/// Python's http.client on one connection: GET, HEAD, a range and a 404, then the
/// connection's local port, which is the same for all four if it was kept alive.
const PY_HTTP_CLIENT: &str = r#"
import http.client, sys
host, port = sys.argv[1].rsplit(":", 1)
conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=10)
ports = set()
for method, path, headers in [("GET", "/hello.txt", {}), ("HEAD", "/hello.txt", {}),
                              ("GET", "/hello.txt", {"Range": "bytes=6-"}), ("GET", "/nope", {})]:
    conn.request(method, path, headers=headers)
    resp = conn.getresponse()
    body = resp.read()
    ports.add(conn.sock.getsockname()[1])
    print(method, path, resp.status, resp.getheader("Content-Type"), repr(body[:20]))
print("connections used:", len(ports))
"#;

#[test]
fn python_http_client_keeps_one_connection() {
    let site = site();
    let (_srv, addr) = serve(&site.root(), &[]);
    let out = run(Command::new("python3").args(["-c", PY_HTTP_CLIENT, &addr]));
    assert!(out.status.success(), "{out:?}");
    for line in [
        "GET /hello.txt 200 text/plain; charset=utf-8 b'hello world\\n'",
        "HEAD /hello.txt 200 text/plain; charset=utf-8 b''",
        "GET /hello.txt 206 text/plain; charset=utf-8 b'world\\n'",
        "GET /nope 404 text/html; charset=utf-8 b'<!DOCTYPE html>\\n<htm'",
        "connections used: 1",
    ] {
        assert!(out.stdout.contains(line), "missing {line:?} in\n{}", out.stdout);
    }
}

/// urllib follows the listing's links, as a crawler would: every link must lead to a file
/// (or a folder) of the listing, names with spaces, `%` and markup included.
const PY_URLLIB: &str = r#"
import html.parser, sys, urllib.parse, urllib.request
base = f"http://{sys.argv[1]}/listing/"
class Links(html.parser.HTMLParser):
    links = []
    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.append(dict(attrs)["href"])
page = urllib.request.urlopen(base, timeout=10).read().decode()
parser = Links()
parser.feed(page)
for href in parser.links:
    if href.endswith("/"):
        continue
    body = urllib.request.urlopen(urllib.parse.urljoin(base, href), timeout=10).read().decode()
    print(f"{href} -> {body}")
"#;

#[test]
fn python_urllib_follows_every_link_of_a_listing() {
    let site = site();
    let (_srv, addr) = serve(&site.root(), &[]);
    let out = run(Command::new("python3").args(["-c", PY_URLLIB, &addr]));
    assert!(out.status.success(), "{out:?}");
    for line in [
        "a%20b.txt -> a b.txt",
        "100%25.txt -> 100%.txt",
        "caf%C3%A9.txt -> café.txt",
        "%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.txt -> <img src=x onerror=alert(1)>.txt",
        "Zeta.txt -> Zeta.txt",
    ] {
        assert!(out.stdout.contains(line), "missing {line:?} in\n{}", out.stdout);
    }
}

/// Headless Chromium in a small window.
fn chromium(profile: &std::path::Path, args: &[&str]) -> Finished {
    let mut all = vec!["--window-size=400,300"];
    all.extend_from_slice(args);
    testkit::chromium(profile, &all)
}

/// Decodes an 8-bit RGB or RGBA PNG (what Chromium writes) with Python's zlib, and prints
/// how many pixels are the page's CSS blue and the image's red.
const PY_PNG_COLOURS: &str = r#"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat = 8, b""
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    chunk = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
    elif kind == b"IDAT":
        idat += chunk
    pos += 12 + length
assert depth == 8 and colour in (2, 6), (depth, colour)
bpp = 3 if colour == 2 else 4
raw, stride = zlib.decompress(idat), width * bpp
prev, rows, i = bytearray(stride), [], 0
for _ in range(height):
    kind, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
    i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b, c = prev[x], prev[x - bpp] if x >= bpp else 0
        if kind == 1: line[x] = (line[x] + a) & 255
        elif kind == 2: line[x] = (line[x] + b) & 255
        elif kind == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif kind == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(line)
    prev = line
near = lambda px, rgb: all(abs(px[k] - rgb[k]) <= 8 for k in range(3))
blue = red = 0
for line in rows:
    for x in range(0, stride, bpp):
        px = line[x:x + 3]
        blue += near(px, (10, 120, 200))
        red += near(px, (255, 0, 0))
print(f"{width}x{height} blue={blue} red={red}")
"#;

/// An 8x8 red PNG, written with zlib by hand (no image crate needed).
fn red_png() -> Vec<u8> {
    let out = run(Command::new("python3").args([
        "-c",
        "import struct, sys, zlib\n\
         raw = b''.join(b'\\x00' + b'\\xff\\x00\\x00' * 8 for _ in range(8))\n\
         chunk = lambda t, d: struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))\n\
         sys.stdout.write((b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 8, 8, 8, 2, 0, 0, 0))\n\
         + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b'')).hex())",
    ]));
    assert!(out.status.success(), "{out:?}");
    let hex = out.stdout.trim();
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn chromium_renders_a_listing_and_a_page_with_css_and_an_image() {
    let site = site();
    let web = site.root().join("web");
    std::fs::create_dir_all(&web).unwrap();
    std::fs::write(
        web.join("page.html"),
        "<!DOCTYPE html><html><head><link rel=\"stylesheet\" href=\"style.css\"></head>\
         <body><h1>Served by chapter 05</h1><img src=\"red.png\" width=\"120\" height=\"120\"></body></html>",
    )
    .unwrap();
    std::fs::write(
        web.join("style.css"),
        "body { background: rgb(10, 120, 200); margin: 0 } h1 { color: white }",
    )
    .unwrap();
    std::fs::write(web.join("red.png"), red_png()).unwrap();
    let (srv, addr) = serve(&site.root(), &[]);
    let profile = tempfile::tempdir().unwrap();

    // The DOM of the listing, as the browser parsed it.
    let out = chromium(profile.path(), &["--dump-dom", &url(&addr, "/listing/")]);
    assert!(out.stdout.contains("<h1>Index of /listing/</h1>"), "{}", out.stdout);
    assert!(out.stdout.contains("<a href=\"a%20b.txt\">a b.txt</a>"), "{}", out.stdout);
    assert!(
        out.stdout.contains("&lt;img src=x onerror=alert(1)&gt;.txt"),
        "markup in a name stays text"
    );

    // A screenshot of the page: the stylesheet's blue and the image's red must both be there.
    let shot = profile.path().join("shot.png");
    chromium(
        profile.path(),
        &[&format!("--screenshot={}", shot.display()), &url(&addr, "/web/page.html")],
    );
    let out = run(Command::new("python3").args(["-c", PY_PNG_COLOURS]).arg(&shot));
    assert!(out.status.success(), "{out:?}");
    let counts = out.stdout.trim().to_owned();
    let number = |key: &str| -> u64 {
        counts.split_whitespace().find_map(|w| w.strip_prefix(key)).unwrap().parse().unwrap()
    };
    assert!(number("blue=") > 20_000, "the CSS background is missing: {counts}");
    assert!(number("red=") > 5_000, "the image is missing: {counts}");
    srv.wait_for_stderr("\"GET /web/red.png HTTP/1.1\" 200 ");
    let log = srv.stderr();
    assert!(log.contains("\"GET /web/style.css HTTP/1.1\" 200 "), "{log}");
}

/// Issue 15: curl's own ETag cache (`--etag-save`, then `--etag-compare`) gets a 304.
#[test]
fn curl_etag_compare_gets_304() {
    let site = site();
    let (_srv, addr) = serve(&site.root(), &[]);
    let saved = site.dir.path().join("etag.txt");
    let saved = saved.to_str().unwrap();
    let out = curl(&["--etag-save", saved, &url(&addr, "/hello.txt")]);
    assert_eq!(out.stdout, "hello world\n", "{out:?}");
    let out =
        curl(&["--etag-compare", saved, "--write-out", "%{http_code}", &url(&addr, "/hello.txt")]);
    assert_eq!(out.stdout, "304\n", "{out:?}");
}
