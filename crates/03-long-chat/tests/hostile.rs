//! Peers that break the rules, written frame by frame: a 4 GiB length, a frame cut off by a
//! close, text that is not UTF-8, a client that never reads, a client killed with SIGKILL, a
//! peer that goes silent. Each time the server answers clearly and the room carries on.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use ch03_long_chat::connection::Connection;
use ch03_long_chat::frame::{Frame, Kind};
use socket2::{Domain, Socket, Type};
use testkit::{PATIENCE, Proc};

mod support;
use support::{chat, room};

/// A hand-written client: connect, JOIN, and wait for the server's welcome.
fn raw_join(addr: &str, name: &str) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    (&stream).write_all(&Frame::new(Kind::Join, name).to_bytes()).unwrap();
    let mut conn = Connection::new(&stream);
    let welcome = conn.read_frame().unwrap().unwrap();
    assert_eq!(welcome, Frame::new(Kind::Join, name));
    assert_eq!(conn.read_frame().unwrap().unwrap().kind, Kind::List);
    stream
}

/// Reads frames until one of `kind` whose text contains `needle`; returns it.
fn wait_for(conn: &mut Connection<&TcpStream>, kind: Kind, needle: &str) -> Frame {
    loop {
        match conn.read_frame() {
            Ok(Some(frame)) if frame.kind == kind && frame.text.contains(needle) => return frame,
            Ok(Some(_)) => {}
            other => panic!("waiting for {kind} {needle:?}, got {other:?}"),
        }
    }
}

/// Everything the server sends until it closes the connection.
fn read_until_closed(stream: &TcpStream) -> Vec<Frame> {
    let mut conn = Connection::new(stream);
    let mut frames = Vec::new();
    while let Ok(Some(frame)) = conn.read_frame() {
        frames.push(frame);
    }
    frames
}

#[cfg(target_os = "linux")]
fn rss_kib(proc: &Proc) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", proc.pid())).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_four_gib_length_prefix_is_refused_without_allocating() {
    let (server, addr) = room(&[]);
    let bob = raw_join(&addr, "bob");
    let mut bob_frames = Connection::new(&bob);
    #[cfg(target_os = "linux")]
    let before = rss_kib(&server);
    for joined in [true, false] {
        let hostile =
            if joined { raw_join(&addr, "mallory") } else { TcpStream::connect(&addr).unwrap() };
        hostile.set_read_timeout(Some(PATIENCE)).unwrap();
        (&hostile).write_all(&[0xff, 0xff, 0xff, 0xff, 1, b'x']).unwrap();
        let frames = read_until_closed(&hostile);
        let error = frames.iter().find(|f| f.kind == Kind::Error).unwrap();
        assert_eq!(
            error.text,
            "frame length 4294967295 is over the limit of 65536 bytes (MAX_FRAME_LEN)"
        );
    }
    wait_for(&mut bob_frames, Kind::Leave, "mallory (protocol error: frame length 4294967295");
    #[cfg(target_os = "linux")]
    {
        let grown = rss_kib(&server).saturating_sub(before);
        assert!(grown < 4 * 1024, "the server's memory grew by {grown} KiB");
    }
    // The room goes on.
    let alice = raw_join(&addr, "alice");
    (&alice).write_all(&Frame::new(Kind::Text, "still here?").to_bytes()).unwrap();
    wait_for(&mut bob_frames, Kind::Text, "alice: still here?");
    server.stop();
}

#[test]
fn a_frame_cut_off_by_close_is_reported() {
    let (server, addr) = room(&[]);
    let bob = raw_join(&addr, "bob");
    let mut bob_frames = Connection::new(&bob);
    let cutter = raw_join(&addr, "cutter");
    // Announces 10 bytes (kind + 9), sends 3 of them, and closes.
    (&cutter).write_all(&[0, 0, 0, 10, 1, b'a', b'b']).unwrap();
    cutter.shutdown(Shutdown::Write).unwrap();
    let leave = wait_for(&mut bob_frames, Kind::Leave, "cutter");
    assert_eq!(leave.text, "cutter (closed in the middle of a frame (7 of 14 bytes))");
    let done = server.stop();
    assert!(
        done.stderr.contains("disconnected: closed in the middle of a frame"),
        "{}",
        done.stderr
    );
}

