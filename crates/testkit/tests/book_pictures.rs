//! The book's pictures, checked the way a reader meets them: `mdbook build` makes the book, a
//! small HTTP server serves it on loopback, and headless Chromium loads every page. The test
//! fails when an image does not load, has no alt text, is not referenced by any page, when a
//! chart is stale against the numbers on the benchmarks page, or when a figure renders blank in
//! the light or the dark theme. It needs `mdbook` (the version `.ci/run` pins), Chromium and
//! python3; a missing one fails the test with the command that installs it.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use testkit::{Finished, run};

/// Every `![alt](target)` in a page: (alt, target). A `!` that merely ends a sentence before a
/// `[link](…)` is not an image: the alt text is one line, closed by `](`.
fn markdown_images(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("![") {
        rest = &rest[start + 2..];
        let Some(close) = rest.find(']') else { break };
        let alt = &rest[..close];
        let after = &rest[close + 1..];
        if alt.contains('\n') || !after.starts_with('(') {
            continue;
        }
        let Some(end) = after.find(')') else { break };
        found.push((alt.to_owned(), after[1..end].to_owned()));
        rest = &after[end..];
    }
    found
}

#[test]
fn the_image_scanner_reads_alt_and_target() {
    assert_eq!(
        markdown_images("a ![one two](img/a.svg) b ![](img/b.svg) Yes!\n[link](x.md)"),
        vec![
            ("one two".to_owned(), "img/a.svg".to_owned()),
            (String::new(), "img/b.svg".to_owned())
        ]
    );
}

/// The sources: every image a page shows has alt text and exists, and every SVG in
/// `docs/src/img` is shown by some page (a picture nobody references is a stale one).
#[test]
fn every_picture_is_referenced_exists_and_has_alt_text() {
    let src = testkit::workspace_root().join("docs/src");
    let mut referenced = BTreeSet::new();
    let mut problems = Vec::new();
    for page in testkit::book_pages(&src) {
        let text = fs::read_to_string(&page).unwrap();
        let name = page.file_name().unwrap().to_string_lossy().into_owned();
        for (alt, target) in markdown_images(&text) {
            if alt.trim().is_empty() {
                problems.push(format!("{name}: {target} has no alt text"));
            }
            if !src.join(&target).is_file() {
                problems.push(format!("{name}: {target} does not exist"));
            }
            referenced.insert(target);
        }
    }
    let mut svgs = 0;
    for entry in fs::read_dir(src.join("img")).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        if file.ends_with(".svg") {
            svgs += 1;
            if !referenced.contains(&format!("img/{file}")) {
                problems.push(format!("img/{file} is not shown by any page"));
            }
            let svg = fs::read_to_string(&path).unwrap();
            // Small and self-contained: no raster images or fonts embedded in a figure.
            if svg.contains("data:") || svg.contains("@font-face") || svg.len() > 64 << 10 {
                problems.push(format!("img/{file} embeds data or is over 64 KiB"));
            }
        }
    }
    assert!(problems.is_empty(), "book pictures:\n{}", problems.join("\n"));
    assert!(svgs >= 12, "expected the book's figures in docs/src/img, found {svgs} SVGs");
}

/// The charts are drawn from the tables on the benchmarks page; a table changed without
/// re-running the script leaves a chart that disagrees with the page.
#[test]
fn the_benchmark_charts_match_the_benchmarks_page() {
    let out = run(Command::new("python3")
        .arg(testkit::workspace_root().join("scripts/book-pictures.py"))
        .arg("--check"));
    assert!(
        out.status.success(),
        "the pictures are stale: run `python3 scripts/book-pictures.py` and commit the result\n{out:?}"
    );
}

/// The mdbook version `.ci/run` installs, read from there so the two cannot disagree.
fn pinned_mdbook() -> String {
    let ci = fs::read_to_string(testkit::workspace_root().join(".ci/run")).unwrap();
    ci.lines()
        .find_map(|line| line.strip_prefix("MDBOOK_VERSION="))
        .expect(".ci/run pins MDBOOK_VERSION")
        .trim()
        .to_owned()
}

/// Builds the book into `out`, failing with the install command when mdbook is missing.
fn build_book(out: &Path) {
    let version = pinned_mdbook();
    let found = Command::new("mdbook").arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "mdbook is not installed: `cargo install mdbook --locked --version {version}` (what .ci/run does)"
    );
    let built = run(Command::new("mdbook")
        .arg("build")
        .arg(testkit::workspace_root().join("docs"))
        .arg("--dest-dir")
        .arg(out));
    assert!(built.status.success(), "mdbook build failed: {built:?}");
}

/// A static file server for the built book on 127.0.0.1, port 0: one thread per connection,
/// one response per connection. It lives until the test process ends.
fn serve(root: PathBuf) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let root = root.clone();
            thread::spawn(move || answer(stream, &root));
        }
    });
    addr
}

