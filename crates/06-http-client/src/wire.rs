//! The chapter's teaching view: what the client does and every byte it sends and receives.
//!
//! Three levels, all on stderr so stdout stays the response body:
//!
//! - `-v` prints curl's three kinds of line: `*` for what the client does (resolve, connect,
//!   reuse, TLS), `>` for each request header line sent, `<` for each response header line
//!   received;
//! - `--trace-ascii FILE` writes every byte read from and written to the connection, body and
//!   chunk-size lines included, as offset + text rows (`-` = stderr);
//! - `--trace` narrates the socket calls themselves (`connect`, `send`, `recv`, `close`), as in
//!   every chapter.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

use common::narrate::Narrator;

/// Where the teaching output goes. Cheap to clone: connections keep a copy.
#[derive(Clone)]
pub struct Wire {
    verbose: bool,
    /// Narrates the socket calls (`--trace`).
    pub narrator: Narrator,
    trace: Option<Rc<RefCell<Box<dyn Write>>>>,
}

impl Wire {
    /// A view with `-v` on or off, socket narration on or off, and an optional byte trace.
    pub fn new(verbose: bool, narrator: Narrator, trace: Option<Box<dyn Write>>) -> Self {
        Wire { verbose, narrator, trace: trace.map(|w| Rc::new(RefCell::new(w))) }
    }

    /// A `* ...` line: something the client did or decided.
    pub fn info(&self, text: &str) {
        if self.verbose {
            eprintln!("* {text}");
        }
        self.trace_line(&format!("== Info: {text}"));
    }

    /// The request head as `> ` lines, one per header line, the blank line included.
    pub fn request_head(&self, head: &[u8]) {
        if self.verbose {
            print_head_lines(head, '>');
        }
    }

    /// The response head as `< ` lines.
    pub fn response_head(&self, head: &[u8]) {
        if self.verbose {
            print_head_lines(head, '<');
        }
    }

    /// Bytes written to the connection (the plaintext, under TLS).
    pub fn sent(&self, data: &[u8]) {
        self.dump("=> Send", data);
    }

    /// Bytes read from the connection (the plaintext, under TLS).
    pub fn received(&self, data: &[u8]) {
        self.dump("<= Recv", data);
    }

    fn trace_line(&self, line: &str) {
        if let Some(trace) = &self.trace {
            let _ = writeln!(trace.borrow_mut(), "{line}");
        }
    }

    /// curl's `--trace-ascii` layout: a title line with the size, then rows of at most 64
    /// bytes, each starting with its offset in hex and ending at a line feed; bytes that are
    /// not printable show as `.`.
    fn dump(&self, title: &str, data: &[u8]) {
        let Some(trace) = &self.trace else { return };
        let mut out = trace.borrow_mut();
        let _ = writeln!(out, "{title} {} bytes (0x{:x})", data.len(), data.len());
        let mut offset = 0;
        while offset < data.len() {
            let rest = &data[offset..];
            let row_len = rest
                .iter()
                .take(64)
                .position(|&b| b == b'\n')
                .map_or(rest.len().min(64), |i| i + 1);
            let text: String = rest[..row_len]
                .iter()
                .filter(|&&b| b != b'\r' && b != b'\n')
                .map(|&b| if (0x20..0x7f).contains(&b) { b as char } else { '.' })
                .collect();
            let _ = writeln!(out, "{offset:04x}: {text}");
            offset += row_len;
        }
        let _ = out.flush();
    }
}

fn print_head_lines(head: &[u8], mark: char) {
    let text = String::from_utf8_lossy(head);
    let mut lines = String::new();
    for line in text.split_inclusive('\n') {
        lines.push(mark);
        lines.push(' ');
        lines.push_str(line.trim_end_matches(['\r', '\n']));
        lines.push('\n');
    }
    // One write, so the head is not interleaved with other output.
    let _ = std::io::stderr().lock().write_all(lines.as_bytes());
}
