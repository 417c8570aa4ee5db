//! The `04-udp` binary over real UDP sockets on loopback: the tutorial's messages, `over`, the
//! simulated bad network (exact loss for a seed, reordering, duplicates), connected UDP,
//! truncation, receive buffers, IPv6, broadcast, and the errors.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

use std::net::UdpSocket;
use std::process::Command;

use ch04_udp::netsim::{Impairments, Rng};
use testkit::{Finished, Proc, run};

fn udp() -> Command {
    Command::new(env!("CARGO_BIN_EXE_04-udp"))
}

/// Starts `04-udp server --port 0 ARGS` and returns it with its port.
fn server(args: &[&str]) -> (Proc, String) {
    let proc = Proc::spawn(udp().args(["server", "--port", "0"]).args(args));
    let addr = proc.listening_addr();
    let port = addr.rsplit(':').next().unwrap().to_owned();
    (proc, port)
}

/// Runs `04-udp client --port PORT ARGS`.
fn client(port: &str, args: &[&str]) -> Finished {
    run(udp().args(["client", "--port", port]).args(args))
}

/// The number after `label` in `text`, as in "100 sent, 70 received".
fn number_before(text: &str, label: &str) -> u32 {
    let at = text.find(label).unwrap_or_else(|| panic!("no {label:?} in:\n{text}"));
    text[..at].split_whitespace().last().unwrap().parse().unwrap()
}

#[test]
fn the_tutorials_hundred_messages_are_all_answered() {
    let (srv, port) = server(&[]);
    let out = client(&port, &[]);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.contains("Received b'message 0' from 127.0.0.1:"), "{}", out.stdout);
    assert!(out.stdout.contains("Received b'message 99' from"), "{}", out.stdout);
    assert!(out.stdout.ends_with("100 sent, 100 answered\n"), "{}", out.stdout);
    let done = srv.stop();
    assert!(done.stdout.starts_with("SO_RCVBUF: "), "{}", done.stdout);
    assert!(done.stdout.contains(": b'message 42'"), "the server prints each datagram");
    assert!(
        done.stderr.contains("server stopped: 100 datagrams (990 B) from 1 peer; 100 replies"),
        "{}",
        done.stderr
    );
}

#[test]
fn over_mode_answers_like_the_tutorial() {
    let (_srv, port) = server(&["--reply", "over"]);
    let out = client(&port, &["messages", "--count", "3"]);
    assert_eq!(out.stdout.matches("Received b'over' from").count(), 3, "{}", out.stdout);
    // Probes need an echo: `over` answers, but not with a probe, and ping says so.
    let out = client(&port, &["--timeout", "200", "ping", "--count", "2", "--interval", "0"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.contains("2 unexpected"), "{}", out.stdout);
    assert!(
        out.stderr
            .contains("none was an echo of what we sent (is the server in --reply over mode?)"),
        "{}",
        out.stderr
    );
}

#[test]
fn simulated_loss_is_exact_for_a_seed() {
    // The server's decisions come from a seeded generator, so the test can compute them.
    let net = Impairments { drop: 0.3, ..Impairments::default() };
    let mut rng = Rng::new(7);
    let expected_lost = (0..100).filter(|_| net.decide(&mut rng).dropped).count() as u32;
    assert!(expected_lost > 0);

    for _ in 0..2 {
        let (srv, port) = server(&["--drop", "0.3", "--seed", "7", "--quiet"]);
        let out = client(&port, &["--timeout", "300", "ping", "--count", "100", "--interval", "0"]);
        assert!(out.status.success(), "{out:?}");
        assert_eq!(number_before(&out.stdout, "received,"), 100 - expected_lost, "{}", out.stdout);
        let done = srv.stop();
        assert!(done.stdout.contains("seed 7 (repeat a run with --seed 7)"), "{}", done.stdout);
        assert!(
            done.stderr.contains(&format!("{expected_lost} dropped (simulated)")),
            "{}",
            done.stderr
        );
    }
}

#[test]
fn jitter_reorders_replies() {
    let (_srv, port) = server(&["--jitter", "20", "--seed", "1", "--quiet"]);
    let out = client(&port, &["ping", "--count", "30", "--interval", "1"]);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.contains("(out of order)"), "{}", out.stdout);
    assert!(number_before(&out.stdout, "reordered") > 0, "{}", out.stdout);
    assert_eq!(number_before(&out.stdout, "received,"), 30, "jitter delays, it does not lose");
}

