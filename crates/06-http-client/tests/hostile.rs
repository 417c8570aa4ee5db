//! Servers that break the rules on purpose, written for these tests. Each must end in a clear
//! `error:` line and the documented exit code, within its timeout, with bounded memory (the
//! body streams to its output; heads and chunk lines have limits) and never a panic.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::time::{Duration, Instant};

use common::socket_table;
use support::{answer_once, code, fetch, hold_until_client_closes, read_request, scripted};
use testkit::terminal::Terminal;

/// Every failure here must come well before the test kit's own patience runs out.
const QUICK: Duration = Duration::from_secs(5);

fn assert_fails(done: &testkit::Finished, exit: i32, words: &str) {
    assert_eq!(code(done), exit, "{done:?}");
    assert!(done.stderr.contains("error: ") && done.stderr.contains(words), "{}", done.stderr);
    assert!(
        !done.stderr.contains("panicked") && !done.stderr.contains("internal error"),
        "{}",
        done.stderr
    );
}

#[test]
fn a_truncated_body_is_exit_18_with_the_byte_counts() {
    let srv = answer_once(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b");
    let done = fetch(&[&srv.url("/")]);
    assert_fails(&done, 18, "after 10 of 100 body bytes");
    assert_eq!(done.stdout.trim_end(), "only ten b", "what did arrive is delivered, as curl does");
}

#[test]
fn a_bad_chunk_size_is_a_protocol_error() {
    let srv = answer_once(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    );
    assert_fails(&fetch(&[&srv.url("/")]), 8, "bad chunk size line b'zz\\r'");
}

#[test]
fn a_chunk_size_that_overflows_64_bits_is_a_protocol_error() {
    let srv = answer_once(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffffff\r\nhello\r\n",
    );
    assert_fails(&fetch(&[&srv.url("/")]), 8, "bad chunk size line");
}

#[test]
fn a_wrong_chunk_size_loses_the_framing_and_says_so() {
    let srv = answer_once(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n",
    );
    assert_fails(&fetch(&[&srv.url("/")]), 8, "not followed by CRLF");
}

#[test]
fn an_endless_chunk_size_line_stops_at_its_limit() {
    let srv = scripted(1, |_, mut stream| {
        read_request(&mut stream);
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;ext=");
        let filler = [b'x'; 1024];
        for _ in 0..1024 {
            if stream.write_all(&filler).is_err() {
                return;
            }
        }
    });
    assert_fails(&fetch(&[&srv.url("/")]), 8, "chunk-size line longer than 4096 bytes");
}

#[test]
fn endless_headers_stop_at_the_header_count_limit() {
    let srv = scripted(1, |_, mut stream| {
        read_request(&mut stream);
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n");
        // At most 10 MiB of headers, so a broken client cannot keep this test running forever.
        for i in 0..500_000 {
            if write!(stream, "X-Header-{i}: more\r\n").is_err() {
                return;
            }
        }
    });
    let started = Instant::now();
    assert_fails(&fetch(&[&srv.url("/")]), 8, "more than 100 header lines");
    assert!(started.elapsed() < QUICK);
}

#[test]
fn one_endless_header_line_stops_at_the_head_size_limit() {
    let srv = scripted(1, |_, mut stream| {
        read_request(&mut stream);
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nX-Long: ");
        let filler = [b'a'; 4096];
        for _ in 0..2560 {
            if stream.write_all(&filler).is_err() {
                return;
            }
        }
    });
    assert_fails(&fetch(&[&srv.url("/")]), 8, "response head larger than 64 KiB");
}

#[test]
fn a_huge_content_length_streams_to_the_file_and_ends_as_partial() {
    // 10^12 bytes announced, 256 KiB sent: the client writes what comes to the file as it
    // comes (its memory stays one 128 KiB buffer) and reports the shortfall.
    let srv = scripted(1, |_, mut stream| {
        read_request(&mut stream);
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n");
        let _ = stream.write_all(&vec![b'z'; 256 * 1024]);
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("huge.bin");
    let done = fetch(&["-o", file.to_str().unwrap(), &srv.url("/")]);
    assert_fails(&done, 18, "after 262144 of 1000000000000 body bytes");
    assert_eq!(std::fs::metadata(&file).unwrap().len(), 256 * 1024);
}

#[test]
fn max_filesize_refuses_a_huge_content_length_before_reading_it() {
    let srv = scripted(1, |_, mut stream| {
        read_request(&mut stream);
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n");
        hold_until_client_closes(&mut stream);
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("huge.bin");
    let done = fetch(&["--max-filesize", "1M", "-o", file.to_str().unwrap(), &srv.url("/")]);
    assert_fails(&done, 63, "larger than --max-filesize 1048576");
    assert!(!file.exists(), "nothing is written for a body refused up front");
}

#[test]
fn max_filesize_also_stops_a_chunked_body_that_grows_past_it() {
    let srv = scripted(1, |_, mut stream| {
        read_request(&mut stream);
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        let chunk = format!("4000\r\n{}\r\n", "c".repeat(0x4000));
        for _ in 0..1024 {
            if stream.write_all(chunk.as_bytes()).is_err() {
                return;
            }
        }
    });
    let done = fetch(&["--max-filesize", "100K", "-o", "/dev/null", &srv.url("/")]);
    assert_fails(&done, 63, "larger than --max-filesize 102400");
}

#[test]
fn a_server_that_stalls_mid_body_meets_the_idle_timeout() {
    let srv = scripted(1, |_, mut stream| {
        read_request(&mut stream);
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nten bytes.");
        hold_until_client_closes(&mut stream);
    });
    let started = Instant::now();
    let done = fetch(&["--idle-timeout", "0.5", &srv.url("/")]);
    assert_fails(&done, 28, "no answer for 0.5 s");
    assert!(started.elapsed() < QUICK, "{:?}", started.elapsed());
}

#[test]
fn a_server_that_stalls_mid_body_meets_max_time() {
    let srv = scripted(1, |_, mut stream| {
        read_request(&mut stream);
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nten bytes.");
        hold_until_client_closes(&mut stream);
    });
    let started = Instant::now();
    let done = fetch(&["--max-time", "1", &srv.url("/")]);
    assert_fails(&done, 28, "--max-time ran out");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900) && took < QUICK, "{took:?}");
}

#[test]
fn garbage_instead_of_a_status_line_is_a_protocol_error() {
    let srv = answer_once(b"SSH-2.0-OpenSSH_9.6\r\nnot http at all\r\n\r\n");
    assert_fails(&fetch(&[&srv.url("/")]), 8, "not an HTTP/1.x response");
}

#[test]
fn both_content_length_and_chunked_is_refused() {
    let srv = answer_once(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    );
    assert_fails(&fetch(&[&srv.url("/")]), 8, "both Content-Length and Transfer-Encoding");
}

#[test]
fn a_server_that_closes_without_answering_is_partial() {
    let srv = scripted(1, |_, mut stream| {
        read_request(&mut stream);
    });
    assert_fails(&fetch(&[&srv.url("/")]), 18, "after 0 bytes of the response head");
}

#[test]
fn endless_interim_responses_are_cut_off() {
    let srv = scripted(1, |_, mut stream| {
        read_request(&mut stream);
        for _ in 0..1000 {
            if stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err() {
                return;
            }
        }
    });
    assert_fails(&fetch(&[&srv.url("/")]), 8, "more than 16 interim (1xx) responses");
}

#[test]
fn a_redirect_loop_is_exit_47() {
    let srv = scripted(1, |_, mut stream| {
        for i in 0..10 {
            if read_request(&mut stream).is_empty() {
                return;
            }
            let to = if i % 2 == 0 { "/b" } else { "/a" };
            let reply =
                format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\n\r\n");
            if stream.write_all(reply.as_bytes()).is_err() {
                return;
            }
        }
    });
    assert_fails(&fetch(&["-L", &srv.url("/a")]), 47, "redirect loop: ");
}

#[test]
fn a_redirect_to_another_scheme_is_exit_1_as_on_the_command_line() {
    let srv = answer_once(
        b"HTTP/1.1 302 Found\r\nLocation: ftp://elsewhere/\r\nContent-Length: 0\r\n\r\n",
    );
    assert_fails(&fetch(&["-L", &srv.url("/")]), 1, "bad Location \"ftp://elsewhere/\"");
}

#[test]
fn a_kept_alive_connection_the_server_closed_is_retried_once_on_a_new_one() {
    // The first connection answers one request, then the server closes it, as servers do with
    // idle connections; the client finds out only when it sends the second request.
    let srv = scripted(2, |i, mut stream| {
        read_request(&mut stream);
        let body = if i == 0 { "first" } else { "again" };
        let reply = format!("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{body}");
        let _ = stream.write_all(reply.as_bytes());
        if i == 1 {
            hold_until_client_closes(&mut stream);
        }
    });
    let done = fetch(&["-v", &srv.url("/1"), &srv.url("/2")]);
    assert_eq!(code(&done), 0, "{done:?}");
    assert_eq!(done.stdout.trim_end(), "firstagain");
    // The close is seen either before the second request goes out (the idle check) or after
    // (the retry): which one depends on how soon the server's FIN arrives.
    assert!(
        done.stderr.contains("died before answering")
            || done.stderr.contains("was closed by the server while idle"),
        "{}",
        done.stderr
    );
}

/// The peak resident memory of a running process (`VmHWM` in `/proc/PID/status`), in KiB.
#[cfg(target_os = "linux")]
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn a_64_mib_body_streams_through_bounded_memory() {
    use std::sync::mpsc;
    const BODY: usize = 64 << 20;
    let (sent_tx, sent_rx) = mpsc::channel();
    let (close_tx, close_rx) = mpsc::channel::<()>();
    let srv = scripted(1, move |_, mut stream| {
        read_request(&mut stream);
        // Ten bytes more than we send: the client must still be waiting when it is measured.
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", BODY + 10);
        let _ = stream.write_all(head.as_bytes());
        let block = vec![b'm'; 1 << 20];
        for _ in 0..BODY / block.len() {
            if stream.write_all(&block).is_err() {
                return;
            }
        }
        let _ = sent_tx.send(());
        let _ = close_rx.recv_timeout(testkit::PATIENCE);
    });
    let client = testkit::Proc::spawn(support::client().args(["-o", "/dev/null", &srv.url("/")]));
    sent_rx.recv_timeout(testkit::PATIENCE).expect("the server sent the body");
    // The client has read all but what the kernel buffers hold (a few MiB) of 64 MiB.
    let peak = peak_rss_kib(client.pid());
    close_tx.send(()).unwrap();
    let done = client.finish();
    assert_fails(&done, 18, &format!("after {BODY} of {} body bytes", BODY + 10));
    assert!(peak < 32 * 1024, "peak RSS {peak} KiB for a 64 MiB body");
}

/// Closes `stream` with a TCP reset instead of a FIN: SO_LINGER with a zero timeout makes
/// `close()` drop unsent data and send RST, as a crashing server's kernel does.
fn reset(stream: std::net::TcpStream) {
    socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO)).unwrap();
    drop(stream);
}

#[test]
fn a_reset_while_receiving_is_exit_56() {
    let srv = scripted(1, |_, mut stream| {
        read_request(&mut stream);
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome");
        reset(stream);
    });
    let done = fetch(&[&srv.url("/")]);
    assert_fails(&done, 56, "could not read from the server");
    assert!(done.stderr.contains("hint: the server's kernel sent a TCP reset"), "{}", done.stderr);
}

#[test]
fn a_reset_while_sending_the_body_is_exit_55() {
    // 40 MiB is more than the two socket buffers can ever hold (Linux caps them at 4 MiB for
    // sending and 32 MiB for receiving by default), so the client is still sending when the
    // server, having read only the head, resets the connection.
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("big.bin");
    std::fs::write(&body, vec![b'b'; 40 << 20]).unwrap();
    let srv = scripted(1, |_, mut stream| {
        read_request(&mut stream);
        reset(stream);
    });
    let data = format!("@{}", body.display());
    let done = fetch(&["--data-binary", &data, &srv.url("/upload")]);
    assert_fails(&done, 55, "could not send the request");
    assert!(done.stderr.contains("hint: the server closed or reset"), "{}", done.stderr);
}

#[test]
fn bytes_after_a_response_are_not_taken_as_the_next_response() {
    // Connection 0 answers /1 with 5 bytes more than its Content-Length says, the shape of a
    // next response. Reusing the connection would read them as the answer to /2 before /2
    // is even sent. The client must close it and ask /2 on connection 1.
    let srv = scripted(2, |i, mut stream| {
        read_request(&mut stream);
        if i == 0 {
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirstHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nFORGE",
            );
            hold_until_client_closes(&mut stream);
        } else {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond");
        }
    });
    let done = fetch(&["-v", &srv.url("/1"), &srv.url("/2")]);
    assert_eq!(code(&done), 0, "{done:?}");
    assert_eq!(done.stdout.trim_end(), "firstsecond");
    assert!(done.stderr.contains("Excess found"), "{}", done.stderr);
    assert!(!done.stderr.contains("Re-using"), "{}", done.stderr);
}

