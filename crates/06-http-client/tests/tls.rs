//! https against a local rustls server whose certificate authority is made by rcgen when the
//! test runs: verified with `--cacert`, refused without it (exit 60), accepted with `-k`, kept
//! alive across URLs, and a TLS client meeting a plain-HTTP server (exit 35).

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;

use support::{code, fetch, hold_until_client_closes, scripted, test_pki, tls_server};

#[test]
fn cacert_verifies_the_local_ca_by_name_and_by_ip() {
    let pki = test_pki();
    let addr = tls_server(pki.server_config.clone(), 2, "secure\n");
    let ca = pki.ca_file.path().to_str().unwrap();
    for host in ["localhost", "127.0.0.1"] {
        let done = fetch(&["-v", "--cacert", ca, &format!("https://{host}:{}/", addr.port())]);
        assert_eq!(code(&done), 0, "{done:?}");
        assert_eq!(done.stdout, "secure\n");
        assert!(done.stderr.contains("* TLS connection using TLSv1_3"), "{}", done.stderr);
        assert!(done.stderr.contains("ALPN: server accepted (none)"), "{}", done.stderr);
    }
}

#[test]
fn openssl_s_server_is_verified_and_its_read_to_close_body_arrives() {
    // OpenSSL's test server, an implementation nobody here wrote. `-www` answers a GET with an
    // HTTP/1.0 status page and no Content-Length: the body ends when the connection does.
    let pki = test_pki();
    let server = testkit::Proc::spawn(
        std::process::Command::new("openssl")
            .args(["s_server", "-accept", "127.0.0.1:0", "-www", "-cert"])
            .arg(pki.server_cert_file.path())
            .arg("-key")
            .arg(pki.server_key_file.path()),
    );
    let line = server.expect_line("ACCEPT ");
    let port = line.rsplit(':').next().unwrap().trim();
    let ca = pki.ca_file.path().to_str().unwrap();
    let done = fetch(&["-v", "--cacert", ca, &format!("https://localhost:{port}/")]);
    assert_eq!(code(&done), 0, "{done:?}");
    assert!(done.stdout.contains("</HTML>") || done.stdout.contains("</html>"), "{}", done.stdout);
    assert!(done.stderr.contains("< HTTP/1.0 200 ok"), "{}", done.stderr);
    assert!(done.stderr.contains("the body ended with the connection"), "{}", done.stderr);
}

#[test]
fn without_cacert_the_certificate_is_not_trusted_exit_60() {
    let pki = test_pki();
    let addr = tls_server(pki.server_config.clone(), 1, "secret\n");
    let done = fetch(&[&format!("https://localhost:{}/", addr.port())]);
    assert_eq!(code(&done), 60, "{done:?}");
    assert!(done.stderr.contains("UnknownIssuer"), "{}", done.stderr);
    assert!(done.stderr.contains("hint: ") && done.stderr.contains("--cacert"), "{}", done.stderr);
    assert!(done.stdout.is_empty());
}

#[test]
fn insecure_skips_verification_and_warns() {
    let pki = test_pki();
    let addr = tls_server(pki.server_config.clone(), 1, "unverified\n");
    let done = fetch(&["-k", &format!("https://localhost:{}/", addr.port())]);
    assert_eq!(code(&done), 0, "{done:?}");
    assert_eq!(done.stdout, "unverified\n");
    assert!(done.stderr.contains("warning: -k"), "{}", done.stderr);
}

#[test]
fn two_https_urls_share_one_tls_session() {
    let pki = test_pki();
    let addr = tls_server(pki.server_config.clone(), 1, "again\n");
    let ca = pki.ca_file.path().to_str().unwrap();
    let url = format!("https://localhost:{}/", addr.port());
    let done = fetch(&["-v", "--cacert", ca, &url, &url]);
    assert_eq!(code(&done), 0, "{done:?}");
    assert_eq!(done.stdout, "again\nagain\n");
    assert_eq!(done.stderr.matches("TLS handshake").count(), 1, "{}", done.stderr);
    assert!(done.stderr.contains("Re-using existing connection #0"), "{}", done.stderr);
}

#[test]
fn https_to_a_plain_http_server_is_a_tls_error_35() {
    // A plain-HTTP server that does not wait for a request line (the ClientHello is none).
    let srv = scripted(1, |_, mut stream| {
        let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        hold_until_client_closes(&mut stream);
    });
    let done = fetch(&[&format!("https://127.0.0.1:{}/", srv.addr.port())]);
    assert_eq!(code(&done), 35, "{done:?}");
    assert!(done.stderr.contains("TLS handshake with 127.0.0.1 failed"), "{}", done.stderr);
}

#[test]
fn a_missing_cacert_file_is_a_clear_error() {
    let done = fetch(&["--cacert", "/nonexistent/ca.pem", "https://localhost:1/"]);
    assert_eq!(code(&done), 1, "{done:?}");
    assert!(done.stderr.contains("could not read --cacert /nonexistent/ca.pem"), "{}", done.stderr);
}

#[test]
fn a_server_silent_during_the_handshake_meets_the_connect_timeout() {
    let srv = scripted(1, |_, mut stream| hold_until_client_closes(&mut stream));
    let done =
        fetch(&["--connect-timeout", "0.5", &format!("https://127.0.0.1:{}/", srv.addr.port())]);
    assert_eq!(code(&done), 28, "{done:?}");
    assert!(
        done.stderr.contains("no answer for 0.5 s while in the TLS handshake"),
        "{}",
        done.stderr
    );
}

#[test]
fn a_peer_that_closes_or_resets_mid_handshake_is_exit_35() {
    use std::io::Read;
    for rst in [false, true] {
        // Reads the whole ClientHello record (5-byte header, then its length), then hangs up:
        // a FIN, or a RST (SO_LINGER 0). Unread bytes would turn the FIN into a RST.
        let srv = scripted(1, move |_, mut stream| {
            let mut header = [0u8; 5];
            let _ = stream.read_exact(&mut header);
            let mut record = vec![0u8; usize::from(u16::from_be_bytes([header[3], header[4]]))];
            let _ = stream.read_exact(&mut record);
            if rst {
                socket2::SockRef::from(&stream)
                    .set_linger(Some(std::time::Duration::ZERO))
                    .unwrap();
            }
        });
        let done = fetch(&[&format!("https://127.0.0.1:{}/", srv.addr.port())]);
        assert_eq!(code(&done), 35, "rst={rst}: {done:?}");
        assert!(done.stderr.contains("TLS handshake with 127.0.0.1 failed"), "{}", done.stderr);
        assert!(
            done.stderr.contains("hint: the server stopped the TLS handshake"),
            "{}",
            done.stderr
        );
    }
}