#[test]
fn invalid_utf8_is_answered_with_an_error_frame_and_the_connection_goes_on() {
    let (server, addr) = room(&[]);
    let bob = raw_join(&addr, "bob");
    let mut bob_frames = Connection::new(&bob);
    let sender = raw_join(&addr, "latin1");
    let mut sender_frames = Connection::new(&sender);
    (&sender).write_all(&[0, 0, 0, 5, 1, b'c', b'a', b'f', 0xe9]).unwrap(); // "café" in Latin-1
    let error = wait_for(&mut sender_frames, Kind::Error, "");
    assert_eq!(error.text, "TEXT frame content is not valid UTF-8");
    // An unknown kind gets the same treatment.
    (&sender).write_all(&[0, 0, 0, 1, 0x42]).unwrap();
    assert_eq!(wait_for(&mut sender_frames, Kind::Error, "").text, "unknown frame kind 0x42");
    (&sender).write_all(&Frame::new(Kind::Text, "café").to_bytes()).unwrap();
    assert_eq!(wait_for(&mut bob_frames, Kind::Text, "").text, "latin1: café");
    server.stop();
}

#[test]
fn text_before_join_is_refused() {
    let (server, addr) = room(&[]);
    let rude = TcpStream::connect(&addr).unwrap();
    rude.set_read_timeout(Some(PATIENCE)).unwrap();
    (&rude).write_all(&Frame::new(Kind::Text, "hi").to_bytes()).unwrap();
    assert_eq!(read_until_closed(&rude), [Frame::new(Kind::Error, "expected JOIN, got TEXT")]);
    server.stop();
}

#[cfg(target_os = "linux")]
#[test]
fn a_client_that_never_reads_is_dropped_and_the_others_do_not_wait() {
    let (server, addr) = room(&[]);
    let alice = raw_join(&addr, "alice");
    let bob = raw_join(&addr, "bob");
    let mut bob_frames = Connection::new(&bob);
    let before = rss_kib(&server);
    // The stuck client: a small receive buffer (set before connect, so the window is small
    // from the start) and not one read.
    let stuck = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    stuck.set_recv_buffer_size(4096).unwrap();
    stuck.connect(&addr.parse::<SocketAddr>().unwrap().into()).unwrap();
    stuck.send(&Frame::new(Kind::Join, "stuck").to_bytes()).unwrap();
    wait_for(&mut bob_frames, Kind::Join, "stuck");
    // alice talks, 8 KiB lines; bob reads each before the next is sent, so bob is never
    // behind. The stuck client's share piles up: first in the kernel's buffers, then in the
    // server's outbox for it, until the outbox limit drops it.
    let line = "x".repeat(8 << 10);
    let mut dropped_at = None;
    for i in 0..3000 {
        (&alice).write_all(&Frame::new(Kind::Text, format!("{i} {line}")).to_bytes()).unwrap();
        loop {
            let frame = bob_frames.read_frame().unwrap().unwrap();
            if frame.kind == Kind::Leave {
                assert!(
                    frame.text.starts_with(
                        "stuck (too slow: 256.0 KiB of messages waiting (MAX_OUTBOX_BYTES))"
                    ),
                    "{}",
                    frame.text
                );
                dropped_at.get_or_insert(i);
                continue;
            }
            assert_eq!(frame.kind, Kind::Text);
            assert!(frame.text.starts_with(&format!("alice: {i} ")), "in order, none lost");
            break;
        }
        if dropped_at.is_some_and(|at| i > at + 10) {
            break;
        }
    }
    let dropped_at = dropped_at.expect("the stuck client was dropped");
    let grown = rss_kib(&server).saturating_sub(before);
    assert!(
        grown < 8 * 1024,
        "server memory grew by {grown} KiB (dropped after {dropped_at} lines)"
    );
    let done = server.stop();
    assert!(done.stderr.contains("1 dropped as too slow"), "{}", done.stderr);
    drop(stuck);
}

#[cfg(unix)]
#[test]
fn a_client_killed_with_sigkill_leaves_a_notice() {
    let (server, addr) = room(&[]);
    let port = addr.rsplit(':').next().unwrap();
    let bob = raw_join(&addr, "bob");
    let mut bob_frames = Connection::new(&bob);
    let mut victim = Proc::spawn(
        chat()
            .args(["client", "--port", port, "--name", "victim", "--no-history"])
            .stdin(Stdio::piped()),
    );
    let _keyboard = victim.take_stdin();
    wait_for(&mut bob_frames, Kind::Join, "victim");
    // No goodbye from the program: the kernel closes its socket when the process dies.
    Command::new("kill").args(["-KILL", &victim.pid().to_string()]).status().unwrap();
    let leave = wait_for(&mut bob_frames, Kind::Leave, "victim");
    assert!(leave.text == "victim" || leave.text.starts_with("victim ("), "{}", leave.text);
    drop(victim);
    server.stop();
}

