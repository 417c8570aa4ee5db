//! A URL, split into what the client needs: scheme, host, port and the request target.
//!
//! `http::Uri` does the splitting (see the root `Cargo.toml` for why that crate and not `url`);
//! this module adds the three things HTTP/1.1 needs on top: the default port of each scheme,
//! the `Host` header (which leaves the default port out and keeps IPv6 brackets), and resolving
//! a redirect's `Location`, which may be relative to the URL it came from.

use std::fmt;

use crate::error::{Kind, fail, kind_of};

/// `http` (port 80) or `https` (port 443, TLS over the TCP connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP over TCP.
    Http,
    /// HTTP inside TLS inside TCP.
    Https,
}

impl Scheme {
    /// The port a URL of this scheme means when it names none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// Where a request goes: the connection it needs (scheme, host, port) and what to ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// The host without IPv6 brackets: `example.com`, `127.0.0.1`, `::1`.
    pub host: String,
    /// The port, explicit or the scheme's default.
    pub port: u16,
    /// The request target of the request line: path and query, always starting with `/`.
    pub path: String,
}

/// Two requests can share a connection when they agree on scheme, host and port.
pub type Origin = (Scheme, String, u16);

impl Target {
    /// Parses `text` as an absolute `http://` or `https://` URL. Like curl, a URL without a
    /// scheme is taken as `http://`, and an empty port (`http://host:/`) means the default one.
    /// A `#fragment` is the browser's business and is dropped. Bytes a request target may not
    /// carry (spaces, non-ASCII, ...) are percent-encoded; an existing `%XX` is kept as it is.
    ///
    /// The authority (host and port) is split by hand and checked strictly: a port that is not
    /// a number from 1 to 65535 must never fall back to the default port, or a typo such as
    /// `:99999` would quietly talk to whatever listens on port 80.
    ///
    /// # Errors
    /// [`Kind::Malformed`] (3) when the text is not a URL we can use: bad port, bad or missing
    /// host, unbalanced brackets, `user@` credentials; [`Kind::Other`] (1) for another scheme.
    pub fn parse(text: &str) -> anyhow::Result<Target> {
        let text = text.split('#').next().unwrap_or_default();
        let bad = |why: &str| fail(Kind::Malformed, format!("{text:?} is not a valid URL: {why}"));
        // A `://` after the first `/` or `?` is inside the path or query of a scheme-less URL
        // (`localhost:8000/go?to=http://x`), not the end of a scheme.
        let (scheme, rest) =
            match text.split_once("://").filter(|(name, _)| !name.contains(['/', '?'])) {
                Some((name, rest)) => {
                    let is_scheme = name.starts_with(|c: char| c.is_ascii_alphabetic())
                        && name.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
                    if !is_scheme {
                        return Err(bad("the scheme must be letters, as in http://"));
                    }
                    (name.to_ascii_lowercase(), rest)
                }
                None => ("http".to_owned(), text),
            };
        let scheme = match scheme.as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => {
                return Err(fail(
                    Kind::Other,
                    format!("unsupported scheme {other:?}: only http and https"),
                ));
            }
        };
        let split_at = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_and_query) = rest.split_at(split_at);
        let (host, port) = parse_authority(authority).map_err(|why| bad(&why))?;
        let port = port.unwrap_or(scheme.default_port());
        let path = if path_and_query.starts_with('/') {
            encode_target(path_and_query)
        } else {
            encode_target(&format!("/{path_and_query}"))
        };
        Ok(Target { scheme, host, port, path })
    }

    /// Which connection this target needs.
    pub fn origin(&self) -> Origin {
        (self.scheme, self.host.clone(), self.port)
    }

    // ANCHOR: host_header
    /// The `Host` header's value: the host as the URL wrote it, brackets and all for IPv6, and
    /// the port only when it is not the scheme's default (RFC 9110 §7.2). The tutorial's client
    /// always added `:80`, which some virtual-hosting servers do not match.
    pub fn host_header(&self) -> String {
        let host =
            if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        if self.port == self.scheme.default_port() { host } else { format!("{host}:{}", self.port) }
    }
    // ANCHOR_END: host_header

    // ANCHOR: join
    /// Resolves a redirect's `Location` against this URL (RFC 3986 §5.2, the cases servers use):
    /// an absolute URL, `//host/path` (same scheme), `/path` (same origin), `?query`, or a path
    /// relative to this URL's directory, with `.` and `..` segments removed.
    ///
    /// # Errors
    /// The kind [`Target::parse`] gives, when an absolute `Location` is not a URL we can fetch.
    pub fn join(&self, location: &str) -> anyhow::Result<Target> {
        let location = location.trim();
        let has_scheme = location
            .split_once("://")
            .is_some_and(|(s, _)| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphabetic()));
        // A bad absolute Location keeps its kind: malformed (3) like a bad URL typed by hand.
        let relabel =
            |e: anyhow::Error| fail(kind_of(&e), format!("bad Location {location:?}: {e:#}"));
        if has_scheme {
            return Target::parse(location).map_err(relabel);
        }
        if let Some(rest) = location.strip_prefix("//") {
            let absolute = format!("{}://{rest}", self.scheme.as_str());
            return Target::parse(&absolute).map_err(relabel);
        }
        let location = location.split('#').next().unwrap_or_default();
        let (base_path, _query) = self.path.split_once('?').unwrap_or((&self.path, ""));
        let path = if location.starts_with('/') {
            location.to_owned()
        } else if location.starts_with('?') {
            format!("{base_path}{location}")
        } else {
            let dir = &base_path[..=base_path.rfind('/').unwrap_or(0)];
            format!("{dir}{location}")
        };
        // Servers send raw UTF-8 and spaces in Location; on the request line they must be %XX.
        let path = encode_target(&remove_dot_segments(&path));
        Ok(Target { path, ..self.clone() })
    }
    // ANCHOR_END: join
}