#[test]
fn duplicates_are_detected() {
    let (srv, port) = server(&["--duplicate", "0.5", "--seed", "3", "--quiet"]);
    let out = client(&port, &["ping", "--count", "40", "--interval", "2"]);
    assert!(out.stdout.contains("(DUP!)"), "{}", out.stdout);
    let seen = number_before(&out.stdout, "duplicates");
    let done = srv.stop();
    let sent_twice = number_before(&done.stderr, "duplicated (simulated)");
    // The run ends when every probe is answered, so a duplicate of the last one can be missed.
    assert!(seen >= 1 && seen <= sent_twice && sent_twice - seen <= 1, "{seen} of {sent_twice}");
}

#[test]
fn connected_udp_hears_connection_refused() {
    let closed = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let out = client(&closed, &["--trace", "--connect", "messages", "--count", "1"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("[client] recv(65536) -> Connection refused"), "{}", out.stderr);
    assert!(out.stderr.contains("ICMP port unreachable"), "{}", out.stderr);
    assert!(out.stderr.contains("Connection refused"), "{}", out.stderr);
    assert!(out.stderr.contains("hint: "), "{}", out.stderr);

    // Unconnected, the same ICMP message is dropped by the kernel: all we see is silence,
    // and total silence is a failure (exit 1), as for ping(8).
    let out = client(&closed, &["--timeout", "200", "messages", "--count", "1"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(out.stdout, "no reply to message 0 within 200 ms\n1 sent, 0 answered\n");
    assert!(out.stderr.contains("no reply at all from 127.0.0.1:"), "{}", out.stderr);
    assert!(out.stderr.contains("try --connect"), "{}", out.stderr);
}

/// With no server, an unconnected client hears nothing at all (the ICMP error is not passed
/// on). It gives up after GIVE_UP_AFTER_SILENT unanswered datagrams in a row, with its hint,
/// instead of waiting out the tutorial's 100 messages (100 timeouts) or the whole `rtt` run.
#[test]
fn without_a_server_every_mode_gives_up_within_a_few_timeouts() {
    let closed = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    for mode in [&["messages"][..], &["rtt", "--duration", "30"], &["ping", "--interval", "500"]] {
        let started = std::time::Instant::now();
        let out = client(&closed, &[&["--timeout", "200"][..], mode].concat());
        let took = started.elapsed();
        assert_eq!(out.status.code(), Some(1), "{mode:?}: {out:?}");
        assert!(out.stdout.contains("3 sent, none answered: giving up"), "{mode:?}: {out:?}");
        assert!(out.stderr.contains("is a server running there?"), "{mode:?}: {}", out.stderr);
        assert!(took < std::time::Duration::from_secs(5), "{mode:?} took {took:?}");
    }
}

#[test]
fn a_datagram_larger_than_the_buffer_is_truncated_and_said_so() {
    let (srv, port) = server(&["--buf-size", "1024", "--quiet"]);
    let out = client(&port, &["ping", "--count", "1", "--size", "2000"]);
    assert!(out.stdout.contains("1024 bytes from 127.0.0.1:"), "{}", out.stdout);
    assert!(out.stdout.contains("(truncated: 2000 were sent)"), "{}", out.stdout);
    let done = srv.stop();
    assert!(
        done.stderr.contains("was larger than the 1024-byte buffer: truncated, the rest is lost"),
        "{}",
        done.stderr
    );
    assert!(done.stderr.contains("1 truncated"), "{}", done.stderr);
}

#[test]
fn the_largest_ipv4_datagram_goes_through_and_one_more_byte_is_refused() {
    let (_srv, port) = server(&["--quiet"]);
    let out = client(&port, &["ping", "--count", "1", "--size", "65507"]);
    assert!(out.stdout.contains("65507 bytes from"), "{out:?}");
    let out = client(&port, &["ping", "--count", "1", "--size", "65508"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.contains("more than one UDP datagram can carry over IPv4 (65507 bytes)"),
        "{}",
        out.stderr
    );
}

#[cfg(target_os = "linux")]
#[test]
fn the_kernel_doubles_a_requested_receive_buffer() {
    let rmem_max: usize =
        std::fs::read_to_string("/proc/sys/net/core/rmem_max").unwrap().trim().parse().unwrap();
    let (srv, _) = server(&["--rcvbuf", "64K"]);
    let done = srv.stop();
    let granted = 2 * rmem_max.min(65536);
    assert!(
        done.stdout
            .contains(&format!("SO_RCVBUF: asked 65536 bytes, the kernel granted {granted}")),
        "{}",
        done.stdout
    );
    assert!(done.stdout.contains("net.core.rmem_max"), "{}", done.stdout);
}

#[test]
fn blast_and_rtt_report_their_figures() {
    let (srv, port) = server(&["--quiet"]);
    let out = client(&port, &["blast", "--count", "5000"]);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.starts_with("blast: sent 5000 datagrams of 64 bytes in "), "{}", out.stdout);
    let out = client(&port, &["rtt", "--duration", "1"]);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.contains(" round trips of 64 bytes in "), "{}", out.stdout);
    assert!(out.stdout.contains("p99"), "{}", out.stdout);
    let done = srv.stop();
    #[cfg(target_os = "linux")]
    assert!(
        done.stderr.contains("the kernel dropped because the receive buffer was full: "),
        "{}",
        done.stderr
    );
    let _ = done;
}

#[test]
fn ipv6_works_like_ipv4() {
    if UdpSocket::bind("[::1]:0").is_err() {
        return testkit::skip("this machine has no IPv6 loopback (::1)");
    }
    let (srv, port) = server(&["--host", "::1"]);
    let out = client(&port, &["--host", "::1", "messages", "--count", "3"]);
    assert!(out.stdout.contains("from [::1]:"), "{}", out.stdout);
    assert!(out.stdout.ends_with("3 sent, 3 answered\n"), "{}", out.stdout);
    let out = client(&port, &["--host", "::1", "ping", "--count", "1", "--size", "65527"]);
    assert!(out.stdout.contains("65527 bytes from"), "IPv6 carries 20 bytes more: {out:?}");
    srv.stop();
}

#[cfg(target_os = "linux")]
#[test]
fn broadcast_needs_so_broadcast() {
    // 127.255.255.255 is the loopback network's broadcast address: on Linux it is routed to
    // `lo` only, so this test sends nothing beyond this machine.
    let (_srv, port) = server(&["--host", "0.0.0.0"]);
    let out = client(&port, &["--host", "127.255.255.255", "messages", "--count", "1"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("needs --broadcast (SO_BROADCAST)"), "{}", out.stderr);
    assert!(out.stderr.contains("Permission denied"), "{}", out.stderr);
    // The hint is about sending, not about binding a low port.
    assert!(out.stderr.contains("hint: the kernel refused the datagram"), "{}", out.stderr);
    assert!(!out.stderr.contains("below 1024"), "{}", out.stderr);

    let out =
        client(&port, &["--broadcast", "--host", "127.255.255.255", "messages", "--count", "1"]);
    assert!(out.stdout.contains("Received b'message 0' from 127.0.0.1:"), "{out:?}");
}

#[test]
fn trace_narrates_datagram_calls() {
    let (srv, port) = server(&["--trace"]);
    let out = client(&port, &["--trace", "messages", "--count", "1"]);
    for line in [
        "[client] socket(AF_INET, SOCK_DGRAM) -> fd ",
        "[client] bind(0.0.0.0:0) -> 0.0.0.0:",
        "[client] sendto(9 bytes, 127.0.0.1:",
        "[client] recvfrom(65536) -> 9 bytes from 127.0.0.1:",
        "[client] setsockopt(SOL_SOCKET, SO_RCVTIMEO, 1000 ms)",
        "[client] close(fd ",
    ] {
        assert!(out.stderr.contains(line), "missing {line:?} in:\n{}", out.stderr);
    }
    let out = client(&port, &["--trace", "--connect", "messages", "--count", "1"]);
    for line in
        ["(UDP: no packet is sent)", "[client] send(9 bytes)", "[client] recv(65536) -> 9 bytes"]
    {
        assert!(out.stderr.contains(line), "missing {line:?} in:\n{}", out.stderr);
    }
    let done = srv.stop();
    for line in [
        "[server] socket(AF_INET, SOCK_DGRAM) -> fd ",
        "[server] bind(127.0.0.1:0)",
        "[server] recvfrom(65535) -> 9 bytes from",
        "[server] sendto(9 bytes, 127.0.0.1:",
        "[server] close(fd ",
    ] {
        assert!(done.stderr.contains(line), "missing {line:?} in:\n{}", done.stderr);
    }
    assert!(!done.stderr.contains("listen("), "a datagram socket never listens");
}

#[test]
fn demo_runs_and_shows_loss_and_refusal() {
    let out = run(udp().arg("demo"));
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.contains("ping statistics"), "{}", out.stdout);
    assert!(out.stdout.contains("as expected: "), "{}", out.stdout);
    assert!(out.stdout.contains("Connection refused"), "{}", out.stdout);
    assert!(out.stderr.contains("[demo] 1. "), "{}", out.stderr);
    assert!(out.stderr.contains("server stopped: "), "{}", out.stderr);
}

#[test]
fn usage_mistakes_exit_2_without_a_backtrace() {
    for args in [
        &["server", "--drop", "1.5"][..],
        &["server", "--reply", "shout"],
        &["server", "--buf-size", "70000"],
        &["client", "ping", "--size", "8"],
        &["client", "ping", "--count", "0"],
        &["client", "rtt", "--duration", "61"],
        &["client", "--timeout", "0"],
    ] {
        let out = run(udp().args(args));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(out.stderr.starts_with("error: "), "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{args:?}");
    }
}

#[test]
fn piping_the_client_into_head_ends_quietly() {
    // `head` exits after one line; the client's next print meets a closed pipe (EPIPE). 5000
    // lines are more than a pipe holds (64 KiB), so the client cannot finish before `head`
    // exits however the two are scheduled; with 100 it sometimes did, and exited 0.
    let (_srv, port) = server(&["--quiet"]);
    let script = format!(
        "set -o pipefail; '{}' client --port {port} messages --count 5000 | head -n 1",
        env!("CARGO_BIN_EXE_04-udp")
    );
    let out = run(Command::new("bash").args(["-c", &script]));
    assert_eq!(out.stdout.lines().count(), 1, "{out:?}");
    assert_eq!(out.status.code(), Some(1), "a quiet runtime failure, not a crash: {out:?}");
    assert!(
        !out.stderr.contains("panicked") && !out.stderr.contains("backtrace"),
        "{}",
        out.stderr
    );
}

/// The server prints text as the tutorial does, but sums up probes and other binary data in a
/// few words: rows of escaped bytes teach nothing and slow the server down.
#[test]
fn the_server_sums_up_probes_and_binary_datagrams() {
    let (srv, port) = server(&[]);
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(testkit::PATIENCE)).unwrap();
    let mut probe = vec![0u8; 64];
    ch04_udp::probe::Probe { seq: 12, sent_ns: 5 }.write(&mut probe);
    let mut buf = [0u8; 100];
    for datagram in [&probe[..], &[0xff, 0x00, 0x13, 0x37][..], b"hello"] {
        peer.send_to(datagram, format!("127.0.0.1:{port}")).unwrap();
        peer.recv_from(&mut buf).unwrap(); // The echo: the server has printed its line.
    }
    let done = srv.stop();
    assert!(done.stdout.contains(": probe #12, 64 bytes\n"), "{}", done.stdout);
    assert!(done.stdout.contains(": 4 bytes of binary data\n"), "{}", done.stdout);
    assert!(done.stdout.contains(": b'hello'\n"), "{}", done.stdout);
}

/// "Address already in use" from a UDP bind: another socket has the port. The TCP story of
/// TIME_WAIT and SO_REUSEADDR does not apply, and the hint does not tell it.
#[test]
fn a_udp_port_in_use_gets_a_udp_hint() {
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = run(udp().args(["server", "--port", &port]));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("Address already in use"), "{}", out.stderr);
    assert!(out.stderr.contains("hint: another UDP socket is bound"), "{}", out.stderr);
    assert!(!out.stderr.contains("SO_REUSEADDR"), "not TCP's TIME_WAIT story: {}", out.stderr);
}
