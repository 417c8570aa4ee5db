//! Chapter 07's checks: `classify(ip)` on a table of edge cases, and a server that must be
//! able to restart on its port right after closing a connection first (TIME_WAIT).

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use super::{ECHO_TIMEOUT, Program, tail};
use crate::peer::{Peer, show};
use crate::run::{Child, STARTUP_TIMEOUT};
use crate::verdict::Failure;

/// How long a program that only prints may run.
const PRINT_TIMEOUT: Duration = Duration::from_secs(5);

/// Addresses and their kinds: the edges of every block (first, last, one past), the forms
/// people get wrong (mapped IPv6, a /12 and a /10 that do not end on a dot), and bad input.
const CASES: &[(&str, &str, &str)] = &[
    ("0.0.0.0", "unspecified", "note-3-the-special-addresses"),
    ("255.255.255.255", "broadcast", "note-3-the-special-addresses"),
    ("127.0.0.1", "loopback", "note-4-localhost-127001-0000-and-the-bind-rule"),
    ("127.255.255.254", "loopback", "note-4-localhost-127001-0000-and-the-bind-rule"),
    ("10.1.2.3", "private", "note-2-public-and-private-addresses-and-nat"),
    ("172.16.0.0", "private", "note-2-public-and-private-addresses-and-nat"),
    ("172.20.1.1", "private", "note-2-public-and-private-addresses-and-nat"),
    ("172.31.255.255", "private", "note-2-public-and-private-addresses-and-nat"),
    ("172.32.0.1", "public", "note-2-public-and-private-addresses-and-nat"),
    ("172.15.255.255", "public", "note-2-public-and-private-addresses-and-nat"),
    ("192.168.1.77", "private", "note-2-public-and-private-addresses-and-nat"),
    ("192.169.0.1", "public", "note-2-public-and-private-addresses-and-nat"),
    ("100.64.0.1", "shared", "note-2-public-and-private-addresses-and-nat"),
    ("100.127.255.255", "shared", "note-2-public-and-private-addresses-and-nat"),
    ("100.128.0.1", "public", "note-2-public-and-private-addresses-and-nat"),
    ("169.254.10.20", "link-local", "note-3-the-special-addresses"),
    ("192.0.2.1", "documentation", "note-3-the-special-addresses"),
    ("203.0.113.9", "documentation", "note-3-the-special-addresses"),
    ("224.0.0.251", "multicast", "note-3-the-special-addresses"),
    ("233.252.0.1", "multicast", "note-3-the-special-addresses"),
    ("239.255.255.250", "multicast", "note-3-the-special-addresses"),
    ("8.8.8.8", "public", "note-3-the-special-addresses"),
    ("::", "unspecified", "the-ipv6-equivalents"),
    ("::1", "loopback", "the-ipv6-equivalents"),
    ("::ffff:10.0.0.1", "ipv4-mapped", "the-ipv6-equivalents"),
    ("2001:db8::1", "documentation", "the-ipv6-equivalents"),
    ("fd12:3456::1", "unique-local", "the-ipv6-equivalents"),
    ("fe80::1", "link-local", "the-ipv6-equivalents"),
    ("febf::1", "link-local", "the-ipv6-equivalents"),
    ("ff02::1", "multicast", "the-ipv6-equivalents"),
    ("2606:4700::1111", "public", "the-ipv6-equivalents"),
    ("256.1.1.1", "invalid", "what-can-go-wrong-the-troubleshooting-table"),
    ("10.0.0", "invalid", "what-can-go-wrong-the-troubleshooting-table"),
    ("", "invalid", "what-can-go-wrong-the-troubleshooting-table"),
];

/// classify: every case on one command line, one answer per line, in order.
///
/// # Errors
/// The first address whose answer is wrong, or a program that panics or hangs.
pub fn classify(program: &Program) -> Result<(), Failure> {
    let cases: Vec<(&str, String, &str)> = CASES
        .iter()
        .map(|(addr, kind, anchor)| (*addr, format!("{addr} {kind}"), *anchor))
        .collect();
    answers(program, "classify", &cases)?;
    program.passed(&format!("{} addresses, IPv4 and IPv6, each block's edges", CASES.len()));
    Ok(())
}

/// CIDR blocks and what the program must print for each: the ordinary case, the two small
/// prefixes RFC 3021 and a host route make special, /0 (a shift by 32), and bad input.
const BLOCKS: &[(&str, &str)] = &[
    ("192.168.1.77/26", "network 192.168.1.64 broadcast 192.168.1.127 hosts 62"),
    ("10.1.2.3/8", "network 10.0.0.0 broadcast 10.255.255.255 hosts 16777214"),
    ("172.16.5.4/12", "network 172.16.0.0 broadcast 172.31.255.255 hosts 1048574"),
    ("192.168.10.130/30", "network 192.168.10.128 broadcast 192.168.10.131 hosts 2"),
    ("10.0.0.1/31", "network 10.0.0.0 broadcast none hosts 2"),
    ("10.1.2.3/32", "network 10.1.2.3 broadcast none hosts 1"),
    ("8.8.8.8/0", "network 0.0.0.0 broadcast 255.255.255.255 hosts 4294967294"),
    ("1.2.3.4/33", "invalid"),
    ("1.2.3.4/-1", "invalid"),
    ("1.2.3.4", "invalid"),
    ("300.1.2.3/8", "invalid"),
];

