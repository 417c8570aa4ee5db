//! The request, formatted by hand: a request line, header lines, a blank line, the body.
//!
//! ```text
//! POST /post HTTP/1.1\r\n           method, request target, version
//! Host: 127.0.0.1:8080\r\n          required in HTTP/1.1: one server, many site names
//! User-Agent: 06-http-client/0.1\r\n
//! Accept: */*\r\n
//! Connection: keep-alive\r\n        HTTP/1.1's default, said aloud for HTTP/1.0 servers
//! Content-Type: application/x-www-form-urlencoded\r\n
//! Content-Length: 7\r\n             how the server knows where our body ends
//! \r\n
//! a=1&b=2
//! ```

use crate::target::{Target, encode_target};

/// Our `User-Agent`: servers log it, and some answer differently per client.
pub const USER_AGENT: &str = concat!("06-http-client/", env!("CARGO_PKG_VERSION"));

/// What to send, apart from where.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `HEAD`, `POST`, ... exactly as sent.
    pub method: String,
    /// `-H` lines, in order: `Some(value)` adds or replaces a header, `None` removes one of
    /// ours (curl's `-H 'Accept:'`).
    pub headers: Vec<(String, Option<String>)>,
    /// The body, if any, and its default `Content-Type`.
    pub body: Option<Body>,
}

/// A request body and the type it is sent as unless `-H 'Content-Type: ...'` says otherwise.
#[derive(Debug, Clone)]
pub struct Body {
    /// The bytes.
    pub data: Vec<u8>,
    /// `application/x-www-form-urlencoded` for `-d`, `application/json` for `--json`.
    pub content_type: &'static str,
}

impl Request {
    /// A `GET` with no extra headers.
    pub fn get() -> Self {
        Request { method: "GET".into(), headers: Vec::new(), body: None }
    }

    /// Is this a `HEAD` request? Its response has a head and never a body.
    pub fn is_head(&self) -> bool {
        self.method.eq_ignore_ascii_case("HEAD")
    }
}

// ANCHOR: format
/// The request's bytes: head and body in one buffer, so they leave in one `send` when small.
pub fn format(request: &Request, target: &Target, accept: &str) -> Vec<u8> {
    let mut headers: Vec<(String, String)> = vec![
        ("Host".into(), target.host_header()),
        ("User-Agent".into(), USER_AGENT.into()),
        ("Accept".into(), accept.into()),
        ("Connection".into(), "keep-alive".into()),
    ];
    if let Some(body) = &request.body {
        headers.push(("Content-Type".into(), body.content_type.into()));
        // The tutorial's client sent a body without Content-Length: the server cannot tell where it ends.
        headers.push(("Content-Length".into(), body.data.len().to_string()));
    } else if ["POST", "PUT", "PATCH"].iter().any(|m| request.method.eq_ignore_ascii_case(m)) {
        // A body-carrying method with no body still says so; some servers answer 411 otherwise.
        headers.push(("Content-Length".into(), "0".into()));
    }
    // ANCHOR_END: format
    // ANCHOR: format_bytes
    for (name, value) in &request.headers {
        headers.retain(|(ours, _)| !ours.eq_ignore_ascii_case(name));
        if let Some(value) = value {
            headers.push((name.clone(), value.clone()));
        }
    }
    // `Target`s from `parse` and `join` are encoded already; encoding is idempotent, and
    // doing it here too means no path, however built, can put a space or CRLF in this line.
    let mut out = format!("{} {} HTTP/1.1\r\n", request.method, encode_target(&target.path));
    for (name, value) in &headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if let Some(body) = &request.body {
        bytes.extend_from_slice(&body.data);
    }
    bytes
}
// ANCHOR_END: format_bytes

/// Parses one `-H` argument the way curl does: `Name: value` sets a header, `Name:` removes one
/// of ours, `Name;` sends it with an empty value.
///
/// # Errors
/// When there is no `:` or `;`, or the name is not a token.
pub fn parse_header_arg(text: &str) -> Result<(String, Option<String>), String> {
    let (name, value) = if let Some((name, value)) = text.split_once(':') {
        let value = value.trim();
        (name, if value.is_empty() { None } else { Some(value.to_owned()) })
    } else if let Some(name) = text.strip_suffix(';') {
        (name, Some(String::new()))
    } else {
        return Err(format!("`{text}` is not a header: expected `Name: value`"));
    };
    let is_token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(is_token) {
        return Err(format!("`{name}` is not a header name"));
    }
    if value.as_deref().is_some_and(|v| v.contains(['\r', '\n'])) {
        return Err("a header value cannot contain a line break".into());
    }
    Ok((name.to_owned(), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_get_has_host_without_default_port_and_ends_with_a_blank_line() {
        let target = Target::parse("http://example.com/index.html").expect("url");
        let text = String::from_utf8(format(&Request::get(), &target, "*/*")).expect("ascii");
        assert!(text.starts_with("GET /index.html HTTP/1.1\r\nHost: example.com\r\n"), "{text}");
        assert!(text.contains("\r\nUser-Agent: 06-http-client/"), "{text}");
        assert!(text.ends_with("Connection: keep-alive\r\n\r\n"), "{text}");
    }

    #[test]
    fn a_body_comes_with_its_length_and_user_headers_win() {
        let target = Target::parse("http://h:8080/post").expect("url");
        let request = Request {
            method: "POST".into(),
            headers: vec![
                ("content-type".into(), Some("text/plain".into())),
                ("Accept".into(), None),
            ],
            body: Some(Body { data: b"a=1&b=2".to_vec(), content_type: "x/form" }),
        };
        let text = String::from_utf8(format(&request, &target, "*/*")).expect("ascii");
        assert!(text.contains("Host: h:8080\r\n"), "{text}");
        assert!(text.contains("Content-Length: 7\r\n"), "{text}");
        assert!(text.contains("content-type: text/plain\r\n") && !text.contains("x/form"));
        assert!(!text.contains("Accept:"), "{text}");
        assert!(text.ends_with("\r\n\r\na=1&b=2"), "{text}");
    }

    #[test]
    fn a_hand_built_target_cannot_break_the_request_line() {
        let mut target = Target::parse("http://h/").expect("url");
        target.path = "/a b\r\nX-Injected: 1".into();
        let text = String::from_utf8(format(&Request::get(), &target, "*/*")).expect("ascii");
        assert!(text.starts_with("GET /a%20b%0D%0AX-Injected:%201 HTTP/1.1\r\n"), "{text}");
    }

    #[test]
    fn header_arguments_follow_curl() {
        assert_eq!(parse_header_arg("X-A: 1"), Ok(("X-A".into(), Some("1".into()))));
        assert_eq!(parse_header_arg("Accept:"), Ok(("Accept".into(), None)));
        assert_eq!(parse_header_arg("X-Empty;"), Ok(("X-Empty".into(), Some(String::new()))));
        assert!(parse_header_arg("no colon").is_err());
        assert!(parse_header_arg("Bad Name: x").is_err());
    }
}