#[test]
fn bytes_on_an_idle_connection_close_it_before_the_next_request() {
    // The excess comes in a second write, after the client has read the first response: the
    // server waits for the client's next request, which must come on a new connection.
    const EXCESS: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nFORGE";
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let wait = std::sync::Mutex::new(wait);
    let srv = scripted(2, move |i, mut stream| {
        read_request(&mut stream);
        if i == 0 {
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\n\r\n");
            let _ = wait.lock().unwrap().recv(); // Until the client has read the 204.
            let _ = stream.write_all(EXCESS);
            hold_until_client_closes(&mut stream);
        } else {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond");
        }
    });
    // Bytes that arrive after the client's look at the idle connection cannot be told from an
    // answer to the next request (HTTP/1.1 has no request ids), so the client is stepped to
    // that look (the 204 read), the excess is sent only then, and the client released once
    // the kernel holds the excess for it.
    let args = ["--step", "-v", &srv.url("/1"), &srv.url("/2")];
    let Some(mut term) = Terminal::spawn(env!("CARGO_BIN_EXE_06-http-client"), &args) else {
        return;
    };
    for _ in 0..50 {
        if term.prompt("client") == "recv(non-blocking)" {
            break;
        }
        term.type_line("");
    }
    go.send(()).unwrap();
    let excess = u32::try_from(EXCESS.len()).unwrap();
    let deadline = Instant::now() + testkit::PATIENCE;
    while !socket_table::read_table()
        .unwrap()
        .iter()
        .any(|e| e.remote == srv.addr && e.local.port() != srv.addr.port() && e.recv_q == excess)
    {
        assert!(Instant::now() < deadline, "the excess never reached the client's socket");
        std::thread::yield_now();
    }
    term.type_line("c");
    let done = term.finish();
    assert_eq!(code(&done), 0, "{done:?}");
    // The screen: stdout and stderr together. /2's body is `second`, never the excess.
    let screen = &done.stdout;
    assert!(screen.contains("* Excess found: 43 bytes arrived on idle connection #0"), "{screen}");
    assert!(screen.contains("\nsecond"), "{screen}");
    assert!(!screen.contains("FORGE"), "{screen}");
}

