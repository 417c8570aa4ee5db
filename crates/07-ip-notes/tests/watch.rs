//! `07-ip-notes watch` over real sockets on loopback: the test holds a listener, connects to
//! it, closes each side in turn, and reads watch's frames (piped, so plain text, one frame per
//! change) until each expected row shows up, within testkit's patience. No sleeps: every step
//! waits on watch's output.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use testkit::{PATIENCE, Proc};

fn notes() -> Command {
    Command::new(env!("CARGO_BIN_EXE_07-ip-notes"))
}

/// A quick interval, so the test does not wait half a second per step.
const TEST_INTERVAL: &str = "0.05";

fn start_watch(port: u16) -> Proc {
    Proc::spawn(notes().args(["watch", "--port", &port.to_string(), "--interval", TEST_INTERVAL]))
}

/// One row of a frame: the mark (`+`, `*`, `-` or blank) and the columns a test looks at.
#[derive(Debug)]
struct Row {
    mark: char,
    state: String,
    recv_q: u32,
    local: SocketAddr,
    peer: SocketAddr,
    /// 0 while no descriptor refers to the socket: not yet accept()ed, or already closed.
    inode: u64,
}

fn parse_row(line: &str) -> Option<Row> {
    let mark = line.chars().next()?;
    let words: Vec<&str> = line.get(2..)?.split_whitespace().collect();
    // A gone row's state is two words, `CLOSED (gone)`.
    let (state, rest) = match words.get(2) {
        Some(&"(gone)") => ("CLOSED (gone)".to_owned(), words.get(3..)?),
        _ => (words.get(1)?.to_string(), words.get(2..)?),
    };
    Some(Row {
        mark,
        state,
        recv_q: rest.first()?.parse().ok()?,
        local: rest.get(2)?.parse().ok()?,
        peer: rest.get(3)?.parse().ok()?,
        inode: rest.last()?.parse().ok()?,
    })
}

/// Reads one frame: the `at SECONDS s` line, the column names, the rows, a blank line.
fn next_frame(watch: &Proc) -> Vec<String> {
    let mut frame = Vec::new();
    loop {
        let line = watch.next_line(PATIENCE).unwrap_or_else(|| {
            panic!("watch printed no more lines; so far {frame:?}\nstderr: {}", watch.stderr())
        });
        if line.is_empty() {
            return frame;
        }
        frame.push(line);
    }
}

/// A row check, with its name for the failure message.
type Wanted<'a> = (&'a str, &'a dyn Fn(&Row) -> bool);

/// Reads frames until every check in `wanted` has matched a row of some frame read here;
/// appends the frames to `all`. Fails after testkit's patience.
fn wait_for(watch: &Proc, all: &mut Vec<Vec<String>>, wanted: &[Wanted<'_>]) {
    let deadline = Instant::now() + PATIENCE;
    let first = all.len();
    loop {
        let rows: Vec<Row> = all[first..].iter().flatten().filter_map(|l| parse_row(l)).collect();
        let missing: Vec<&str> =
            wanted.iter().filter(|(_, ok)| !rows.iter().any(ok)).map(|(n, _)| *n).collect();
        if missing.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "never saw {missing:?} in:\n{all:#?}");
        all.push(next_frame(watch));
    }
}