fn answer(stream: TcpStream, root: &Path) {
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // The rest of the head: read up to the empty line, so closing does not reset the request.
    let mut header = String::new();
    while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
        header.clear();
    }
    let target = request_line.split_whitespace().nth(1).unwrap_or("/");
    let path = target.split(['?', '#']).next().unwrap_or("/").trim_start_matches('/');
    let file = if path.is_empty() { root.join("index.html") } else { root.join(path) };
    let safe = !path.split('/').any(|part| part == "..");
    let mut stream = &stream;
    match fs::read(&file) {
        Ok(body) if safe => {
            let kind = match file.extension().and_then(|e| e.to_str()) {
                Some("html") => "text/html; charset=utf-8",
                Some("css") => "text/css",
                Some("js") => "text/javascript",
                Some("svg") => "image/svg+xml",
                Some("png") => "image/png",
                Some("woff2") => "font/woff2",
                _ => "application/octet-stream",
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&body));
        }
        _ => {
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    }
}

/// The window pages are laid out in: wide enough for mdBook's sidebar and a 720-pixel figure.
const WINDOW: &str = "--window-size=1000,800";

/// Headless Chromium laid out for screenshots: no scrollbars, one pixel per CSS pixel, and up
/// to 5 s of virtual time for the page's scripts and images.
fn chromium(profile: &Path, args: &[&str]) -> Finished {
    let mut all =
        vec!["--hide-scrollbars", "--force-device-scale-factor=1", "--virtual-time-budget=5000"];
    all.extend_from_slice(args);
    testkit::chromium(profile, &all)
}

/// A script appended to a copy of a page: once everything has loaded, it switches the page to
/// THEME_NAME, as mdBook's theme menu does, by the class on <html>.
const THEME_SWITCH: &str = r#"<script>
window.addEventListener("load", () => {
  document.documentElement.classList.remove("light", "rust", "coal", "navy", "ayu");
  document.documentElement.classList.add("THEME_NAME");
});
</script>"#;

/// Writes `PAGE.THEME.html` beside the built page, the theme switch before `</body>`.
fn themed_page(book: &Path, page: &str, theme: &str) -> String {
    let html = fs::read_to_string(book.join(page)).unwrap();
    let at = html.rfind("</body>").expect("a page has a body");
    let name = format!("{}.{theme}.html", page.trim_end_matches(".html"));
    let switch = THEME_SWITCH.replace("THEME_NAME", theme);
    fs::write(book.join(&name), format!("{}{switch}{}", &html[..at], &html[at..])).unwrap();
    name
}

/// The page and the figure whose screenshot is checked for colours.
/// One near the top of its page, so the screenshot that holds it stays small.
const FIGURE_PAGE: &str = "07-ip-notes.html";
const FIGURE: &str = "img/ipv4-map.svg";

/// One page that frames every page of the book, each in a frame as wide as the window. Its
/// load event waits for all of them and their images; then it lists, per page, how many images
/// it shows, which did not load (naturalWidth 0) and which have no alt text, and where FIGURE
/// is on FIGURE_PAGE. Same origin (one loopback server), so the script may look inside.
fn all_pages(book: &Path, pages: &[String]) -> String {
    let frames: String = pages
        .iter()
        .map(|page| format!("<iframe src=\"{page}\" width=\"1000\" height=\"600\"></iframe>\n"))
        .collect();
    let script = r#"<script>
window.addEventListener("load", () => {
  const lines = [...document.querySelectorAll("iframe")].map((frame) => {
    const images = [...frame.contentDocument.querySelectorAll("main img")];
    const broken = images.filter((i) => !(i.complete && i.naturalWidth > 0)).map((i) => i.getAttribute("src"));
    const noAlt = images.filter((i) => !i.alt.trim()).map((i) => i.getAttribute("src"));
    let line = `PAGE ${frame.getAttribute("src")} images=${images.length} broken=${broken.join(",")} no_alt=${noAlt.join(",")}`;
    const figure = images.find((i) => i.getAttribute("src") === "FIGURE_SRC");
    if (frame.getAttribute("src") === "FIGURE_PAGE" && figure) {
      const r = figure.getBoundingClientRect();
      line += "\nFIGURE-AT " + [r.left, r.top, r.width, r.height].map(Math.round).join(" ");
    }
    return line;
  });
  const out = document.createElement("pre");
  out.textContent = "\n" + lines.join("\n") + "\n";
  document.body.appendChild(out);
});
</script>"#
        .replace("FIGURE_SRC", FIGURE)
        .replace("FIGURE_PAGE", FIGURE_PAGE);
    fs::write(
        book.join("all-pages.check.html"),
        format!("<!DOCTYPE html><html><body style=\"margin:0\">\n{frames}{script}</body></html>"),
    )
    .unwrap();
    "all-pages.check.html".to_owned()
}