#[test]
fn a_redirect_to_a_bad_port_is_exit_3_and_not_followed() {
    let srv = answer_once(
        b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:99999/\r\nContent-Length: 0\r\n\r\n",
    );
    let done = fetch(&["-L", "-v", &srv.url("/")]);
    assert_fails(&done, 3, "bad Location");
    assert_eq!(done.stderr.matches("Trying").count(), 1, "{}", done.stderr);
}

#[test]
fn a_non_ascii_location_is_percent_encoded_once() {
    let (tx, rx) = std::sync::mpsc::channel();
    let srv = scripted(1, move |_, mut stream| {
        read_request(&mut stream);
        // Raw UTF-8, a space, an existing escape and a Latin-1 byte, as careless servers send.
        let _ = stream.write_all(
            b"HTTP/1.1 302 Found\r\nLocation: /caf\xc3\xa9 au%20lait/\xe9t\xc3\xa9\r\nContent-Length: 0\r\n\r\n",
        );
        let second = read_request(&mut stream);
        let _ = tx.send(second.lines().next().unwrap_or_default().to_owned());
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    });
    let done = fetch(&["-L", &srv.url("/")]);
    assert_eq!(code(&done), 0, "{done:?}");
    let line = rx.recv_timeout(testkit::PATIENCE).unwrap();
    assert_eq!(line, "GET /caf%C3%A9%20au%20lait/%E9t%C3%A9 HTTP/1.1");
}