/// 253: the longest DNS name (RFC 1035), so a host name is bounded before it reaches the
/// resolver.
pub const MAX_HOST_LEN: usize = 253;

// ANCHOR: parse_authority
/// Splits `host[:port]` or `[v6]:port` into the host (without brackets) and the port, if one
/// is written. Every rejection names the rule it broke.
fn parse_authority(authority: &str) -> Result<(String, Option<u16>), String> {
    if authority.contains('@') {
        // `http://127.0.0.1:80@example.com/` goes to example.com: credentials in the URL are a
        // classic way to disguise a host, and we send no Basic authentication anyway.
        return Err("user:password@ in a URL is not supported (-H 'Authorization: ...' is)".into());
    }
    let (host, port_text) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (inside, after) =
            bracketed.split_once(']').ok_or("an IPv6 address opened with [ and not closed")?;
        if inside.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("[{inside}] is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or("only :PORT may follow ]")?),
        };
        (inside.to_owned(), port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        check_host_name(host)?;
        (host.to_owned(), port)
    };
    let port = match port_text {
        // `http://host:/` is the default port, as in curl and RFC 3986 §3.2.3.
        None | Some("") => None,
        Some(text) => Some(parse_port(text)?),
    };
    Ok((host, port))
}
// ANCHOR_END: parse_authority

/// A host name or IPv4 address: letters, digits, `-`, `.` and `_`, nothing else. Anything
/// else (a space, a second `:` of an IPv6 address without brackets, a `%`) would reach the
/// resolver or the `Host` header as something the user did not mean.
fn check_host_name(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("no host".into());
    }
    if host.len() > MAX_HOST_LEN {
        return Err(format!("the host is longer than {MAX_HOST_LEN} characters"));
    }
    if !host.is_ascii() {
        return Err(
            "non-ASCII host names need IDNA (xn--...), which this client does not do".into()
        );
    }
    if let Some(c) = host.chars().find(|&c| !(c.is_ascii_alphanumeric() || "-._".contains(c))) {
        return Err(format!("{c:?} cannot appear in a host name (IPv6 goes in brackets)"));
    }
    Ok(())
}

