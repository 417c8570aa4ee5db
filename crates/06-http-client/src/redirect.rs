//! Redirects (`-L`): which responses are followed, what the next request is, and when to stop.
//!
//! A `3xx` response with a `Location` says "ask there instead". The next request's method and
//! body follow RFC 9110 §15.4; `--max-redirs` and a loop check keep a server from sending the
//! client round in circles.

use crate::error::{Kind, fail};
use crate::request::Request;
use crate::response::Head;
use crate::target::{Target, encode_bytes};
use crate::wire::Wire;

/// The `Location` of a response `-L` follows, percent-encoded, or `None` for any other.
pub fn location(head: &Head) -> Option<String> {
    // Byte-wise: a non-ASCII Location is percent-encoded as sent, whatever charset.
    head.header_bytes("Location").map(encode_bytes).filter(|_| is_redirect(head.status))
}

/// The statuses `-L` follows.
fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// The redirects followed so far for one URL, as (method, URL) pairs.
pub struct Hops {
    visited: Vec<(String, String)>,
    max: u32,
}

impl Hops {
    /// The first request, to `target`; at most `max` redirects may follow it.
    pub fn new(request: &Request, target: &Target, max: u32) -> Self {
        Hops { visited: vec![(request.method.clone(), target.to_string())], max }
    }

    // ANCHOR: follow
    /// The request and target after a `status` redirect to `location`, or an error when it
    /// is one too many (`--max-redirs`) or leads back to a request already made: the same
    /// method and URL twice is a loop, since without cookies the server answers alike.
    ///
    /// # Errors
    /// A malformed `location` (3), or too many redirects or a loop (47).
    pub fn follow(
        &mut self,
        (request, target): (&Request, &Target),
        status: u16,
        location: &str,
        wire: &Wire,
    ) -> anyhow::Result<(Request, Target)> {
        let next = target.join(location)?;
        let request = redirected_request(request, status, target, &next);
        wire.info(&format!("Following {status} redirect: {} {next}", request.method));
        if self.visited.len() > self.max as usize {
            let max = self.max;
            return Err(fail(Kind::Redirects, format!("more than --max-redirs {max} redirects")));
        }
        let step = (request.method.clone(), next.to_string());
        if self.visited.contains(&step) {
            return Err(fail(Kind::Redirects, format!("redirect loop: {next} again")));
        }
        self.visited.push(step);
        Ok((request, next))
    }
    // ANCHOR_END: follow
}

// ANCHOR: redirect_rules
/// The request to send to a redirect's target (RFC 9110 §15.4):
/// - 303 See Other: always `GET` (a `HEAD` stays `HEAD`), without the body;
/// - 301 and 302: a `POST` becomes a `GET` without body, as every browser and curl do, though
///   the RFC only allows it; other methods are kept;
/// - 307 and 308: method and body are kept, which is why those two codes exist.
///
/// `Authorization` and `Cookie` headers are dropped when the redirect leaves the origin, so a
/// password is never handed to another host.
fn redirected_request(request: &Request, status: u16, from: &Target, to: &Target) -> Request {
    let mut next = request.clone();
    let becomes_get = match status {
        303 => !request.is_head(),
        301 | 302 => request.method.eq_ignore_ascii_case("POST"),
        _ => false,
    };
    if becomes_get {
        next.method = "GET".into();
        next.body = None;
        next.headers.retain(|(name, _)| !name.eq_ignore_ascii_case("Content-Type"));
    }
    if from.origin() != to.origin() {
        next.headers.retain(|(name, _)| {
            !name.eq_ignore_ascii_case("Authorization") && !name.eq_ignore_ascii_case("Cookie")
        });
    }
    next
}
// ANCHOR_END: redirect_rules

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Body;

    fn post() -> Request {
        Request {
            method: "POST".into(),
            headers: vec![("Authorization".into(), Some("Bearer x".into()))],
            body: Some(Body { data: b"a=1".to_vec(), content_type: "x/form" }),
        }
    }

    #[test]
    fn redirect_rules_per_status() {
        let here = Target::parse("http://h/a").expect("url");
        let there = Target::parse("http://h/b").expect("url");
        for status in [301, 302, 303] {
            let next = redirected_request(&post(), status, &here, &there);
            assert_eq!((next.method.as_str(), next.body.is_none()), ("GET", true), "{status}");
        }
        for status in [307, 308] {
            let next = redirected_request(&post(), status, &here, &there);
            assert_eq!((next.method.as_str(), next.body.is_some()), ("POST", true), "{status}");
        }
        let head = Request { method: "HEAD".into(), ..Request::get() };
        assert_eq!(redirected_request(&head, 303, &here, &there).method, "HEAD");
        let put = Request { method: "PUT".into(), ..post() };
        assert_eq!(redirected_request(&put, 301, &here, &there).method, "PUT");
    }

    #[test]
    fn credentials_stay_on_their_origin() {
        let here = Target::parse("http://h/a").expect("url");
        let same = Target::parse("http://h/b").expect("url");
        let other = Target::parse("http://evil/b").expect("url");
        assert_eq!(redirected_request(&post(), 307, &here, &same).headers.len(), 1);
        assert!(redirected_request(&post(), 307, &here, &other).headers.is_empty());
    }
}
