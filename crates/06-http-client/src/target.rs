//! A URL, split into what the client needs: scheme, host, port and the request target.
//!
//! `http::Uri` does the splitting (see the root `Cargo.toml` for why that crate and not `url`);
//! this module adds the three things HTTP/1.1 needs on top: the default port of each scheme,
//! the `Host` header (which leaves the default port out and keeps IPv6 brackets), and resolving
//! a redirect's `Location`, which may be relative to the URL it came from.

use std::fmt;

use crate::error::{Kind, fail, protocol};

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
    /// scheme is taken as `http://`. A `#fragment` is the browser's business and is dropped.
    ///
    /// # Errors
    /// When the text is not a URL, names another scheme, or has no host.
    pub fn parse(text: &str) -> anyhow::Result<Target> {
        let text = text.split('#').next().unwrap_or_default();
        let with_scheme =
            if text.contains("://") { text.to_owned() } else { format!("http://{text}") };
        let uri: http::Uri = with_scheme
            .parse()
            .map_err(|e| fail(Kind::Other, format!("{text:?} is not a URL: {e}")))?;
        let scheme = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("http") => Scheme::Http,
            Some("https") => Scheme::Https,
            other => {
                return Err(fail(
                    Kind::Other,
                    format!("unsupported scheme {:?}: only http and https", other.unwrap_or("")),
                ));
            }
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| fail(Kind::Other, format!("{text:?} has no host")))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        let path = match uri.path_and_query() {
            Some(pq) if pq.as_str().starts_with('/') => pq.as_str().to_owned(),
            Some(pq) => format!("/{}", pq.as_str()),
            None => "/".to_owned(),
        };
        let port = uri.port_u16().unwrap_or(scheme.default_port());
        Ok(Target { scheme, host, port, path })
    }

    /// Which connection this target needs.
    pub fn origin(&self) -> Origin {
        (self.scheme, self.host.clone(), self.port)
    }

    // ANCHOR: host_header
    /// The `Host` header's value: the host as the URL wrote it, brackets and all for IPv6, and
    /// the port only when it is not the scheme's default (RFC 9110 §7.2). The seed's client
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
    /// A protocol error when the result is not a URL we can fetch.
    pub fn join(&self, location: &str) -> anyhow::Result<Target> {
        let location = location.trim();
        let has_scheme = location
            .split_once("://")
            .is_some_and(|(s, _)| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphabetic()));
        if has_scheme {
            return Target::parse(location)
                .map_err(|e| protocol(format!("bad Location {location:?}: {e:#}")));
        }
        if let Some(rest) = location.strip_prefix("//") {
            let absolute = format!("{}://{rest}", self.scheme.as_str());
            return Target::parse(&absolute)
                .map_err(|e| protocol(format!("bad Location {location:?}: {e:#}")));
        }
        let (base_path, _query) = self.path.split_once('?').unwrap_or((&self.path, ""));
        let path = if location.starts_with('/') {
            location.to_owned()
        } else if location.starts_with('?') {
            format!("{base_path}{location}")
        } else {
            let dir = &base_path[..=base_path.rfind('/').unwrap_or(0)];
            format!("{dir}{location}")
        };
        let path = remove_dot_segments(&path);
        if path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err(protocol(format!("bad Location {location:?}: spaces or control bytes")));
        }
        Ok(Target { path, ..self.clone() })
    }
    // ANCHOR_END: join
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
        assert!(base.join("/a b").is_err());
    }
}
