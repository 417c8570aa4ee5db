//! Every exercise: what to do, where the book explains it, its hints, its reference solution
//! and the plausible wrong answers kept beside it, and the check that grades it.
//!
//! Adding one is adding an entry to [`EXERCISES`] (see the crate's README).

use std::fmt;

use crate::checks::{self, Program};
use crate::peer::Mode;
use crate::verdict::Failure;

/// The three kinds of exercise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A skeleton with the socket calls left as `todo!()`.
    WriteIt,
    /// A program with a bug people really write; the check catches it.
    FixIt,
    /// A small working program to add a feature to.
    ExtendIt,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::WriteIt => "write it",
            Kind::FixIt => "fix it",
            Kind::ExtendIt => "extend it",
        })
    }
}

/// Which program a check grades.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Variant {
    /// The student's crate, `crates/exercises/ID/`.
    Student,
    /// The reference solution, `crates/exercise/solutions/ID/reference.rs`.
    Reference,
    /// A plausible wrong answer, `crates/exercise/solutions/ID/wrong-NAME.rs`.
    Wrong(String),
}

/// One exercise.
pub struct Exercise {
    /// `NN-name`: the chapter number, then what it is about. Also the folder name.
    pub id: &'static str,
    /// The chapter's page in the book, `NN-name.md`.
    pub page: &'static str,
    /// The kind.
    pub kind: Kind,
    /// A few words for `list`.
    pub title: &'static str,
    /// What the student is asked to do (printed by `hint` before the first hint).
    pub task: &'static str,
    /// The section that explains it: `docs/src/NN-name.md#anchor`.
    pub book: &'static str,
    /// Hints, each more specific than the last.
    pub hints: &'static [&'static str],
    /// The reference solution's source.
    pub reference: &'static str,
    /// The names of the wrong answers kept beside the reference.
    pub wrong: &'static [&'static str],
    /// The outside peers the check uses.
    pub peers: &'static [&'static str],
    /// The adversarial peer's modes the check uses.
    pub modes: &'static [Mode],
    /// The port the program uses with no arguments (for "try it" lines).
    pub port_by_hand: u16,
    /// Words the failure of an untouched crate must contain (the tests check it), so the
    /// check fails it for the reason the exercise is about.
    pub untouched_says: &'static str,
    /// The check.
    pub check: fn(&Program) -> Result<(), Failure>,
}

impl Exercise {
    /// The chapter number, `01`.
    pub fn chapter(&self) -> &'static str {
        &self.id[..2]
    }

    /// The cargo package of the student's crate: `ex` and the id.
    pub fn package(&self) -> String {
        format!("ex{}", self.id)
    }

    /// Where the student's crate lives, relative to the workspace root.
    pub fn folder(&self) -> String {
        format!("crates/exercises/{}", self.id)
    }
}

/// Finds an exercise by id.
pub fn find(id: &str) -> Option<&'static Exercise> {
    EXERCISES.iter().find(|e| e.id == id)
}

/// Builds `variant` of `exercise` and grades it.
///
/// # Errors
/// The first step that failed (a compile error counts as one).
pub fn grade(exercise: &Exercise, variant: &Variant, verbose: bool) -> Result<(), Failure> {
    let path = crate::build::build(exercise, variant)
        .map_err(|e| Failure::new("build").got(e).book(exercise.book))?;
    grade_built(exercise, variant, path, verbose)
}

/// Grades `variant` of `exercise`, already built at `path`.
///
/// # Errors
/// The first step that failed.
pub fn grade_built(
    exercise: &Exercise,
    variant: &Variant,
    path: std::path::PathBuf,
    verbose: bool,
) -> Result<(), Failure> {
    let (package, bin) = crate::build::package_and_bin(exercise, variant);
    let run_by_hand = if package == bin {
        format!("cargo run -q -p {package} --")
    } else {
        format!("cargo run -q -p {package} --bin {bin} --")
    };
    let program = Program {
        path,
        run_by_hand,
        book: exercise.book,
        port_by_hand: exercise.port_by_hand,
        verbose,
    };
    // A step that names no closer section points to the exercise's own.
    (exercise.check)(&program).map_err(|f| f.book(exercise.book))
}