#[test]
fn a_silent_peer_is_caught_by_the_heartbeat() {
    // Short timeouts, so the test takes seconds; 2 s leaves bob, who must answer, a wide margin.
    let (server, addr) = room(&["--heartbeat", "0.2", "--peer-timeout", "2"]);
    let port = addr.rsplit(':').next().unwrap();
    // bob is a real client: its network thread answers PINGs, so it stays.
    let mut bob = Proc::spawn(
        chat()
            .args(["client", "--port", port, "--name", "bob", "--no-history"])
            .stdin(Stdio::piped()),
    );
    let mut bob_keys = bob.take_stdin().unwrap();
    bob.expect_line("* you are bob");
    // The silent peer joins, then reads the PINGs but never answers: a hung program.
    let silent = raw_join(&addr, "silent");
    bob.expect_line("* silent joined");
    let frames = read_until_closed(&silent);
    assert!(frames.iter().any(|f| f.kind == Kind::Ping), "{frames:?}");
    assert_eq!(bob.expect_line("* silent left"), "* silent left (no answer to heartbeat for 2 s)");
    // bob has been quiet as long, but answered: still in the room.
    bob_keys.write_all(b"/who\n").unwrap();
    assert_eq!(bob.expect_line("* in the room: "), "* in the room: bob");
    // A client that never even says JOIN is closed after the same timeout.
    let mute = TcpStream::connect(&addr).unwrap();
    mute.set_read_timeout(Some(PATIENCE)).unwrap();
    assert_eq!(read_until_closed(&mute), [Frame::new(Kind::Error, "no JOIN within 2 s")]);
    let done = server.stop();
    assert!(done.stderr.contains("1 timed out"), "{}", done.stderr);
}

#[test]
fn a_client_notices_a_server_that_stopped_answering() {
    // A fake server: welcomes the client, then reads and never answers (a hung program; the
    // kernel still acknowledges every byte, so TCP sees nothing wrong).
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let mut client = Proc::spawn(
        chat()
            .args(["client", "--port", &port, "--no-history", "--heartbeat", "0.2"])
            .args(["--peer-timeout", "1"])
            .stdin(Stdio::piped()),
    );
    let _keyboard = client.take_stdin();
    let (mut hung, _) = listener.accept().unwrap();
    hung.write_all(&Frame::new(Kind::Join, "you").to_bytes()).unwrap();
    let done = client.finish();
    assert_eq!(done.status.code(), Some(1), "{done:?}");
    assert!(
        done.stderr.contains("error: the server stopped answering (nothing for 1 s"),
        "{}",
        done.stderr
    );
    // It did try: JOIN, then PINGs.
    hung.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut sent = Vec::new();
    let _ = hung.read_to_end(&mut sent);
    assert!(sent.windows(5).any(|w| w == [0, 0, 0, 1, Kind::Ping as u8]), "{sent:?}");
}

/// A real client whose keyboard is a pipe; waits until the server has welcomed it.
fn piped_client(port: &str, name: &str) -> (Proc, std::process::ChildStdin) {
    let mut proc = Proc::spawn(
        chat()
            .args(["client", "--port", port, "--name", name, "--no-history"])
            .stdin(Stdio::piped()),
    );
    let stdin = proc.take_stdin().unwrap();
    proc.expect_line(&format!("* you are {name}"));
    (proc, stdin)
}

#[cfg(target_os = "linux")]
#[test]
fn a_flooder_cannot_empty_the_room_but_a_reader_that_never_reads_is_still_dropped() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;

    let (server, addr) = room(&[]);
    let port = addr.rsplit(':').next().unwrap().to_owned();
    let readers: Vec<_> = ["r1", "r2", "r3"].iter().map(|name| piped_client(&port, name)).collect();
    // The stuck reader: a small receive window and not one read.
    let stuck = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    stuck.set_recv_buffer_size(4096).unwrap();
    stuck.connect(&addr.parse::<SocketAddr>().unwrap().into()).unwrap();
    stuck.send(&Frame::new(Kind::Join, "stuck").to_bytes()).unwrap();
    readers[0].0.expect_line("* stuck joined");
    let flood = raw_join(&addr, "flood");
    flood.set_write_timeout(Some(PATIENCE)).unwrap();
    readers[0].0.expect_line("* flood joined");

    // The flooder writes as fast as TCP lets it, until the stuck reader is gone (bounded in
    // lines and time either way).
    let done = Arc::new(AtomicBool::new(false));
    let flooder = std::thread::spawn({
        let done = Arc::clone(&done);
        move || {
            let pad = "x".repeat(500);
            let deadline = Instant::now() + PATIENCE;
            let mut sent = 0u64;
            while sent < 200_000 && Instant::now() < deadline && !done.load(Ordering::Relaxed) {
                let line = Frame::new(Kind::Text, format!("{sent} {pad}"));
                if (&flood).write_all(&line.to_bytes()).is_err() {
                    break;
                }
                sent += 1;
            }
            (sent, flood)
        }
    });
    for (reader, _) in &readers {
        let notice = reader.expect_line("* stuck left");
        assert!(notice.starts_with("* stuck left (too slow: 256.0 KiB"), "{notice}");
    }
    done.store(true, Ordering::Relaxed);
    let (sent, _flood) = flooder.join().unwrap();
    assert!(sent > 1000, "the flood was a flood: {sent} lines");
    // Every reader keeps up with the whole flood: every line, in order, and no one dropped.
    for (reader, keys) in readers {
        reader.expect_line(&format!("flood: {} ", sent - 1));
        drop(keys);
        let out = reader.finish();
        assert!(out.status.success(), "{:?}", out.stderr);
        let lines: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with("flood: ")).collect();
        assert_eq!(lines.len() as u64, sent, "every line arrived");
        for (i, line) in lines.iter().enumerate() {
            assert!(line.starts_with(&format!("flood: {i} ")), "in order: {i}");
        }
        assert_eq!(out.stdout.matches("too slow").count(), 1, "only the stuck reader was dropped");
    }
    let done = server.stop();
    assert!(done.stderr.contains(", 1 dropped as too slow"), "{}", done.stderr);
    drop(stuck);
}