/// cidr: every block on one command line, one answer per line, in order.
///
/// # Errors
/// The first block whose answer is wrong, or a program that panics or hangs.
pub fn cidr(program: &Program) -> Result<(), Failure> {
    let cases: Vec<(&str, String, &str)> = BLOCKS
        .iter()
        .map(|(block, answer)| {
            (*block, format!("{block} {answer}"), "note-1-address-classes-and-cidr")
        })
        .collect();
    answers(program, "CIDR block", &cases)?;
    program.passed(&format!("{} blocks, /0 to /32 and bad input", BLOCKS.len()));
    Ok(())
}

/// Runs the program once with every case's input as an argument, and expects one line per
/// case, in order: (input, the expected line, the book anchor that explains it).
fn answers(program: &Program, what: &str, cases: &[(&str, String, &str)]) -> Result<(), Failure> {
    let step = format!("{what}: {} cases", cases.len());
    let mut cmd = Command::new(&program.path);
    cmd.args(cases.iter().map(|c| c.0));
    let child =
        Child::spawn(cmd, program.run_by_hand.clone()).map_err(|e| Failure::new(&step).got(e))?;
    let ended = child.wait(PRINT_TIMEOUT);
    let lines: Vec<&str> = ended.stdout.lines().collect();
    for (i, (input, want, anchor)) in cases.iter().enumerate() {
        let got = lines.get(i).copied();
        if got == Some(want.as_str()) {
            continue;
        }
        let shown = if input.is_empty() { "''" } else { input };
        let got = match (got, ended.status) {
            (Some(line), _) => format!("`{line}`"),
            (None, None) => format!("nothing: still running after {PRINT_TIMEOUT:?}, stopped"),
            (None, Some(status)) => {
                format!(
                    "no line for it; the program ended with {status}{}",
                    tail("stderr", &ended.stderr)
                )
            }
        };
        return Err(Failure::new(&format!("{what} {shown}"))
            .sent(format!("{shown} (argument {} of {})", i + 1, cases.len()))
            .expected(format!("`{want}`"))
            .got(got)
            .repro(format!(
                "{} {shown}   # and the chapter's: cargo run -q -p ch07-ip-notes -- classify {shown}",
                program.run_by_hand
            ))
            .book(&format!("docs/src/07-ip-notes.md#{anchor}")));
    }
    Ok(())
}

/// reuseaddr: the server closes a connection first, is stopped, and must start again on the
/// same port at once.
///
/// # Errors
/// The restart's failure, with the program's own error message.
pub fn reuseaddr(program: &Program) -> Result<(), Failure> {
    let mut server = program.start_server()?;
    let step = "a client connects; the server greets it and closes first";
    let mut peer = server.connect(step)?;
    let (got, ending) = peer.read_to_close(64, ECHO_TIMEOUT);
    if got != b"hello\n" {
        return Err(server.died_or(
            Failure::new(step)
                .sent("connect(), then read until the server closes")
                .expected("b'hello\\n', then the connection closed by the server")
                .got(format!("{}, {}", show(&got), ending.describe(ECHO_TIMEOUT)))
                .repro(server.repro("nc 127.0.0.1 PORT")),
        ));
    }
    drop(peer);
    program.passed(step);

    let addr: SocketAddr = server.addr;
    drop(server);
    // The whole point is the entry the closed connection leaves; a kernel whose TIME_WAIT
    // table is full (net.ipv4.tcp_max_tw_buckets) keeps none, and then no program would fail.
    if !holds_closed_connection(addr.port()) {
        return Err(Failure::new("a TIME_WAIT entry on the server's port")
            .sent("a connection the server closed first, then the server stopped")
            .expected(format!("a TIME-WAIT (or FIN-WAIT-2) entry on port {} in /proc/net/tcp", addr.port()))
            .got("none: the kernel's TIME_WAIT table may be full (sysctl net.ipv4.tcp_max_tw_buckets); try again when fewer connections are closing")
            .repro("ss -tan state time-wait | wc -l; sysctl net.ipv4.tcp_max_tw_buckets"));
    }
    let step = "stop the server and start it again on the same port at once";
    let mut cmd = Command::new(&program.path);
    cmd.arg(addr.to_string());
    let shown = format!("{} {addr}", program.run_by_hand);
    let again = Child::spawn(cmd, shown.clone()).map_err(|e| Failure::new(step).got(e))?;
    if let Err(why) = again.expect_line("listening on ", STARTUP_TIMEOUT) {
        let ended = again.kill();
        return Err(Failure::new(step)
            .sent(format!(
                "the server was stopped with a connection it had closed first still in TIME_WAIT \
                 on {addr}; then `{shown}`"
            ))
            .expected(format!("`listening on {addr}`: bind() takes the port again"))
            .got(format!("{why}{}", tail("stderr", &ended.stderr)))
            .repro(format!(
                "{} & sleep 1; nc 127.0.0.1 65432; kill %1; ss -tan | grep 65432; {}",
                program.run_by_hand, program.run_by_hand
            )));
    }
    let mut restarted = Peer::connect(addr).map_err(|e| Failure::new(step).got(e))?;
    let (got, _) = restarted.read_to_close(64, ECHO_TIMEOUT);
    if got != b"hello\n" {
        return Err(Failure::new(step)
            .expected("b'hello\\n' from the restarted server")
            .got(show(&got)));
    }
    drop(again);
    program.passed(step);
    Ok(())
}

/// Whether the kernel still holds a closed connection on local `port` (TIME-WAIT, state 06,
/// or FIN-WAIT-2, state 05), from `/proc/net/tcp` (Linux; elsewhere assumed so).
fn holds_closed_connection(port: u16) -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else { return true };
    let wanted = format!(":{port:04X}");
    table.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        matches!(fields.get(3), Some(&"06") | Some(&"05"))
            && fields.get(1).is_some_and(|local| local.ends_with(&wanted))
    })
}
