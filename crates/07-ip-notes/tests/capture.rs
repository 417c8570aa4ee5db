//! `07-ip-notes capture` over real sockets on loopback: a chapter 01 exchange, packet by packet;
//! the same packets read back by tcpdump from `--write`; a reset; a UDP datagram; IPv6; and the
//! error without privileges. Capturing needs root or CAP_NET_RAW: without them, each test but
//! the last is skipped.

// Packet sockets are Linux's; on other systems `capture` only says so.
#![cfg(target_os = "linux")]
// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use testkit::{PATIENCE, Proc};

fn notes() -> Command {
    Command::new(env!("CARGO_BIN_EXE_07-ip-notes"))
}

/// Can this test process open a packet socket (root, or CAP_NET_RAW)? The same call as
/// `capture` makes, so a skip means `capture` could not run here either.
fn can_capture() -> bool {
    use nix::sys::socket::{AddressFamily, SockFlag, SockProtocol, SockType, socket};
    socket(AddressFamily::Packet, SockType::Datagram, SockFlag::SOCK_CLOEXEC, SockProtocol::EthAll)
        .is_ok()
}

/// Reports a skip and says so when this process cannot capture (see [`can_capture`]).
fn cannot_capture() -> bool {
    let cannot = !can_capture();
    if cannot {
        testkit::skip("capturing needs root or CAP_NET_RAW");
    }
    cannot
}

/// Starts `capture --port PORT ARGS` and waits for its readiness line on stderr.
fn capture(port: u16, args: &[&str]) -> Proc {
    let proc = Proc::spawn(notes().args(["capture", "--port", &port.to_string()]).args(args));
    proc.wait_for_stderr(&format!("capturing on lo, port {port}"));
    proc
}

/// Reads `capture`'s lines until `done` says the exchange is all there; fails after PATIENCE.
fn lines_until(cap: &Proc, done: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = Instant::now() + PATIENCE;
    let mut lines = Vec::new();
    while !done(&lines) {
        let left = deadline.saturating_duration_since(Instant::now());
        match cap.next_line(left) {
            Some(line) => lines.push(line),
            None => {
                panic!("capture stopped short:\n{}\nstderr:\n{}", lines.join("\n"), cap.stderr())
            }
        }
    }
    lines
}

/// The flags column of a TCP line (`SYN-ACK`), or `UDP`.
fn flags_of(line: &str) -> &str {
    let after = line.split(" -> ").nth(1).expect("a direction");
    after.split_whitespace().nth(1).expect("a flags column")
}

/// Chapter 01's binary, built now if this test run did not build it (with `-p` only).
fn echo_binary() -> PathBuf {
    let status =
        Command::new(env!("CARGO")).args(["build", "--quiet", "-p", "ch01-echo"]).status().unwrap();
    assert!(status.success(), "could not build chapter 01");
    let dir = std::path::Path::new(env!("CARGO_BIN_EXE_07-ip-notes")).parent().unwrap();
    dir.join(format!("01-echo{}", std::env::consts::EXE_SUFFIX))
}

/// The whole of a chapter 01 exchange has crossed once both sides' FINs are acknowledged: the
/// last line is an ACK after two FINs.
fn closed_both_ways(lines: &[String]) -> bool {
    let fins = lines.iter().filter(|l| flags_of(l).contains("FIN")).count();
    fins == 2 && lines.last().is_some_and(|l| flags_of(l) == "ACK")
}

/// Runs chapter 01's server and client once while `capture ARGS` watches the server's port;
/// returns the capture's lines and its stderr after Ctrl-C.
fn capture_echo_exchange(args: &[&str]) -> (Vec<String>, String) {
    let echo = echo_binary();
    let server = Proc::spawn(Command::new(&echo).args(["server", "--port", "0"]));
    let addr = server.listening_addr();
    let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
    let mut cap_args = vec!["--count", "100"];
    cap_args.extend_from_slice(args);
    let cap = capture(port, &cap_args);
    let client = testkit::run(Command::new(&echo).args(["client", "--port", &port.to_string()]));
    assert!(client.stdout.contains("Received b'Hello, world'"), "{client:?}");
    let lines = lines_until(&cap, closed_both_ways);
    let done = cap.stop();
    assert!(
        done.stderr.contains(&format!("captured {} packet(s)", lines.len())),
        "{}",
        done.stderr
    );
    (lines, done.stderr)
}

#[test]
fn chapter_01_exchange_shows_handshake_data_and_close_in_order() {
    if cannot_capture() {
        return;
    }
    let (lines, _) = capture_echo_exchange(&[]);
    let text = lines.join("\n");
    // (direction, flags, what else the line must say), in the order they must appear.
    let data = "len=12  b'Hello, world'";
    let expected: [(&str, &str, &[&str]); 8] = [
        ("client -> server", "SYN", &["seq=0 win="]),
        ("server -> client", "SYN-ACK", &["seq=0 ack=1 "]),
        ("client -> server", "ACK", &["seq=1 ack=1 "]),
        ("client -> server", "PSH-ACK", &["seq=1 ack=1 ", data]),
        ("server -> client", "PSH-ACK", &["seq=1 ack=13 ", data]),
        ("client -> server", "FIN-ACK", &["seq=13 "]),
        ("server -> client", "FIN-ACK", &["seq=13 ack=14 "]),
        ("client -> server", "ACK", &["seq=14 ack=14 "]),
    ];
    let mut from = 0;
    for (direction, flags, says) in expected {
        let found = lines[from..].iter().position(|l| {
            l.contains(direction) && flags_of(l) == flags && says.iter().all(|s| l.contains(s))
        });
        let Some(at) = found else {
            panic!("no {direction} {flags} {says:?} after line {from}:\n{text}");
        };
        from += at + 1;
    }
    assert!(lines[0].trim_start().starts_with("0.000000"), "{text}");
}