/// Writes `bytes` one at a time, `gap` apart, from a thread of its own, until they run out or
/// a write fails (the server closed the connection). The trickle is the thing under test.
fn trickle(stream: &TcpStream, bytes: Vec<u8>, gap: Duration) -> std::thread::JoinHandle<()> {
    let stream = stream.try_clone().unwrap();
    std::thread::spawn(move || {
        for byte in bytes {
            std::thread::sleep(gap);
            if (&stream).write_all(&[byte]).is_err() {
                return;
            }
        }
    })
}

#[test]
fn a_trickled_join_does_not_keep_a_slot_past_the_deadline() {
    use std::time::Instant;
    let (server, addr) = room(&["--heartbeat", "0.5", "--peer-timeout", "1"]);
    let start = Instant::now();
    let slow = TcpStream::connect(&addr).unwrap();
    slow.set_read_timeout(Some(PATIENCE)).unwrap();
    // A JOIN frame announcing a 100-byte name, one byte every 100 ms: 10 s if allowed.
    let mut join = vec![0, 0, 0, 101, Kind::Join as u8];
    join.extend(std::iter::repeat_n(b'a', 100));
    let dripping = trickle(&slow, join, Duration::from_millis(100));
    assert_eq!(read_until_closed(&slow), [Frame::new(Kind::Error, "no JOIN within 1 s")]);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(4), "closed after {took:?}, not at the JOIN deadline");
    dripping.join().unwrap();
    server.stop();
}

#[test]
fn a_trickled_partial_frame_is_not_a_sign_of_life() {
    use std::time::Instant;
    let (server, addr) = room(&["--heartbeat", "0.5", "--peer-timeout", "1"]);
    let drip = raw_join(&addr, "drip");
    let start = Instant::now();
    // A TEXT frame of 100 bytes, one byte every 100 ms, and never a PONG.
    let mut text = vec![0, 0, 0, 101, Kind::Text as u8];
    text.extend(std::iter::repeat_n(b'a', 100));
    let dripping = trickle(&drip, text, Duration::from_millis(100));
    let frames = read_until_closed(&drip);
    let took = start.elapsed();
    assert!(frames.iter().any(|f| f.kind == Kind::Ping), "{frames:?}");
    assert!(took < Duration::from_secs(4), "closed after {took:?}, not at the peer timeout");
    dripping.join().unwrap();
    let done = server.stop();
    assert!(done.stderr.contains("drip (127.0.0.1:"), "{}", done.stderr);
    assert!(
        done.stderr.contains("disconnected: no answer to heartbeat for 1 s"),
        "{}",
        done.stderr
    );
}

#[test]
fn fifty_clients_closing_at_once_are_all_closed_promptly_and_counted_once() {
    use std::time::Instant;
    const CLIENTS: usize = 50;
    let (server, addr) = room(&["--trace"]);
    let clients: Vec<TcpStream> = (0..CLIENTS).map(|i| raw_join(&addr, &format!("c{i}"))).collect();
    // Read each one's notices up to the last arrival, so its receive buffer is empty and its
    // close sends a FIN (unread data would make it a reset).
    let last = format!("c{}", CLIENTS - 1);
    for client in &clients[..CLIENTS - 1] {
        wait_for(&mut Connection::new(client), Kind::Join, &last);
    }
    let peers: Vec<SocketAddr> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
    let start = Instant::now();
    drop(clients); // Every close at once: 50 FINs.
    for peer in peers {
        server.wait_for_stderr(&format!(") peer {peer}\n"));
    }
    let took = start.elapsed();
    assert!(took < Duration::from_secs(5), "the last socket closed after {took:?}");
    let done = server.stop();
    assert!(
        done.stderr
            .contains("server stopped: 50 clients joined, relayed 0 messages (0 deliveries)\n"),
        "{}",
        done.stderr.lines().filter(|l| !l.starts_with('[')).collect::<Vec<_>>().join("\n")
    );
}