/// The colours of a screenshot's pixels inside `rect` ([x, y, w, h]), the colour of the page
/// around it (the pixel just left of the figure), and the percentage of the figure's pixels
/// that have the page's colour.
fn colours(png_file: &Path, rect: &[i64]) -> (BTreeSet<[u8; 3]>, [u8; 3], usize) {
    let decoder = png::Decoder::new(BufReader::new(fs::File::open(png_file).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let bpp = info.line_size / info.width as usize;
    assert!(bpp >= 3 && info.bit_depth == png::BitDepth::Eight, "{info:?}");
    let pixel = |x: i64, y: i64| -> [u8; 3] {
        let at = y as usize * info.line_size + x as usize * bpp;
        [buf[at], buf[at + 1], buf[at + 2]]
    };
    let (x0, y0) = (rect[0].max(0), rect[1].max(0));
    let x1 = (rect[0] + rect[2]).min(i64::from(info.width));
    let y1 = (rect[1] + rect[3]).min(i64::from(info.height));
    let page = pixel((x0 - 4).max(0), y0 + 4);
    let mut seen = BTreeSet::new();
    let mut like_page = 0;
    for y in y0..y1 {
        for x in x0..x1 {
            let px = pixel(x, y);
            like_page += usize::from(px == page);
            seen.insert(px);
        }
    }
    let area = ((x1 - x0).max(0) * (y1 - y0).max(0)) as usize;
    (seen, page, like_page * 100 / area.max(1))
}

/// The built book in Chromium: every page's images load and have alt text, and a figure is
/// really drawn (not blank, not lost on the background) in the light and the dark theme.
#[test]
fn chromium_loads_every_picture_and_draws_a_figure_in_both_themes() {
    let dir = tempfile::tempdir().unwrap();
    let book = dir.path().join("book");
    build_book(&book);
    let addr = serve(book.clone());
    let profile = tempfile::tempdir().unwrap();

    let mut pages: Vec<String> = fs::read_dir(&book)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        // Every chapter page; not the print version (all chapters again), the 404 page or the
        // table of contents for readers without JavaScript.
        .filter(|name| {
            name.ends_with(".html")
                && !["print.html", "404.html", "toc.html"].contains(&name.as_str())
        })
        .collect();
    pages.sort();
    let check = all_pages(&book, &pages);
    let dom =
        chromium(profile.path(), &[WINDOW, "--dump-dom", &format!("http://{addr}/{check}")]).stdout;

    let mut problems = Vec::new();
    let mut pages_with_images = 0;
    for page in &pages {
        let Some(line) = dom.lines().find(|l| l.starts_with(&format!("PAGE {page} "))) else {
            problems.push(format!("{page}: not checked (did it load?)"));
            continue;
        };
        let images: usize =
            line.split("images=").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
        pages_with_images += usize::from(images > 0);
        if !line.ends_with(" broken= no_alt=") {
            problems.push(line.to_owned());
        }
    }
    assert!(
        problems.is_empty(),
        "pictures that do not load or lack alt text:\n{}",
        problems.join("\n")
    );
    assert!(pages_with_images >= 8, "only {pages_with_images} pages show a picture:\n{dom}");

    // The screenshot. Headless Chromium shoots the top of a page, so the window is made tall
    // enough to hold the figure rather than scrolled to it; the frames above were as wide as
    // the window, so the figure sits at the same place. Themes change colours, not layout.
    let rect: Vec<i64> = dom
        .lines()
        .find_map(|l| l.strip_prefix("FIGURE-AT "))
        .unwrap_or_else(|| panic!("{FIGURE} is not on {FIGURE_PAGE}"))
        .split(' ')
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(rect[2] > 300 && rect[3] > 100, "{FIGURE} is too small on {FIGURE_PAGE}: {rect:?}");
    let window = format!("--window-size=1000,{}", rect[1] + rect[3] + 40);
    // The two themes side by side, each Chromium with a profile of its own.
    thread::scope(|scope| {
        for theme in ["light", "navy"] {
            let (book, dir, window, rect) = (&book, dir.path(), &window, &rect);
            scope.spawn(move || {
                let profile = tempfile::tempdir().unwrap();
                let shot = dir.join(format!("{theme}.png"));
                let url = format!("http://{addr}/{}", themed_page(book, FIGURE_PAGE, theme));
                chromium(
                    profile.path(),
                    &[window, &format!("--screenshot={}", shot.display()), &url],
                );
                let (seen, page_colour, like_page) = colours(&shot, rect);
                // A drawn figure has its card, its ink and several fill colours (plus
                // anti-aliasing); a blank or missing one is a single colour, mostly the page's.
                assert!(
                    seen.len() >= 8,
                    "{theme}: only {} colours in {FIGURE} at {rect:?}",
                    seen.len()
                );
                assert!(
                    like_page < 50,
                    "{theme}: {like_page}% of {FIGURE} is the page's colour {page_colour:?}: is it blank?"
                );
            });
        }
    });
}