// ANCHOR: parse_port
/// A TCP port: decimal digits only, 1 to 65535. Port 0 means "any port" to `bind()` and
/// reaches no server, so it is refused too.
fn parse_port(text: &str) -> Result<u16, String> {
    let why = || format!("the port {text:?} is not a number from 1 to 65535");
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(why());
    }
    match text.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(why()),
    }
}
// ANCHOR_END: parse_port

// ANCHOR: encode_target
/// Percent-encodes the bytes a request target may not carry raw: controls, space, DEL, `"`,
/// `<`, `>`, `\`, `^`, `` ` ``, `{`, `|`, `}` and every non-ASCII byte (UTF-8 goes out as its
/// bytes, `é` as `%C3%A9`). A `%` that already starts a `%XX` escape is kept, so an encoded
/// URL is not encoded twice; a lone `%` becomes `%25`. The request line can then never hold a
/// byte that ends it early or that a server reads differently from us.
pub fn encode_target(target: &str) -> String {
    encode_bytes(target.as_bytes())
}
// ANCHOR_END: encode_target

/// [`encode_target`] for bytes that may not be UTF-8: a `Location` header in Latin-1 keeps
/// its byte (`%E9`), where decoding it as text first would have replaced it.
pub fn encode_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for (i, &b) in bytes.iter().enumerate() {
        let escape_follows = b == b'%'
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        let raw = b.is_ascii_graphic() && !b"%\"<>\\^`{|}".contains(&b);
        if raw || escape_follows {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `/a/b/../c/./d` becomes `/a/c/d`; the query, if any, is left alone.
fn remove_dot_segments(path: &str) -> String {
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *segment {
            "." => {
                if last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let mut joined = format!("/{}", out.join("/"));
    if let Some(q) = query {
        joined.push('?');
        joined.push_str(q);
    }
    joined
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}{}", self.scheme.as_str(), self.host_header(), self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> Target {
        Target::parse(text).expect("a valid URL")
    }

    #[test]
    fn default_ports_stay_out_of_the_host_header() {
        assert_eq!(t("http://example.com/").host_header(), "example.com");
        assert_eq!(t("http://example.com:80/").host_header(), "example.com");
        assert_eq!(t("http://example.com:8080/").host_header(), "example.com:8080");
        assert_eq!(t("https://example.com:443/x").host_header(), "example.com");
        assert_eq!(t("https://example.com:80/x").host_header(), "example.com:80");
    }

    #[test]
    fn ipv6_literals_keep_their_brackets_only_in_the_header() {
        let target = t("http://[::1]:8080/a?b=c");
        assert_eq!(target.host, "::1");
        assert_eq!(target.port, 8080);
        assert_eq!(target.path, "/a?b=c");
        assert_eq!(target.host_header(), "[::1]:8080");
    }

    #[test]
    fn a_bare_host_is_http_and_the_path_defaults_to_slash() {
        let target = t("localhost:9990");
        assert_eq!((target.scheme, target.port, target.path.as_str()), (Scheme::Http, 9990, "/"));
        assert_eq!(t("http://h/p#frag").path, "/p");
        let inner = t("localhost:9990/go?to=http://x");
        assert_eq!((inner.host.as_str(), inner.path.as_str()), ("localhost", "/go?to=http://x"));
    }

    #[test]
    fn other_schemes_and_hostless_urls_are_refused() {
        assert!(Target::parse("ftp://example.com/").is_err());
        assert!(Target::parse("http:///path").is_err());
        assert!(Target::parse("http://exa mple.com/").is_err());
    }

    #[test]
    fn locations_resolve_like_a_browser() {
        let base = t("http://h:8080/a/b/c?q=1");
        assert_eq!(base.join("/x").map(|t| t.to_string()).ok(), Some("http://h:8080/x".into()));
        assert_eq!(base.join("d").map(|t| t.path).ok(), Some("/a/b/d".into()));
        assert_eq!(base.join("../d").map(|t| t.path).ok(), Some("/a/d".into()));
        assert_eq!(base.join("./").map(|t| t.path).ok(), Some("/a/b/".into()));
        assert_eq!(base.join("?r=2").map(|t| t.path).ok(), Some("/a/b/c?r=2".into()));
        let other = base.join("//other/y").expect("scheme-relative");
        assert_eq!((other.host.as_str(), other.port, other.path.as_str()), ("other", 80, "/y"));
        let tls = base.join("https://secure/z").expect("absolute");
        assert_eq!((tls.scheme, tls.port), (Scheme::Https, 443));
        assert_eq!(base.join("/a b").map(|t| t.path).ok(), Some("/a%20b".into()));
    }

    #[test]
    fn bad_ports_hosts_and_credentials_are_malformed_never_a_default() {
        for bad in [
            "http://127.0.0.1:99999/",
            "http://127.0.0.1:65536/",
            "http://127.0.0.1:abc/",
            "http://127.0.0.1:0/",
            "http://127.0.0.1:+80/",
            "http://127.0.0.1:-1/",
            "http://127.0.0.1: 80/",
            "http://::1/",
            "http://[::1/",
            "http://[::1]x/",
            "http://[127.0.0.1]/",
            "http://[::1]:99999/",
            "http://user:pw@127.0.0.1/",
            "http://127.0.0.1:80@example.com/",
            "http://exa mple.com/",
            "http://exämple.com/",
            "http://host%2f/",
            "http:///path",
            "ht tp://host/",
        ] {
            let err = Target::parse(bad).expect_err(bad);
            assert_eq!(kind_of(&err), Kind::Malformed, "{bad}: {err:#}");
        }
        assert_eq!(kind_of(&Target::parse("ftp://h/").expect_err("ftp")), Kind::Other);
    }

    #[test]
    fn an_empty_port_is_the_default_one_and_leading_zeros_are_a_number() {
        assert_eq!(t("http://h:/x").port, 80);
        assert_eq!(t("https://[::1]:/").port, 443);
        assert_eq!(t("http://h:08080/").port, 8080);
        assert_eq!(t("http://h:65535/").port, 65535);
    }

    #[test]
    fn request_targets_are_percent_encoded_once() {
        assert_eq!(encode_target("/caf\u{e9} au lait?q=\"x\""), "/caf%C3%A9%20au%20lait?q=%22x%22");
        assert_eq!(encode_target("/already%20encoded%C3%A9"), "/already%20encoded%C3%A9");
        assert_eq!(encode_target("/100%/%zz"), "/100%25/%25zz");
        assert_eq!(encode_target("/a\tb\x7f{}|\\^`<>"), "/a%09b%7F%7B%7D%7C%5C%5E%60%3C%3E");
        assert_eq!(encode_target("/keep/-._~!$&'()*+,;=:@?a=b/c"), "/keep/-._~!$&'()*+,;=:@?a=b/c");
        assert_eq!(t("http://h/\u{fc}ber").path, "/%C3%BCber");
        let base = t("http://h/dir/page");
        assert_eq!(base.join("na\u{ef}ve").map(|t| t.path).ok(), Some("/dir/na%C3%AFve".into()));
        assert_eq!(base.join("/x%41").map(|t| t.path).ok(), Some("/x%41".into()));
    }

    #[test]
    fn a_bad_absolute_location_keeps_the_kind_of_its_error() {
        let base = t("http://h/");
        let err = base.join("http://127.0.0.1:99999/").expect_err("bad port");
        assert_eq!(kind_of(&err), Kind::Malformed);
        assert!(format!("{err:#}").contains("bad Location"), "{err:#}");
    }
}