/// What a hostile peer writes to make a terminal obey it: retitle the window, clear the
/// screen, and start a new line that poses as the program's own notice.
const INJECTION: &str = "hi\x1b]0;owned\x07\x1b[2J\r\n* eve joined\u{9b}31m\u{202e}";
const INJECTION_SHOWN: &str = "hi\\x1b]0;owned\\x07\\x1b[2J\\r\\n* eve joined\\u{9b}31m\\u{202e}";

fn assert_no_controls(text: &str) {
    assert!(!text.contains('\x1b') && !text.contains('\u{9b}') && !text.contains('\u{202e}'));
    assert!(!text.contains('\r') && !text.contains('\x07'), "{text:?}");
    assert!(!text.lines().any(|l| l == "* eve joined"), "a forged line: {text:?}");
}

#[test]
fn text_from_members_reaches_terminals_and_logs_escaped() {
    let (server, addr) = room(&[]);
    let port = addr.rsplit(':').next().unwrap().to_owned();
    let (bob, bob_keys) = piped_client(&port, "bob");
    let mallory = raw_join(&addr, "mallory");
    bob.expect_line("* mallory joined");
    (&mallory).write_all(&Frame::new(Kind::Text, INJECTION).to_bytes()).unwrap();
    // An ERROR frame's text goes to the operator's log.
    (&mallory).write_all(&Frame::new(Kind::Error, INJECTION).to_bytes()).unwrap();
    assert_eq!(bob.expect_line("mallory: "), format!("mallory: {INJECTION_SHOWN}"));
    server.wait_for_stderr("mallory reports an error: ");
    drop(bob_keys);
    let out = bob.finish();
    assert_no_controls(&out.stdout);
    let done = server.stop();
    assert!(
        done.stderr.contains(&format!("mallory reports an error: {INJECTION_SHOWN}\n")),
        "{:?}",
        done.stderr
    );
    assert_no_controls(&done.stderr);
}

#[test]
fn a_hostile_server_cannot_drive_the_clients_terminal() {
    // A fake server that names the client, then sends control characters in every kind of
    // frame a client shows: text, names joining, leaving and renamed, the list, an error.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let mut client =
        Proc::spawn(chat().args(["client", "--port", &port, "--no-history"]).stdin(Stdio::piped()));
    let _keyboard = client.take_stdin();
    let (mut evil, _) = listener.accept().unwrap();
    let mut frames = Frame::new(Kind::Join, "you").to_bytes();
    for kind in [Kind::Text, Kind::Join, Kind::Leave, Kind::List, Kind::Error] {
        frames.extend(Frame::new(kind, INJECTION).to_bytes());
    }
    frames.extend(Frame::new(Kind::Nick, format!("x {INJECTION}")).to_bytes());
    evil.write_all(&frames).unwrap();
    evil.shutdown(Shutdown::Write).unwrap();
    let done = client.finish();
    assert!(done.stdout.contains(&format!("* {INJECTION_SHOWN} joined")), "{}", done.stdout);
    assert!(done.stdout.contains(&format!("! {INJECTION_SHOWN}")), "{}", done.stdout);
    assert_no_controls(&done.stdout);
    assert_no_controls(&done.stderr);
}

#[test]
fn one_to_one_closes_a_trickled_join_at_the_deadline_and_serves_the_next() {
    use std::time::Instant;
    let mut server = Proc::spawn(
        chat()
            .args(["server", "--port", "0", "--one-to-one", "--no-history"])
            .args(["--heartbeat", "0.5", "--peer-timeout", "1"])
            .stdin(Stdio::piped()),
    );
    let _operator = server.take_stdin();
    let addr = server.listening_addr();
    let start = Instant::now();
    let slow = TcpStream::connect(&addr).unwrap();
    slow.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut join = vec![0, 0, 0, 101, Kind::Join as u8];
    join.extend(std::iter::repeat_n(b'a', 100));
    let dripping = trickle(&slow, join, Duration::from_millis(100));
    assert_eq!(read_until_closed(&slow), [Frame::new(Kind::Error, "no JOIN within 1 s")]);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(4), "closed after {took:?}, not at the JOIN deadline");
    dripping.join().unwrap();
    // The accept thread is free again: the next client is welcomed.
    let alice = raw_join(&addr, "alice");
    drop(alice);
}