#[test]
fn written_pcap_reads_back_in_tcpdump_with_the_same_flags() {
    if cannot_capture() {
        return;
    }
    if Command::new("tcpdump").arg("--version").output().is_err() {
        return testkit::skip("tcpdump is not installed (.ci/run installs it)");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("echo.pcap");
    let (lines, _) = capture_echo_exchange(&["--write", file.to_str().unwrap()]);
    let read = testkit::run(Command::new("tcpdump").arg("-nn").arg("-r").arg(&file));
    assert!(read.status.success(), "{read:?}");
    assert!(read.stderr.contains("link-type RAW"), "{}", read.stderr);
    let theirs: Vec<&str> = read
        .stdout
        .lines()
        .map(|l| l.split("Flags [").nth(1).and_then(|f| f.split(']').next()).expect("Flags [..]"))
        .collect();
    // tcpdump's letters: F(IN) S(YN) R(ST) P(SH), and `.` for ACK, in that order.
    let ours: Vec<String> = lines
        .iter()
        .map(|l| {
            let names: Vec<&str> = flags_of(l).split('-').collect();
            [("FIN", "F"), ("SYN", "S"), ("RST", "R"), ("PSH", "P"), ("ACK", ".")]
                .iter()
                .filter(|(name, _)| names.contains(name))
                .map(|(_, letter)| *letter)
                .collect()
        })
        .collect();
    assert_eq!(ours, theirs, "ours:\n{}\ntcpdump:\n{}", lines.join("\n"), read.stdout);
}

#[test]
fn linger_zero_close_shows_a_reset() {
    if cannot_capture() {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let cap = capture(port, &[]);
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (_accepted, _) = listener.accept().unwrap();
    // SO_LINGER with a zero timeout: close() discards the connection and sends RST, no FIN.
    socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO)).unwrap();
    drop(client);
    let lines = lines_until(&cap, |l| l.last().is_some_and(|l| flags_of(l).contains("RST")));
    cap.stop();
    let reset = lines.last().unwrap();
    assert!(reset.contains("client -> server"), "{}", lines.join("\n"));
    assert!(!lines.iter().any(|l| flags_of(l).contains("FIN")), "{}", lines.join("\n"));
}

#[test]
fn udp_datagram_shows_with_its_length_and_count_stops_the_capture() {
    if cannot_capture() {
        return;
    }
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let cap = capture(port, &["--count", "1"]);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.send_to(b"hello", ("127.0.0.1", port)).unwrap();
    let done = cap.finish();
    assert!(done.status.success(), "--count 1 ends the capture by itself: {done:?}");
    let line = done.stdout.lines().next().unwrap_or_default();
    assert!(line.contains("client -> server  UDP      len=5  b'hello'"), "{}", done.stdout);
    assert!(done.stderr.contains("captured 1 packet(s)"), "{}", done.stderr);
}

#[test]
fn ipv6_exchange_shows_too() {
    if cannot_capture() {
        return;
    }
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        return testkit::skip("no IPv6 loopback (::1)");
    };
    let port = listener.local_addr().unwrap().port();
    let cap = capture(port, &[]);
    let mut client = TcpStream::connect(("::1", port)).unwrap();
    let (mut accepted, _) = listener.accept().unwrap();
    client.write_all(b"hi").unwrap();
    let mut got = [0u8; 2];
    accepted.read_exact(&mut got).unwrap();
    let lines = lines_until(&cap, |l| l.last().is_some_and(|l| l.contains("b'hi'")));
    cap.stop();
    let text = lines.join("\n");
    assert!(lines[0].contains("[::1]:") && flags_of(&lines[0]) == "SYN", "{text}");
    assert!(lines.iter().any(|l| flags_of(l) == "SYN-ACK"), "{text}");
    assert!(lines.last().unwrap().contains("PSH-ACK  seq=1 ack=1 "), "{text}");
}

#[test]
fn without_privileges_it_says_what_is_needed_and_exits_1() {
    let root = can_capture();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = if root {
        if Command::new("setpriv").arg("--version").output().is_err() {
            return testkit::skip("setpriv (util-linux) is not installed");
        }
        // A copy in a folder anyone can read, since the build folder may not be.
        use std::os::unix::fs::PermissionsExt;
        let copy = dir.path().join("07-ip-notes");
        std::fs::copy(env!("CARGO_BIN_EXE_07-ip-notes"), &copy).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut cmd = Command::new("setpriv");
        // User and group `nobody`, no supplementary groups, no capabilities to inherit.
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]);
        cmd.arg(copy);
        cmd
    } else {
        notes()
    };
    let done = testkit::run(cmd.args(["capture", "--port", "9"]));
    assert_eq!(done.status.code(), Some(1), "{done:?}");
    assert!(done.stderr.contains("error: could not open a packet socket"), "{}", done.stderr);
    assert!(done.stderr.contains("CAP_NET_RAW") && done.stderr.contains("sudo"), "{}", done.stderr);
    assert!(!done.stderr.contains("capturing on lo"), "{}", done.stderr);
}