/// Every exercise, in the book's order.
pub static EXERCISES: &[Exercise] = &[
    Exercise {
        id: "01-echo-server",
        page: "01-echo.md",
        kind: Kind::WriteIt,
        title: "an echo server, from socket() to close()",
        task: "Write the listening socket (socket, setsockopt SO_REUSEADDR, bind, listen) and the \
               echo loop (recv until 0 bytes, sendall each piece). The server serves one client \
               after another and survives a client that resets.",
        book: "docs/src/01-echo.md#the-listening-socket",
        hints: &[
            "socket2 gives you each call by its C name: Socket::new(Domain::for_address(addr), \
             Type::STREAM, None), then set_reuse_address(true), bind(&addr.into()), listen(128). \
             Turn it into a std TcpListener with .into(). See docs/src/01-echo.md#the-listening-socket",
            "recv returns whatever has arrived, from 1 byte to the buffer's size, and 0 only when \
             the client has closed its side: loop on read() until it returns Ok(0), and send back \
             each piece with write_all (sendall), not write. See docs/src/01-echo.md#recv",
            "A client that resets (RST) makes read() fail with ConnectionReset. That is this \
             client's problem, not the server's: in the accept loop, report the error on stderr \
             and go on to the next accept() instead of returning it with `?` from main.",
        ],
        reference: include_str!("../solutions/01-echo-server/reference.rs"),
        wrong: &["single-recv", "dies-on-reset"],
        peers: &["python3 socket"],
        modes: &[Mode::HalfClose, Mode::OneBytePerWrite, Mode::Coalesced, Mode::Reset],
        port_by_hand: 65432,
        untouched_says: "a `todo!()` is still there",
        check: checks::ch01::echo_server,
    },
    Exercise {
        id: "01-fix-client",
        page: "01-echo.md",
        kind: Kind::FixIt,
        title: "the tutorial client's single recv(1024)",
        task: "This client sends a message and prints the echo, with one recv(1024), as the \
               tutorial's does. It works on loopback, mostly. Make it print the whole echo \
               however the server's reply is cut into pieces, and exit.",
        book: "docs/src/01-echo.md#the-single-recv1024-a-bug-that-works-on-loopback",
        hints: &[
            "Run the grader's repro: a server that answers in two pieces 200 ms apart. One \
             read() returns the first piece only. See \
             docs/src/01-echo.md#the-single-recv1024-a-bug-that-works-on-loopback",
            "Keep reading until you have as many bytes as you sent (an echo returns exactly \
             that many). A short read does not mean the end: a piece can be 1 byte.",
            "Reading until read() returns 0 also works, but only after you shutdown(Write): the \
             server closes its side when it sees yours closed, not before.",
        ],
        reference: include_str!("../solutions/01-fix-client/reference.rs"),
        wrong: &["until-short-read", "waits-for-close"],
        peers: &["grader's echo server answering in pieces"],
        modes: &[Mode::SlowDrip, Mode::OneBytePerWrite],
        port_by_hand: 65432,
        untouched_says: "it printed `Received b'Hello,'`",
        check: checks::ch01::fix_client,
    },
    Exercise {
        id: "01-line-echo",
        page: "01-echo.md",
        kind: Kind::ExtendIt,
        title: "a line echo with a maximum line length",
        task: "This server echoes bytes as they come. Make it echo whole lines: collect bytes \
               until `\\n`, then send the line back. A line longer than MAX_LINE_LEN (1024 bytes \
               before the `\\n`) gets `error: line too long\\n` and the connection is closed.",
        book: "docs/src/01-echo.md#limits",
        hints: &[
            "Keep a buffer per connection. After each read, append what came, then send back \
             every complete line in it (up to and including each `\\n`) and keep the rest.",
            "The limit is on the line, not on one read: a 2000-byte line can arrive in pieces \
             of any size. Check the length of what is buffered without a `\\n`, after every read.",
            "A line of exactly 1024 bytes plus `\\n` is fine; 1025 bytes with no `\\n` in sight \
             is already too long: send the error, then return (closing the connection), without \
             waiting for the rest.",
        ],
        reference: include_str!("../solutions/01-line-echo/reference.rs"),
        wrong: &["limit-per-read", "off-by-one"],
        peers: &["python3 socket"],
        modes: &[
            Mode::HalfClose,
            Mode::SlowDrip,
            Mode::OneBytePerWrite,
            Mode::Coalesced,
            Mode::Flood,
        ],
        port_by_hand: 65432,
        untouched_says: "half a line",
        check: checks::ch01::line_echo,
    },
    Exercise {
        id: "02-mio-echo",
        page: "02-multi-conn.md",
        kind: Kind::WriteIt,
        title: "a non-blocking echo loop with mio",
        task: "Write the event loop: accept until WouldBlock, read until WouldBlock, keep what \
               could not be sent, and ask for WRITABLE only while something waits to be sent. \
               It must keep serving everyone while one client never reads its echo.",
        book: "docs/src/02-multi-conn.md#the-event-loop-serve-in-pollrs",
        hints: &[
            "mio is edge-triggered: after an event, read (or accept) in a loop until WouldBlock, \
             or you will not hear about that socket again. See \
             docs/src/02-multi-conn.md#edge-triggered-readiness",
            "write() on a non-blocking socket takes what fits in the send buffer and returns \
             how much; keep the rest in the connection's `pending` and reregister with \
             READABLE | WRITABLE. When `pending` is empty again, go back to READABLE only.",
            "A client that never reads fills its buffers; stop reading from it (READABLE off, \
             by reregistering with WRITABLE only) while `pending` holds MAX_PENDING bytes, so \
             memory stays bounded. See docs/src/02-multi-conn.md#backpressure-a-client-that-does-not-read",
        ],
        reference: include_str!("../solutions/02-mio-echo/reference.rs"),
        wrong: &["drops-on-wouldblock", "no-writable"],
        peers: &["python3 socket"],
        modes: &[
            Mode::Silent,
            Mode::NeverReads,
            Mode::Flood,
            Mode::HalfClose,
            Mode::OneBytePerWrite,
            Mode::Coalesced,
            Mode::Reset,
        ],
        port_by_hand: 65433,
        untouched_says: "a `todo!()` is still there",
        check: checks::ch02::mio_echo,
    },
    Exercise {
        id: "02-spin-fix",
        page: "02-multi-conn.md",
        kind: Kind::FixIt,
        title: "a selectors loop that spins on write interest",
        task: "This poll() loop echoes correctly, and burns a whole core while its clients are \
               idle. Make it sleep in poll() when there is nothing to do, and still deliver \
               every byte to a client that reads late.",
        book: "docs/src/02-multi-conn.md#the-busy-loop-measured",
        hints: &[
            "poll() is level-triggered: POLLOUT is reported for as long as the send buffer has \
             room, which is always for an idle connection. See \
             docs/src/02-multi-conn.md#the-busy-loop-measured",
            "Ask for POLLOUT only for connections with bytes waiting in `pending`; ask for POLLIN \
             always (or only while `pending` is below a limit).",
            "Do not drop POLLOUT altogether: a client that reads late needs the rest of its \
             echo, and only POLLOUT tells you when its send buffer has room again. A sleep in \
             the loop lowers the CPU and adds its length to every reply.",
        ],
        reference: include_str!("../solutions/02-spin-fix/reference.rs"),
        wrong: &["never-pollout", "sleep"],
        peers: &["python3 socket"],
        modes: &[Mode::HalfClose, Mode::NeverReads, Mode::Flood],
        port_by_hand: 65433,
        untouched_says: "a busy loop",
        check: checks::ch02::spin_fix,
    },
    Exercise {
        id: "02-pool-lock",
        page: "02-multi-conn.md",
        kind: Kind::FixIt,
        title: "a thread pool that holds the lock while running the job",
        task: "This server hands each connection to a pool of 4 worker threads. One silent \
               client stops everybody else. Find the lock that is held too long and fix it, \
               without making the workers spin.",
        book: "docs/src/02-multi-conn.md#a-thread-per-connection",
        hints: &[
            "A worker takes a job from a channel shared behind a Mutex. Ask: while a worker runs \
             a job that waits in read() for a silent client, who holds the Mutex?",
            "In `while let Ok(job) = receiver.lock().unwrap().recv() { job() }` the guard is a \
             temporary of the `while let` condition, and lives until the end of the body: \
             through the whole job.",
            "Take the job in its own statement, `let job = receiver.lock().unwrap().recv();`, \
             so the guard is dropped at the `;`, then run it. Not try_recv in a loop: that \
             spins a core per idle worker.",
        ],
        reference: include_str!("../solutions/02-pool-lock/reference.rs"),
        wrong: &["lock-outside-loop", "try-recv-spin"],
        peers: &["python3 socket"],
        modes: &[Mode::Silent, Mode::HalfClose],
        port_by_hand: 65433,
        untouched_says: "failed: a client while another is silent",
        check: checks::ch02::pool_lock,
    },
    Exercise {
        id: "03-frames",
        page: "03-long-chat.md",
        kind: Kind::WriteIt,
        title: "the frame decoder: length prefix, kind, text",
        task: "Write Decoder::next_frame(): a 4-byte big-endian length (of kind + text), a kind \
               byte, the text. Return the next whole frame and drain only its bytes, None until \
               it has all arrived, and an error for a length of 0 or above MAX_FRAME_LEN before \
               waiting for that many bytes.",
        book: "docs/src/03-long-chat.md#framing-the-wire-format",
        hints: &[
            "TCP delivers bytes, not messages: the buffer may hold half a length prefix, or two \
             frames and the start of a third. See docs/src/03-long-chat.md#decoding-decoder",
            "self.buf.first_chunk::<4>() gives the prefix once 4 bytes are there; \
             u32::from_be_bytes reads it in network byte order (most significant byte first). \
             Check the length against MAX_FRAME_LEN and 0 right away.",
            "When self.buf.len() >= 4 + len, the frame is buf[4] (kind) and buf[5..4 + len] \
             (text); then self.buf.drain(..4 + len), not clear(): the next frame may already be \
             behind it.",
        ],
        reference: include_str!("../solutions/03-frames/reference.rs"),
        wrong: &["little-endian", "clears-buffer", "no-limit"],
        peers: &["python3 socket + struct"],
        modes: &[Mode::HalfClose, Mode::OneBytePerWrite, Mode::Coalesced, Mode::SlowDrip],
        port_by_hand: 7878,
        untouched_says: "a `todo!()` is still there",
        check: checks::ch03::frames,
    },
    Exercise {
        id: "03-slow-reader",
        page: "03-long-chat.md",
        kind: Kind::FixIt,
        title: "a broadcast that blocks on a member that never reads",
        task: "This room relays each line to every other member with a blocking write_all, \
               under the room's lock. One member that never reads stops the whole room. Make the \
               room keep serving the others, and disconnect a member that falls too far behind, \
               so its backlog stays bounded.",
        book: "docs/src/03-long-chat.md#fan-out-slow-readers-stuck-readers-and-floods",
        hints: &[
            "write_all blocks once the member's socket buffers are full, and broadcast() holds \
             the room's lock while it waits. See \
             docs/src/03-long-chat.md#fan-out-slow-readers-stuck-readers-and-floods",
            "Give each member an outbox, std::sync::mpsc::sync_channel(N), and a writer thread \
             that takes lines from it and write_all's them. broadcast() then only try_send's, \
             which never waits.",
            "When try_send says Full, the member is too slow: remove it, and call \
             stream.shutdown(Shutdown::Both), because its writer and reader threads each hold a \
             copy of the socket; without shutdown it stays connected for ever.",
        ],
        reference: include_str!("../solutions/03-slow-reader/reference.rs"),
        wrong: &["no-shutdown", "unbounded"],
        peers: &["three grader clients (one with a small receive window)", "nc / python3 (repro)"],
        modes: &[Mode::NeverReads, Mode::Flood, Mode::Whole],
        port_by_hand: 7878,
        untouched_says: "the room waits for the member that never reads",
        check: checks::ch03::slow_reader,
    },
    Exercise {
        id: "03-who",
        page: "03-long-chat.md",
        kind: Kind::ExtendIt,
        title: "a /who command for a minimal room",
        task: "In this room a member's first line is its name, and each later line is relayed as \
               `NAME: line`. Add /who: the asker alone gets `here: ` and every name in the room, \
               sorted. It is not relayed; a member that left is not listed; /whoami is an \
               ordinary line.",
        book: "docs/src/03-long-chat.md#the-room-one-event-loop",
        hints: &[
            "In member(), look at each line before broadcasting it: `if line == \"/who\"`. See \
             docs/src/03-long-chat.md#the-room-one-event-loop",
            "The names are in the room: lock(room).iter().map(|m| m.name.clone()).collect() \
             into a Vec, then sort() it and join(\" \").",
            "Answer on `own` (the asker's socket), after the lock is released: the others must \
             not get it, and a slow asker must not hold the room. Compare the whole line: \
             starts_with(\"/who\") would eat `/whoami`.",
        ],
        reference: include_str!("../solutions/03-who/reference.rs"),
        wrong: &["prefix", "tells-everyone"],
        peers: &["three grader clients", "python3 socket (repro)"],
        modes: &[Mode::Whole, Mode::OneBytePerWrite, Mode::Coalesced],
        port_by_hand: 7878,
        untouched_says: "failed: `/who` answered to the asker",
        check: checks::ch03::who,
    },
    Exercise {
        id: "04-ping",
        page: "04-udp.md",
        kind: Kind::WriteIt,
        title: "a UDP ping that counts loss, duplicates and reordering",
        task: "Write the UDP client: send COUNT numbered probes, collect the replies until the \
               network has been quiet for WAIT_MS, and print how many came back, were lost, \
               came twice and came out of order. Only your own probes count.",
        book: "docs/src/04-udp.md#the-probe-a-numbered-timestamped-datagram",
        hints: &[
            "UdpSocket::bind(\"0.0.0.0:0\"), then connect(addr): on UDP connect sends nothing, \
             it fixes the peer, so the kernel drops datagrams from anyone else. See \
             docs/src/04-udp.md#connect-on-a-udp-socket",
            "UDP never says \"that was the last one\": set_read_timeout(wait_ms) and stop at the \
             first recv that times out (WouldBlock or TimedOut). See \
             docs/src/04-udp.md#so_rcvtimeo-the-timeout",
            "Keep the numbers seen in a HashSet: insert returning false is a duplicate. A new \
             number below the highest seen so far arrived out of order. received is the size \
             of the set, not the number of replies.",
        ],
        reference: include_str!("../solutions/04-ping/reference.rs"),
        wrong: &["counts-replies", "believes-anyone"],
        peers: &[
            "a lossy UDP relay (fixed drops, duplicates, a held probe)",
            "a stranger's datagram",
        ],
        modes: &[],
        port_by_hand: 5005,
        untouched_says: "a `todo!()` is still there",
        check: checks::ch04::ping,
    },
    Exercise {
        id: "04-retry",
        page: "04-udp.md",
        kind: Kind::FixIt,
        title: "the UDP client that waits forever",
        task: "This client sends one datagram and waits for the echo with no timeout: when the \
               datagram is lost it waits for ever. Wait 300 ms, send again, 3 tries in all, and \
               take only the server's reply.",
        book: "docs/src/04-udp.md#the-tutorials-client-waits-forever",
        hints: &[
            "A lost datagram is never answered and nobody tells you: recv() must have a deadline. \
             See docs/src/04-udp.md#so_rcvtimeo-the-timeout",
            "set_read_timeout(Some(TIMEOUT)), then a loop of send and recv, MAX_TRIES times; a \
             recv that fails with WouldBlock or TimedOut means \"send again\".",
            "recv_from on an unconnected socket returns a datagram from anyone. connect(addr) \
             first, then send and recv: the kernel drops what does not come from the server. See \
             docs/src/04-udp.md#the-tutorials-client-believes-any-datagram",
        ],
        reference: include_str!("../solutions/04-retry/reference.rs"),
        wrong: &["no-retry", "any-sender"],
        peers: &["a UDP echo relay that drops the first datagrams", "a stranger's datagram"],
        modes: &[],
        port_by_hand: 5005,
        untouched_says: "recv() without a timeout waits for ever",
        check: checks::ch04::retry,
    },
    Exercise {
        id: "04-udp-echo",
        page: "04-udp.md",
        kind: Kind::FixIt,
        title: "a UDP echo server with TCP habits",
        task: "This UDP echo server works for short messages. It keeps two habits from TCP \
               code that are wrong for datagrams: make it echo every datagram whole, from 0 to \
               65,507 bytes, to whoever sent it, and keep serving.",
        book: "docs/src/04-udp.md#5-datagram-boundaries-and-truncation",
        hints: &[
            "A datagram longer than the buffer you give recv_from is cut to fit, and the rest is \
             gone: there is no next read for it. See \
             docs/src/04-udp.md#5-datagram-boundaries-and-truncation",
            "The largest UDP payload over IPv4 is 65,507 bytes: a buffer that size (on the heap, \
             vec![0u8; 65_507]) holds any datagram.",
            "In TCP, read() returning 0 means the peer closed. UDP has no connection: 0 bytes is \
             an empty datagram, to be echoed like any other. See \
             docs/src/04-udp.md#why-there-is-no-listen-and-no-accept",
        ],
        reference: include_str!("../solutions/04-udp-echo/reference.rs"),
        wrong: &["zero-means-closed"],
        peers: &["UDP sockets of the grader (two at once)"],
        modes: &[],
        port_by_hand: 5005,
        untouched_says: "failed: a datagram of 2000 bytes",
        check: checks::ch04::udp_echo,
    },
    Exercise {
        id: "05-safe-path",
        page: "05-http-server.md",
        kind: Kind::WriteIt,
        title: "URL path to file, never outside the root",
        task: "Write resolve() and percent_decode(): a request target such as \
               /sub/a%20b.txt?x=1 becomes ROOT/sub/a b.txt, and a target that would lead \
               outside ROOT (.., %2e%2e, ..%2f, // before an absolute path, NUL) gets None, a 404.",
        book: "docs/src/05-http-server.md#how-a-path-becomes-a-file-safely",
        hints: &[
            "Decode first, check after: %2e%2e is .. once decoded, so a check on the raw text \
             misses it. See docs/src/05-http-server.md#how-a-path-becomes-a-file-safely",
            "Split the decoded path on '/', and push the segments onto the root one by one: \
             skip empty ones (from //) and '.', refuse '..' and any segment with NUL or '\\\\'. \
             Drop the query (after '?') before decoding.",
            "Never root.join(the whole decoded path): Path::join with an absolute path (one \
             that starts with '/', such as what //etc/passwd leaves after one '/' is cut) \
             replaces the root instead of extending it.",
        ],
        reference: include_str!("../solutions/05-safe-path/reference.rs"),
        wrong: &["check-before-decode", "join-absolute"],
        peers: &["curl --path-as-is (repro)", "raw requests of the grader"],
        modes: &[Mode::Whole],
        port_by_hand: 8080,
        untouched_says: "a `todo!()` is still there",
        check: checks::ch05::safe_path,
    },
    Exercise {
        id: "05-fix-response",
        page: "05-http-server.md",
        kind: Kind::FixIt,
        title: "the tutorial's response: no status line, no Content-Length",
        task: "This server answers with the tutorial's response: headers and a body, no status \
               line, no Content-Length, then it closes. Make it HTTP/1.1: a status line, a \
               Content-Length that counts the body's 13 bytes, and the connection kept for the \
               next request unless the client asks for Connection: close.",
        book: "docs/src/05-http-server.md#why-the-broken-version-fails",
        hints: &[
            "A response starts with its status line, `HTTP/1.1 200 OK\\r\\n`; without it, curl \
             says `Received HTTP/0.9 when not allowed`. See \
             docs/src/05-http-server.md#why-the-broken-version-fails",
            "On a connection that stays open, the client knows where the body ends only from \
             Content-Length: count the bytes of the body you send (b\"hello world\\r\\n\" is 13), \
             not the words.",
            "Loop in serve(): `while let Some(head) = read_head(...)` answers request after \
             request, and read_head returns None when recv returns 0, the client's close: that \
             is when the thread ends and the socket is closed. See \
             docs/src/05-http-server.md#reading-requests-off-a-stream",
        ],
        reference: include_str!("../solutions/05-fix-response/reference.rs"),
        wrong: &["length-11", "close-delimited", "zero-means-wait"],
        peers: &["curl", "a keep-alive client of the grader"],
        modes: &[Mode::Whole, Mode::Coalesced, Mode::OneBytePerWrite],
        port_by_hand: 8080,
        untouched_says: "HTTP/0.9",
        check: checks::ch05::fix_response,
    },
    Exercise {
        id: "05-range",
        page: "05-http-server.md",
        kind: Kind::ExtendIt,
        title: "HEAD and Range for a small server",
        task: "This server answers GET / with a 1000-byte body. Add HEAD (the same head, no \
               body) and Range: bytes=FIRST-LAST, FIRST- and -COUNT with 206 and Content-Range, \
               416 for a start past the end, and any other Range ignored (200).",
        book: "docs/src/05-http-server.md#sending-a-file-304-206-and-zero-copy",
        hints: &[
            "HEAD is GET without the body: build the same head (Content-Length: 1000 included), \
             then send no body bytes. See \
             docs/src/05-http-server.md#sending-a-file-304-206-and-zero-copy",
            "Parse `bytes=FIRST-LAST` with strip_prefix and split_once('-'). An empty FIRST \
             means the last LAST bytes; an empty LAST means to the end; a LAST past the end \
             means the last byte.",
            "HTTP's LAST is included: bytes=0-99 is 100 bytes, body[0..=99] in Rust, with \
             Content-Range: bytes 0-99/1000. A FIRST at or past 1000 is 416 with \
             Content-Range: bytes */1000.",
        ],
        reference: include_str!("../solutions/05-range/reference.rs"),
        wrong: &["head-with-body", "end-exclusive"],
        peers: &["curl -r / -I (repro)", "raw requests of the grader"],
        modes: &[Mode::Whole],
        port_by_hand: 8080,
        untouched_says: "405",
        check: checks::ch05::range,
    },
    Exercise {
        id: "06-chunked",
        page: "06-http-client.md",
        kind: Kind::WriteIt,
        title: "a chunked body decoder",
        task: "Write decode_chunked(): read each chunk's size line (hex, extensions after ';'), \
               copy that many bytes to the output, expect \\r\\n; at the chunk of size 0, read \
               the trailers up to a blank line and stop, without waiting for the close. Memory \
               must not grow with the body.",
        book: "docs/src/06-http-client.md#where-a-response-ends",
        hints: &[
            "read_line() gives you a line without its \\r\\n. A size line is `1a` or \
             `1a;name=value`: take what is before the ';', trim it, and \
             u64::from_str_radix(hex, 16). See docs/src/06-http-client.md#where-a-response-ends",
            "io::copy(&mut reader.take(size), out) copies exactly `size` bytes however the \
             reads cut them, through a small buffer; check it copied all of them (fewer means \
             the connection closed mid-chunk), then read the empty line after the bytes.",
            "At size 0, loop on read_line() until it returns an empty line (the trailers end \
             there), and return: the server keeps the connection open, so reading on would \
             wait for ever. A bad size is an io::Error (InvalidData), not a panic.",
        ],
        reference: include_str!("../solutions/06-chunked/reference.rs"),
        wrong: &["collects-body", "no-extensions"],
        peers: &["the grader's HTTP server (keeps the connection open)", "python3 server (repro)"],
        modes: &[Mode::OneBytePerWrite, Mode::SlowDrip, Mode::Flood],
        port_by_hand: 8080,
        untouched_says: "a `todo!()` is still there",
        check: checks::ch06::chunked,
    },
    Exercise {
        id: "06-short-read",
        page: "06-http-client.md",
        kind: Kind::FixIt,
        title: "the tutorial client that reads until a short read",
        task: "This client reads with recv(4096) until a read returns fewer bytes, and takes \
               that for the end of the response. Make it print the whole body however it \
               arrives: read the head to its blank line, then exactly Content-Length bytes; \
               the server keeps the connection open.",
        book: "docs/src/06-http-client.md#why-recv-until-short-is-wrong",
        hints: &[
            "A short read means only that nothing more had arrived yet. See \
             docs/src/06-http-client.md#why-recv-until-short-is-wrong",
            "Read until the bytes hold `\\r\\n\\r\\n`: that is the end of the head. Find the \
             Content-Length header in it; what came after the blank line is the start of the \
             body.",
            "Read the rest of the body with read_exact, not until read() returns 0: an \
             HTTP/1.1 server keeps the connection open for the next request, and the close \
             never comes.",
        ],
        reference: include_str!("../solutions/06-short-read/reference.rs"),
        wrong: &["until-close"],
        peers: &["the grader's HTTP server (keeps the connection open)", "python3 server (repro)"],
        modes: &[Mode::SlowDrip],
        port_by_hand: 8080,
        untouched_says: "it printed nothing (0 bytes)",
        check: checks::ch06::short_read,
    },
    Exercise {
        id: "06-redirect",
        page: "06-http-client.md",
        kind: Kind::ExtendIt,
        title: "follow a redirect, only on the same host",
        task: "This client prints the body of a 200 and fails on anything else. Make it follow \
               301/302/303/307/308 to a Location on the same host and port (a path, or a full \
               URL), at most 5 times; a redirect to another host or port is refused with exit \
               1, without connecting to it.",
        book: "docs/src/06-http-client.md#redirects",
        hints: &[
            "Loop: get(url); on a redirect status, read the Location header and make the next \
             Url from it. See docs/src/06-http-client.md#redirects",
            "A Location that starts with '/' is a path on the same host and port \
             (Url { path, ..url.clone() }); otherwise parse_url() it and compare host AND port \
             with the current URL before connecting. See \
             docs/src/06-http-client.md#urls-strict-about-the-authority",
            "Count the redirects: a server that redirects to itself would keep the loop going \
             for ever. After 5, return an error.",
        ],
        reference: include_str!("../solutions/06-redirect/reference.rs"),
        wrong: &["any-host", "host-only"],
        peers: &["three grader HTTP servers: the site, 127.0.0.2, another port"],
        modes: &[],
        port_by_hand: 8080,
        untouched_says: "status 302",
        check: checks::ch06::redirect,
    },
    Exercise {
        id: "07-classify",
        page: "07-ip-notes.md",
        kind: Kind::WriteIt,
        title: "classify(ip): what kind of address is this?",
        task: "Write classify_v4 and classify_v6: one word per address (private, loopback, \
               shared, link-local, documentation, multicast, ..., else public), from the bits \
               of the number, not the text. The words are listed at the top of the crate's \
               main.rs.",
        book: "docs/src/07-ip-notes.md#note-3-the-special-addresses",
        hints: &[
            "An IPv4 address is a 32-bit number: u32::from(ip). A block a.b.c.d/n holds every \
             address whose first n bits equal the block's. See \
             docs/src/07-ip-notes.md#note-1-address-classes-and-cidr",
            "The mask of a /n is u32::MAX << (32 - n); for n = 0 that shift overflows, so use \
             checked_shl(32 - n).unwrap_or(0). Then (ip & mask) == (network & mask).",
            "172.16.0.0/12 runs to 172.31.255.255 and 100.64.0.0/10 to 100.127.255.255: no \
             string prefix gets those right. For IPv6, look at ip.segments()[0] with a mask: \
             fc00::/7 is `first & 0xfe00 == 0xfc00`; ::ffff:a.b.c.d is to_ipv4_mapped().",
        ],
        reference: include_str!("../solutions/07-classify/reference.rs"),
        wrong: &["private-slash16", "text-prefix"],
        peers: &["the chapter's `07-ip-notes classify`, in the repro line"],
        modes: &[],
        port_by_hand: 0,
        untouched_says: "a `todo!()` is still there",
        check: checks::ch07::classify,
    },
    Exercise {
        id: "07-reuseaddr",
        page: "07-ip-notes.md",
        kind: Kind::FixIt,
        title: "a server that cannot restart on its port (TIME_WAIT)",
        task: "This server greets each client and closes the connection first. Stopped and \
               started again on the same port, its bind() fails with `Address already in use`. \
               Make it restart at once.",
        book: "docs/src/07-ip-notes.md#experiment-time_wait-and-so_reuseaddr",
        hints: &[
            "The side that closes first keeps a TIME_WAIT entry for the connection, about a \
             minute, and that entry holds the port. `ss -tan` shows it. See \
             docs/src/07-ip-notes.md#experiment-time_wait-and-so_reuseaddr",
            "One socket option lets bind() take a port that only TIME_WAIT entries hold: \
             SO_REUSEADDR (socket2: set_reuse_address).",
            "bind() reads the option: set it between Socket::new and bind, not after.",
        ],
        reference: include_str!("../solutions/07-reuseaddr/reference.rs"),
        wrong: &["after-bind"],
        peers: &["nc, in the repro line"],
        modes: &[],
        port_by_hand: 65432,
        untouched_says: "Address already in use",
        check: checks::ch07::reuseaddr,
    },
    Exercise {
        id: "07-cidr",
        page: "07-ip-notes.md",
        kind: Kind::ExtendIt,
        title: "network, broadcast and hosts of a CIDR block",
        task: "This program prints the network address of each ADDR/PREFIX. Extend it to print \
               the broadcast address and the number of usable hosts, right for every prefix from \
               /0 to /32 (the format is at the top of its main.rs), and never crash on input.",
        book: "docs/src/07-ip-notes.md#note-1-address-classes-and-cidr",
        hints: &[
            "The broadcast address is the network with every host bit set: network | !mask. \
             See docs/src/07-ip-notes.md#note-1-address-classes-and-cidr",
            "A block of prefix p holds 2^(32 - p) addresses; minus the network and the broadcast \
             address. Count in u64: a /0 holds 2^32, one more than a u32 can.",
            "Two prefixes are special: a /31 is a point-to-point link with two hosts and no \
             broadcast (RFC 3021), and a /32 is one host. The formula gives 0 and -1 there: \
             handle them first.",
        ],
        reference: include_str!("../solutions/07-cidr/reference.rs"),
        wrong: &["textbook-formula", "shift-overflow"],
        peers: &["the chapter's `07-ip-notes classify`, in the repro line"],
        modes: &[],
        port_by_hand: 0,
        untouched_says: "failed: CIDR block 192.168.1.77/26",
        check: checks::ch07::cidr,
    },
];