#[test]
fn a_client_is_not_kept_waiting_by_a_server_that_trickles() {
    use std::time::Instant;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let mut client = Proc::spawn(
        chat()
            .args(["client", "--port", &port, "--no-history", "--heartbeat", "1"])
            .args(["--peer-timeout", "1"])
            .stdin(Stdio::piped()),
    );
    let _keyboard = client.take_stdin();
    let (hung, _) = listener.accept().unwrap();
    (&hung).write_all(&Frame::new(Kind::Join, "you").to_bytes()).unwrap();
    let start = Instant::now();
    // A 500-byte TEXT frame, one byte every 20 ms (well inside the client's 250 ms tick, so
    // no single recv ever times out), and no PONG.
    let mut text = vec![0, 0, 1, 245, Kind::Text as u8];
    text.extend(std::iter::repeat_n(b'a', 500));
    let dripping = trickle(&hung, text, Duration::from_millis(20));
    let done = client.finish();
    let took = start.elapsed();
    assert_eq!(done.status.code(), Some(1), "{done:?}");
    assert!(
        done.stderr.contains("the server stopped answering (nothing for 1 s"),
        "{}",
        done.stderr
    );
    assert!(took < Duration::from_secs(4), "gave up after {took:?}, not at the peer timeout");
    drop(hung);
    dripping.join().unwrap();
}

#[test]
fn a_client_turned_away_as_busy_reads_the_message_and_a_clean_close() {
    let mut server = Proc::spawn(
        chat()
            .args(["server", "--port", "0", "--one-to-one", "--no-history"])
            .stdin(Stdio::piped()),
    );
    let _operator = server.take_stdin();
    let addr = server.listening_addr();
    let alice = raw_join(&addr, "alice");
    for _ in 0..10 {
        // The second client's JOIN is never read by the server: the case where a plain
        // close() would answer with RST.
        let second = TcpStream::connect(&addr).unwrap();
        second.set_read_timeout(Some(PATIENCE)).unwrap();
        (&second).write_all(&Frame::new(Kind::Join, "bob").to_bytes()).unwrap();
        let mut conn = Connection::new(&second);
        let busy = conn.read_frame().unwrap().unwrap();
        assert!(busy.text.starts_with("busy: "), "{busy:?}");
        match conn.read_frame() {
            Ok(None) => {}
            other => panic!("expected a clean close (FIN), got {other:?}"),
        }
    }
    // One that never closes holds the accept thread for BUSY_LINGER at most: once alice has
    // gone, the next client is welcomed.
    let start = std::time::Instant::now();
    let lingerer = TcpStream::connect(&addr).unwrap();
    lingerer.set_read_timeout(Some(PATIENCE)).unwrap();
    (&lingerer).write_all(&Frame::new(Kind::Join, "lingerer").to_bytes()).unwrap();
    assert_eq!(read_until_closed(&lingerer).len(), 1, "the busy message, then our FIN");
    drop(alice);
    server.expect_line("* alice left");
    let _carol = raw_join(&addr, "carol");
    let took = start.elapsed();
    assert!(took < Duration::from_secs(3), "carol waited {took:?} behind a client turned away");
    drop(lingerer);
}

/// Sends a signal (`-STOP`, `-CONT`) to a process this test started, with kill(1) as the test
/// kit does.
#[cfg(unix)]
fn signal(proc: &Proc, which: &str) {
    let status = Command::new("kill").args([which, &proc.pid().to_string()]).status().unwrap();
    assert!(status.success(), "kill {which} {}", proc.pid());
}

/// A member with a small receive window (SO_RCVBUF set before connect, so the window is small
/// from the handshake on) and a small MSS (the server's send buffer for it, which Linux sizes
/// from the MSS, stays small too): it reads its welcome, then nothing. The kernel holds tens of
/// KiB for it rather than MiB, so its outbox in the room fills soon.
fn never_reading_join(addr: &str, name: &str) -> TcpStream {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.set_tcp_mss(536).unwrap();
    socket.connect(&addr.parse::<SocketAddr>().unwrap().into()).unwrap();
    let stream = TcpStream::from(socket);
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    (&stream).write_all(&Frame::new(Kind::Join, name).to_bytes()).unwrap();
    let mut conn = Connection::new(&stream);
    assert_eq!(conn.read_frame().unwrap().unwrap(), Frame::new(Kind::Join, name));
    assert_eq!(conn.read_frame().unwrap().unwrap().kind, Kind::List);
    stream
}

/// Reads and discards everything `stream` receives, from a thread of its own, until the server
/// closes it or the test shuts it down: a member that keeps up with any flood.
fn drain(stream: &TcpStream) -> std::thread::JoinHandle<()> {
    let stream = stream.try_clone().unwrap();
    std::thread::spawn(move || {
        let mut sink = vec![0u8; 64 << 10];
        while let Ok(1..) = (&stream).read(&mut sink) {}
    })
}