#[cfg(target_os = "linux")]
#[test]
fn watch_marks_a_connection_through_its_states() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = listener.local_addr().unwrap();
    let watch = start_watch(server.port());
    let mut frames = vec![next_frame(&watch)];
    let first: Vec<Row> = frames[0].iter().filter_map(|l| parse_row(l)).collect();
    assert!(
        first.iter().any(|r| r.state == "LISTEN" && r.local == server && r.mark == ' '),
        "the first frame shows the listener, unmarked: {:#?}",
        frames[0]
    );

    // The handshake: both ends of the connection are new; the kernel completed it without
    // accept(), so the connection waits in the listener's accept queue (its recv-q), and no
    // descriptor refers to the server's side yet: its inode is 0.
    let client = TcpStream::connect(server).unwrap();
    let me = client.local_addr().unwrap();
    wait_for(
        &watch,
        &mut frames,
        &[
            ("client side + ESTAB", &|r| r.mark == '+' && r.state == "ESTAB" && r.local == me),
            ("server side + ESTAB, inode 0", &|r| {
                r.mark == '+' && r.state == "ESTAB" && r.peer == me && r.inode == 0
            }),
            ("LISTEN with 1 queued", &|r| r.state == "LISTEN" && r.recv_q == 1),
        ],
    );
    let (server_side, _) = listener.accept().unwrap();

    // The client closes first: it goes to FIN-WAIT, the server's side to CLOSE-WAIT.
    drop(client);
    wait_for(
        &watch,
        &mut frames,
        &[
            ("client * FIN-WAIT", &|r| {
                r.mark == '*' && r.state.starts_with("FIN-WAIT-") && r.local == me
            }),
            ("server * CLOSE-WAIT, accept()ed", &|r| {
                r.mark == '*' && r.state == "CLOSE-WAIT" && r.peer == me && r.inode != 0
            }),
        ],
    );

    // The server closes too: its side is freed, the client's waits in TIME-WAIT.
    drop(server_side);
    wait_for(
        &watch,
        &mut frames,
        &[
            ("client * TIME-WAIT", &|r| r.mark == '*' && r.state == "TIME-WAIT" && r.local == me),
            ("server side gone", &|r| r.mark == '-' && r.state == "CLOSED (gone)" && r.peer == me),
        ],
    );
    drop(listener);
    wait_for(
        &watch,
        &mut frames,
        &[("listener gone", &|r| r.mark == '-' && r.local == server && r.peer.port() == 0)],
    );

    let done = watch.stop();
    assert!(!done.stdout.contains('\x1b'), "piped output has no escape codes:\n{}", done.stdout);
    for pair in frames.windows(2) {
        assert_ne!(pair[0][1..], pair[1][1..], "two frames in a row show the same table");
    }
    assert!(done.stderr.contains("stopped after"), "{}", done.stderr);
}

#[cfg(target_os = "linux")]
#[test]
fn count_stops_it_and_a_quiet_table_prints_one_frame() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let out = testkit::run(notes().args([
        "watch",
        "--port",
        &port,
        "--count",
        "5",
        "--interval",
        TEST_INTERVAL,
    ]));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout.lines().filter(|l| l.starts_with("at ")).count(), 1, "{}", out.stdout);
    assert!(out.stdout.contains("LISTEN"), "{}", out.stdout);
    assert!(!out.stdout.contains('\x1b'), "{}", out.stdout);
    assert!(out.stderr.is_empty(), "a counted run ends quietly: {}", out.stderr);

    // The last refresh is not followed by a wait: with a minute between refreshes, a single
    // one ends at once (testkit would kill it, failing the test, long before the minute).
    let once =
        testkit::run(notes().args(["watch", "--port", &port, "--count", "1", "--interval", "60"]));
    assert!(once.status.success(), "{once:?}");
}

#[cfg(target_os = "linux")]
#[test]
fn ctrl_c_stops_it_at_once_and_cleanly() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    // A minute between refreshes: ending within a few seconds proves Ctrl-C wakes the wait.
    let watch = Proc::spawn(notes().args(["watch", "--port", &port, "--interval", "60"]));
    next_frame(&watch);
    let asked = Instant::now();
    let done = watch.stop();
    assert!(asked.elapsed() < Duration::from_secs(30), "took {:?}", asked.elapsed());
    assert!(done.stderr.contains("stopped after 1 refresh\n"), "{}", done.stderr);
}

#[cfg(target_os = "linux")]
#[test]
fn on_a_terminal_every_refresh_redraws_in_place_under_a_header() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let port = port.to_string();
    let args = ["watch", "--port", &port, "--count", "3", "--interval", TEST_INTERVAL];
    let program = env!("CARGO_BIN_EXE_07-ip-notes");
    let Some(done) = testkit::terminal::run_on_terminal(program, &args) else { return };
    assert!(done.status.success(), "{done:?}");
    let screens: Vec<&str> = done.stdout.split("\x1b[H\x1b[2J").skip(1).collect();
    assert_eq!(screens.len(), 3, "one redraw per refresh, quiet or not: {:?}", done.stdout);
    for screen in screens {
        assert!(screen.starts_with(&format!("watch port {port}, tcp+udp")), "{screen:?}");
        assert!(screen.contains("LISTEN"), "{screen:?}");
    }
}

#[cfg(not(target_os = "linux"))]
#[test]
fn off_linux_it_says_what_to_use_instead() {
    let out = testkit::run(notes().args(["watch", "--count", "1"]));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("only Linux has"), "{}", out.stderr);
}

#[test]
fn help_teaches_the_columns_and_the_class_recipe() {
    let out = testkit::run(notes().args(["watch", "--help"]));
    assert!(out.status.success(), "{out:?}");
    for lesson in
        ["accept queue", "recv-q", "send-q", "TIME-WAIT", "--step --kernel", "watch --port"]
    {
        assert!(out.stdout.contains(lesson), "{lesson:?} in:\n{}", out.stdout);
    }
}
