//! The access log: one line per request in the Common Log Format, the format Apache, nginx
//! and Python's http.server write and every log tool reads:
//!
//! ```text
//! 127.0.0.1 - - [24/Nov/2026:08:05:00 +0000] "GET /index.html HTTP/1.1" 200 1024
//! host      ident user  date                     request line                status bytes
//! ```
//!
//! (`ident` and `user` are `-`: nobody runs identd any more, and we have no logins.) The
//! request line comes from a stranger, so anything but printable ASCII is written as `\xHH`:
//! a request cannot forge a second log line, or colour the terminal.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::time::SystemTime;

/// Formats one access-log line (with its newline).
pub fn line(peer: IpAddr, request_line: &str, status: u16, body_bytes: u64) -> String {
    let mut out = String::with_capacity(128);
    let _ = write!(out, "{peer} - - [{}] \"", clf_date(SystemTime::now()));
    for byte in request_line.bytes() {
        match byte {
            b'"' | b'\\' => {
                let _ = write!(out, "\\x{byte:02x}");
            }
            0x20..=0x7e => out.push(byte as char),
            _ => {
                let _ = write!(out, "\\x{byte:02x}");
            }
        }
    }
    let _ = match body_bytes {
        0 => writeln!(out, "\" {status} -"),
        n => writeln!(out, "\" {status} {n}"),
    };
    out
}

/// Writes a line to stderr in one call, so lines from different connection threads never
/// interleave.
pub fn write(line: &str) {
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// `24/Nov/2026:08:05:00 +0000`, rearranged from HTTP's `Tue, 24 Nov 2026 08:05:00 GMT`.
fn clf_date(time: SystemTime) -> String {
    let http = httpdate::fmt_http_date(time);
    let parts: Vec<&str> = http.split(' ').collect();
    match parts.as_slice() {
        [_, day, month, year, clock, _] => format!("{day}/{month}/{year}:{clock} +0000"),
        _ => http,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn dates_are_in_common_log_format() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_507_500);
        assert_eq!(clf_date(t), "24/Nov/2026:08:05:00 +0000");
    }

    #[test]
    fn a_hostile_request_line_cannot_forge_a_log_line() {
        let l =
            line("127.0.0.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0])), "GET /\n\"x", 400, 0);
        assert!(l.ends_with("\"GET /\\x0a\\x22x\" 400 -\n"), "{l}");
        assert_eq!(l.matches('\n').count(), 1);
    }
}