/// The `N` of the summary's `N dropped as too slow` (0 when the summary does not say).
fn dropped_as_too_slow(stderr: &str) -> usize {
    let summary = stderr.lines().find(|l| l.starts_with("server stopped: ")).unwrap();
    summary
        .split(", ")
        .find_map(|part| part.strip_suffix(" dropped as too slow"))
        .map_or(0, |n| n.parse().unwrap())
}

#[cfg(target_os = "linux")]
#[test]
fn readers_dropped_in_one_burst_are_counted_once_each() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;
    const SLOW: usize = 12;
    const FLOODERS: usize = 6;
    // Per flooder, while the server is frozen: it fits the server's first receive window
    // (64 KiB), so it all waits in the kernel; six of them relay 400 KiB to each reader.
    const BURST_BYTES: usize = 40 << 10;

    let (server, addr) = room(&[]);
    let slow: Vec<TcpStream> =
        (0..SLOW).map(|i| never_reading_join(&addr, &format!("slow{i}"))).collect();
    let flooders: Vec<TcpStream> =
        (0..FLOODERS).map(|i| raw_join(&addr, &format!("f{i}"))).collect();
    let drains: Vec<_> = flooders.iter().map(drain).collect();

    // Freeze the server and let every flooder's burst pile up in its socket, so that on
    // waking the room has it all at once. A room without backpressure relays it all in one
    // round: the slow readers, which had nothing waiting, get the very same bytes queued and
    // pass MAX_OUTBOX_BYTES on the same line. A one-byte line is shorter than the notice
    // "slow0 left (too slow...)", so the first one dropped pushes the others over inside its
    // own leave, and they are dropped there before their turn in the first list comes: the
    // recursion that once counted each of them again.
    let line = Frame::new(Kind::Text, "x").to_bytes();
    let burst = line.repeat(BURST_BYTES / line.len());
    signal(&server, "-STOP");
    for flooder in &flooders {
        flooder.set_nodelay(true).unwrap();
        (&*flooder).write_all(&burst).unwrap();
    }
    signal(&server, "-CONT");

    // Then a steady flood of one-byte lines. A room with backpressure paused at
    // PAUSE_READING_AT instead, waits MAX_READER_STALL for the slow readers, then goes on
    // without them until their outboxes overflow. Their kernels each took a slightly
    // different share meanwhile, so their queues no longer match to the byte; but with twelve
    // of them, some are usually within one notice of each other when the first overflows, and
    // the notices drop them inside each other's leave all the same.
    let stop_flood = Arc::new(AtomicBool::new(false));
    let floods: Vec<_> = flooders
        .iter()
        .map(|flooder| {
            let flooder = flooder.try_clone().unwrap();
            // Longer than MAX_READER_STALL, the longest the room stops reading us.
            flooder.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
            let stop_flood = Arc::clone(&stop_flood);
            std::thread::spawn(move || {
                let lines = Frame::new(Kind::Text, "y").to_bytes().repeat(1000);
                let deadline = Instant::now() + Duration::from_secs(8);
                for _ in 0..4000 {
                    if stop_flood.load(Ordering::Relaxed) || Instant::now() > deadline {
                        return;
                    }
                    // A timeout may cut a frame: stop there rather than send a broken one.
                    if (&flooder).write_all(&lines).is_err() {
                        return;
                    }
                }
            })
        })
        .collect();
    for client in &slow {
        let dropped = format!("({}) disconnected: too slow", client.local_addr().unwrap());
        server.wait_for_stderr(&dropped);
    }
    stop_flood.store(true, Ordering::Relaxed);
    for flood in floods {
        flood.join().unwrap();
    }
    for flooder in &flooders {
        let _ = flooder.shutdown(Shutdown::Both);
    }
    for drain in drains {
        drain.join().unwrap();
    }
    let done = server.stop();
    let dropped: Vec<&str> =
        done.stderr.lines().filter(|l| l.contains(" disconnected: too slow")).collect();
    assert!(dropped.len() >= SLOW, "{}", done.stderr);
    assert_eq!(
        dropped_as_too_slow(&done.stderr),
        dropped.len(),
        "the summary counts each client dropped once:\n{}",
        dropped.join("\n")
    );
    drop(slow);
}

#[cfg(target_os = "linux")]
#[test]
fn a_reader_that_takes_a_little_now_and_then_is_dropped_and_does_not_slow_the_room() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;
    // The longest a talker's line may take to reach a reader that keeps up: the room may wait
    // MAX_READER_STALL (1 s) for the trickler, plus a margin for a loaded machine.
    const MAX_DELAY: Duration = Duration::from_secs(3);

    let (server, addr) = room(&[]);
    let start = Instant::now();
    let reader = raw_join(&addr, "reader");
    let mut reader_frames = Connection::new(&reader);
    // The trickler: a small window, and a small MSS so that the server's send buffer for it
    // (which Linux sizes from the MSS) is small too. Then the little it reads each time frees
    // enough of that buffer for the server's next send to move: its output is never still for
    // MAX_READER_STALL, so it looks slow rather than stuck, yet it never catches up.
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.set_tcp_mss(536).unwrap();
    socket.connect(&addr.parse::<SocketAddr>().unwrap().into()).unwrap();
    let trickler = TcpStream::from(socket);
    (&trickler).write_all(&Frame::new(Kind::Join, "trickle").to_bytes()).unwrap();
    wait_for(&mut reader_frames, Kind::Join, "trickle");
    let flooder = raw_join(&addr, "flood");
    let talker = raw_join(&addr, "talk");
    wait_for(&mut reader_frames, Kind::Join, "talk");
    let drains = [drain(&flooder), drain(&talker)];

    let stop = Arc::new(AtomicBool::new(false));
    let running = move |stop: &AtomicBool| {
        !stop.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(10)
    };
    // Reads at most 8 KiB every 100 ms (80 KiB/s, far slower than the flood) until it is
    // closed. A few bytes at a time would not do: the kernel reopens a window, and so lets the
    // server send, only once a good part of it is free, and the trickler would look like a
    // reader that takes nothing at all, which the room already treated as stuck.
    let trickling = std::thread::spawn({
        let (stop, trickler) = (Arc::clone(&stop), trickler.try_clone().unwrap());
        move || {
            trickler.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
            let mut sip = [0u8; 8192];
            while running(&stop) {
                std::thread::sleep(Duration::from_millis(100));
                match (&trickler).read(&mut sip) {
                    Ok(0) => return,
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => return,
                }
            }
        }
    });
    let flooding = std::thread::spawn({
        let (stop, flooder) = (Arc::clone(&stop), flooder.try_clone().unwrap());
        move || {
            // Longer than MAX_READER_STALL, the longest the room stops reading us.
            flooder.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
            let line = Frame::new(Kind::Text, "y".repeat(8 << 10)).to_bytes();
            // A timeout may cut a frame: stop there rather than send a broken one.
            for _ in 0..20_000 {
                if !running(&stop) || (&flooder).write_all(&line).is_err() {
                    return;
                }
            }
        }
    });
    // The talker says what time it is, ten times a second; the reader measures how late each
    // line arrives.
    let talking = std::thread::spawn({
        let (stop, talker) = (Arc::clone(&stop), talker.try_clone().unwrap());
        move || {
            while running(&stop) {
                let now = format!("{}", start.elapsed().as_millis());
                if (&talker).write_all(&Frame::new(Kind::Text, now).to_bytes()).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    });

    // The reader keeps up with everything until the trickler has gone and ten more of the
    // talker's lines have arrived, or the time is up.
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut dropped_at = None;
    let mut heard_after = 0;
    let mut latest = Duration::ZERO;
    while heard_after < 10 {
        let frame = match reader_frames.read_frame_before(deadline) {
            Ok(Some(frame)) => frame,
            Err(e) if e.is_timeout() => break,
            other => panic!("the reader, who keeps up, got {other:?} after {:?}", start.elapsed()),
        };
        match frame.kind {
            Kind::Leave => {
                assert!(frame.text.starts_with("trickle (too slow: 256.0 KiB"), "{}", frame.text);
                dropped_at = Some(start.elapsed());
            }
            Kind::Text if frame.text.starts_with("talk: ") => {
                let said: u64 = frame.text["talk: ".len()..].parse().unwrap();
                let late = start.elapsed().saturating_sub(Duration::from_millis(said));
                latest = latest.max(late);
                heard_after += u32::from(dropped_at.is_some());
            }
            _ => {}
        }
    }
    // Stop the flood, and go on reading until it has ended: a reader that stopped now would
    // be the next one dropped.
    stop.store(true, Ordering::Relaxed);
    flooder.shutdown(Shutdown::Write).unwrap();
    reader.set_read_timeout(Some(PATIENCE)).unwrap();
    wait_for(&mut reader_frames, Kind::Leave, "flood");
    for thread in [trickling, flooding, talking] {
        thread.join().unwrap();
    }
    for stream in [&flooder, &talker, &reader] {
        let _ = stream.shutdown(Shutdown::Both);
    }
    for thread in drains {
        thread.join().unwrap();
    }
    assert!(
        dropped_at.is_some(),
        "the trickler was never dropped (the talker's lines were up to {latest:?} late)"
    );
    assert!(latest < MAX_DELAY, "a talker's line reached the reader {latest:?} late");
    let done = server.stop();
    let trickler_dropped =
        format!("trickle ({}) disconnected: too slow", trickler.local_addr().unwrap());
    assert!(done.stderr.contains(&trickler_dropped), "{}", done.stderr);
    assert!(done.stderr.contains(", 1 dropped as too slow"), "{}", done.stderr);
}
