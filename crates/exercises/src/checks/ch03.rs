//! Chapter 03's checks: the frame decoder written from scratch, a room whose broadcast waits
//! for a member that never reads, and `/who` added to a minimal room.

use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use super::{ECHO_TIMEOUT, Program, Server, python_echo};
use crate::peer::{Ending, Mode, Peer, show};
use crate::verdict::Failure;

/// One frame on the wire: the length of kind + text as a big-endian u32, the kind, the text.
fn frame(kind: u8, text: &[u8]) -> Vec<u8> {
    let len = u32::try_from(1 + text.len()).expect("small frames");
    let mut out = len.to_be_bytes().to_vec();
    out.push(kind);
    out.extend_from_slice(text);
    out
}

/// A Python line that sends `frames` (as `struct.pack` calls) and prints what comes back.
fn py_frames(frames: &str) -> String {
    format!(
        "python3 -c \"import socket,struct; f=lambda k,t: struct.pack('!IB',len(t)+1,k)+t; \
         s=socket.create_connection(('127.0.0.1',PORT)); s.sendall({frames}); \
         s.settimeout(1); print(s.recv(100))\""
    )
}

/// frames: a real peer, frames one byte per write, coalesced, in a slow drip, a large one,
/// an empty one and one too long to wait for.
///
/// # Errors
/// The first step that failed.
pub fn frames(program: &Program) -> Result<(), Failure> {
    let mut server = program.start_server()?;
    let step = "Python: struct.pack('!IB', 3, 1) + b'hi', then shutdown(SHUT_WR)";
    python_echo(&mut server, step, &frame(1, b"hi"), b"1 hi\n")
        .map_err(|f| f.book("docs/src/03-long-chat.md#framing-the-wire-format"))?;
    program.passed(step);

    let decoding = "docs/src/03-long-chat.md#decoding-decoder";
    let two = [frame(1, b"hi"), frame(2, b"alice")].concat();
    // (step, the bytes, how they are sent, the reply, the Python expression that sends them)
    type Case<'a> = (&'a str, Vec<u8>, Mode, &'a [u8], &'a str);
    let steps: [Case; 3] = [
        (
            "two frames, one byte per write",
            two.clone(),
            Mode::OneBytePerWrite,
            b"1 hi\n2 alice\n",
            "f(1,b'hi')+f(2,b'alice')",
        ),
        (
            "three frames in one write",
            [frame(1, b"one"), frame(1, b"two"), frame(4, b"three")].concat(),
            Mode::Coalesced,
            b"1 one\n1 two\n4 three\n",
            "f(1,b'one')+f(1,b'two')+f(4,b'three')",
        ),
        (
            "a frame in a slow drip: the length prefix itself in pieces",
            frame(1, b"a slow frame"),
            Mode::SlowDrip,
            b"1 a slow frame\n",
            "f(1,b'a slow frame')",
        ),
    ];
    for (step, data, mode, expected, repro) in steps {
        server
            .echo(step, (&data, mode), expected, &py_frames(repro))
            .map_err(|f| f.book(decoding))?;
        program.passed(step);
    }

    let step = "a frame of 60,000 bytes (under the 64 KiB limit)";
    let text = vec![b'x'; 60_000];
    let mut expected = b"1 ".to_vec();
    expected.extend_from_slice(&text);
    expected.push(b'\n');
    server
        .echo(step, (&frame(1, &text), Mode::Whole), &expected, &py_frames("f(1,b'x'*60000)"))
        .map_err(|f| f.book(decoding))?;
    program.passed(step);

    let limits = "docs/src/03-long-chat.md#limits";
    let bad: [(&str, Vec<u8>, &[u8], &str); 2] = [
        ("an empty frame (length 0)", vec![0, 0, 0, 0], b"error: empty frame\n", "b'\\x00'*4"),
        (
            "a length of 1 MiB: refused before its bytes come",
            [&(1u32 << 20).to_be_bytes()[..], &[1], b"xxxx"].concat(),
            b"error: frame too long\n",
            "struct.pack('!IB',1<<20,1)+b'xxxx'",
        ),
    ];
    for (step, data, expected, repro) in bad {
        let mut peer = server
            .echo(step, (&data, Mode::Whole), expected, &py_frames(repro))
            .map_err(|f| f.book(limits))?;
        let (more, ending) = peer.read_to_close(4096, ECHO_TIMEOUT);
        if ending != Ending::Done {
            return Err(server.died_or(
                Failure::new(step)
                    .sent(show(&data))
                    .expected(format!("{}, then the connection closed", show(expected)))
                    .got(format!("{}, then {}", show(expected), ending.describe(ECHO_TIMEOUT)))
                    .repro(server.repro(&py_frames(repro)))
                    .book(limits),
            ));
        }
        let _ = more;
        program.passed(step);
    }
    server.still_running("the next client", "the bad frames above", &py_frames("f(1,b'hi')"))?;
    server.echo(
        "a client after the bad ones",
        (&frame(1, b"hi"), Mode::Whole),
        b"1 hi\n",
        &py_frames("f(1,b'hi')"),
    )?;
    program.passed("a client after the bad ones");
    Ok(())
}

/// Joins the room and reads the greeting.
fn join(
    server: &mut Server,
    step: &str,
    peer: Result<Peer, Failure>,
    greeting: &[u8],
) -> Result<Peer, Failure> {
    let mut peer = peer?;
    let (got, ending) = peer.read_len(greeting.len(), ECHO_TIMEOUT);
    if got != greeting {
        return Err(server.died_or(
            Failure::new(step)
                .sent("connect()")
                .expected(format!("the greeting {}", show(greeting)))
                .got(format!("{}, {}", show(&got), ending.describe(ECHO_TIMEOUT)))
                .repro(server.repro("nc 127.0.0.1 PORT")),
        ));
    }
    Ok(peer)
}

/// Lines of 1 KiB the sender floods the room with: 8 MiB, far more than the socket buffers of
/// a member that never reads (a few hundred KiB on loopback) plus a bounded outbox.
const FLOOD_LINES: usize = 8 * 1024;

/// How long a reader may see nothing before the room counts as stuck.
const STALL: Duration = Duration::from_secs(3);

/// slow_reader: a member that never reads, another that floods, a third that must hear all of
/// it; then the one that never reads must have been disconnected, and the room goes on.
///
/// # Errors
/// The first step that failed.
pub fn slow_reader(program: &Program) -> Result<(), Failure> {
    let book = "docs/src/03-long-chat.md#fan-out-slow-readers-stuck-readers-and-floods";
    let mut server = program.start_server()?;
    let step = "three members join: one never reads, one sends, one reads";
    let addr = server.addr;
    let mut stuck = join(
        &mut server,
        step,
        Peer::connect_small_window(addr).map_err(|e| Failure::new(step).got(e)),
        b"welcome\n",
    )?;
    let sender_peer = server.connect(step);
    let sender = join(&mut server, step, sender_peer, b"welcome\n")?;
    let reader_peer = server.connect(step);
    let mut reader = join(&mut server, step, reader_peer, b"welcome\n")?;
    program.passed(step);

    let step = "8 MiB of lines from one member while another never reads";
    let mut line = vec![b'x'; 1023];
    line.push(b'\n');
    let total = line.len() * FLOOD_LINES;
    let mut writer =
        sender.stream().try_clone().map_err(|e| Failure::new(step).got(e.to_string()))?;
    let flood = thread::spawn(move || {
        let _ = writer.set_write_timeout(Some(Duration::from_secs(5)));
        for _ in 0..FLOOD_LINES {
            if writer.write_all(&line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut got = 0;
    let mut wrong = false;
    let mut ending = Ending::Done;
    while got < total && Instant::now() < deadline {
        let (piece, end) = reader.read_len((total - got).min(1 << 20), STALL);
        wrong |= piece
            .iter()
            .enumerate()
            .any(|(i, &b)| b != if (got + i) % 1024 == 1023 { b'\n' } else { b'x' });
        got += piece.len();
        if end != Ending::Done && (piece.is_empty() || end != Ending::TimedOut) {
            ending = end;
            break;
        }
    }
    if got < total {
        // Unblock the flood thread's write, so that it ends now, not at its timeout.
        let _ = sender.stream().shutdown(std::net::Shutdown::Both);
    }
    let _ = flood.join();
    let repro = server.repro(
        "python3 -c \"import socket,time; s=socket.create_connection(('127.0.0.1',PORT)); time.sleep(60)\" & \
         nc 127.0.0.1 PORT >/dev/null & python3 -c \"import socket; \
         s=socket.create_connection(('127.0.0.1',PORT)); s.sendall((b'x'*1023+b'\\n')*8192)\"",
    );
    if got < total || wrong {
        return Err(server.died_or(
            Failure::new(step)
                .sent(format!(
                    "{FLOOD_LINES} lines of 1 KiB from one member; another member never reads"
                ))
                .expected(format!("all {total} bytes relayed to the member that reads"))
                .got(format!(
                    "{got} bytes{}, {}: the room waits for the member that never reads \
                     (a blocking write_all to it, while holding the room's lock?)",
                    if wrong { " (some of them wrong)" } else { "" },
                    ending.describe(STALL)
                ))
                .repro(repro)
                .book(book),
        ));
    }
    program.passed(step);

    let step = "the member that never reads is disconnected";
    let (backlog, ending) = stuck.read_to_close(total + 4096, STALL);
    if !matches!(ending, Ending::Done | Ending::Error(_)) {
        return Err(server.died_or(
            Failure::new(step)
                .sent("the same flood, and then the member that never read reads what it has")
                .expected(
                    "a bounded backlog, then the connection closed: the room dropped the member \
                     once its outbox was full",
                )
                .got(format!(
                    "{} bytes, {}: never dropped (an outbox without a bound, or a member \
                     taken out of the room but its socket never shut down?)",
                    backlog.len(),
                    ending.describe(STALL)
                ))
                .repro(repro)
                .book(book),
        ));
    }
    program.passed(step);

    let step = "the room goes on: a new member hears the next line";
    let late_peer = server.connect(step);
    let mut late = join(&mut server, step, late_peer, b"welcome\n")?;
    let _ = reader.send(b"still here?\n", Mode::Whole);
    let (heard, ending) = late.read_len(12, ECHO_TIMEOUT);
    if heard != b"still here?\n" {
        return Err(server.died_or(
            Failure::new(step)
                .sent("b'still here?\\n' from a member that reads")
                .expected("b'still here?\\n' relayed to the new member")
                .got(format!("{}, {}", show(&heard), ending.describe(ECHO_TIMEOUT)))
                .repro(server.repro("nc 127.0.0.1 PORT"))
                .book(book),
        ));
    }
    program.passed(step);
    Ok(())
}

/// who: `/who` answered to the asker alone, in any pieces, `/whoami` relayed, and a member
/// that left no longer listed.
///
/// # Errors
/// The first step that failed.
pub fn who(program: &Program) -> Result<(), Failure> {
    let mut server = program.start_server()?;
    let step = "alice and bob join";
    let mut alice = named(&mut server, step, "alice")?;
    let mut bob = named(&mut server, step, "bob")?;
    program.passed(step);

    let repro = "python3 -c \"import socket; s=socket.create_connection(('127.0.0.1',PORT)); \
                 s.sendall(b'alice\\n'); print(s.recv(100)); s.sendall(b'/who\\n'); \
                 s.settimeout(1); print(s.recv(100))\"";
    let step = "`/who` answered to the asker";
    ask(&mut server, step, &mut alice, (b"/who\n", Mode::Whole), b"here: alice bob\n", repro)?;
    program.passed(step);

    let step = "`/who` is not relayed to the others";
    quiet(&mut server, step, (&mut bob, "bob"), "alice sent `/who`", repro)?;
    program.passed(step);

    let step = "carol joins and sends `/who` one byte per write";
    let mut carol = named(&mut server, step, "carol")?;
    ask(
        &mut server,
        step,
        &mut carol,
        (b"/who\n", Mode::OneBytePerWrite),
        b"here: alice bob carol\n",
        repro,
    )?;
    program.passed(step);

    let step = "a line and `/who` in one write";
    ask(
        &mut server,
        step,
        &mut alice,
        (b"hi\n/who\n", Mode::Coalesced),
        b"here: alice bob carol\n",
        repro,
    )?;
    let (heard, ending) = bob.read_len(10, ECHO_TIMEOUT);
    if heard != b"alice: hi\n" {
        return Err(server.died_or(
            Failure::new(step)
                .sent("b'hi\\n/who\\n' from alice, in one write")
                .expected("bob hears b'alice: hi\\n', and nothing of the `/who`")
                .got(format!("bob heard {}, {}", show(&heard), ending.describe(ECHO_TIMEOUT)))
                .repro(server.repro(repro)),
        ));
    }
    program.passed(step);

    let step = "`/whoami` is an ordinary line: relayed";
    let _ = alice.send(b"/whoami\n", Mode::Whole);
    let (heard, ending) = bob.read_len(15, ECHO_TIMEOUT);
    if heard != b"alice: /whoami\n" {
        return Err(server.died_or(
            Failure::new(step)
                .sent("b'/whoami\\n' from alice")
                .expected("bob hears b'alice: /whoami\\n': only the line `/who` is the command")
                .got(format!("bob heard {}, {}", show(&heard), ending.describe(ECHO_TIMEOUT)))
                .repro(server.repro(repro)),
        ));
    }
    quiet(&mut server, step, (&mut alice, "alice"), "alice sent `/whoami`", repro)?;
    program.passed(step);

    let step = "bob leaves: `/who` no longer lists him";
    drop(bob);
    let deadline = Instant::now() + Duration::from_secs(2);
    let want: &[u8] = b"here: alice carol\n";
    loop {
        let _ = alice.send(b"/who\n", Mode::Whole);
        let (answer, ending) = alice.read_len(want.len(), ECHO_TIMEOUT);
        if answer == want {
            break;
        }
        // The room may learn of the close a moment later; the answer before that lists bob.
        let (rest, _) = alice.read_for(Duration::from_millis(50));
        if Instant::now() > deadline || !(answer.starts_with(b"here: ") || rest.is_empty()) {
            return Err(server.died_or(
                Failure::new(step)
                    .sent("bob closes his connection; alice sends `/who` (again for up to 2 s)")
                    .expected(show(want))
                    .got(format!(
                        "{}{}, {}",
                        show(&answer),
                        show(&rest),
                        ending.describe(ECHO_TIMEOUT)
                    ))
                    .repro(server.repro(repro)),
            ));
        }
        thread::sleep(Duration::from_millis(100));
    }
    drop(carol);
    program.passed(step);
    Ok(())
}

/// Connects, sends `NAME\n` and reads `welcome NAME\n`.
fn named(server: &mut Server, step: &str, name: &str) -> Result<Peer, Failure> {
    let mut peer = server.connect(step)?;
    let _ = peer.send(format!("{name}\n").as_bytes(), Mode::Whole);
    let greeting = format!("welcome {name}\n");
    join(server, step, Ok(peer), greeting.as_bytes())
}

/// `peer` sends `data` and must get exactly `answer`.
fn ask(
    server: &mut Server,
    step: &str,
    peer: &mut Peer,
    (data, mode): (&[u8], Mode),
    answer: &[u8],
    repro: &str,
) -> Result<(), Failure> {
    let _ = peer.send(data, mode);
    let (got, ending) = peer.read_len(answer.len(), ECHO_TIMEOUT);
    if got == answer {
        return Ok(());
    }
    Err(server.died_or(
        Failure::new(step)
            .sent(format!("{} ({})", show(data), mode.name()))
            .expected(format!("{} to the asker, and to no one else", show(answer)))
            .got(format!("{}, {}", show(&got), ending.describe(ECHO_TIMEOUT)))
            .repro(server.repro(repro)),
    ))
}

/// Nothing reaches `peer` for a moment.
fn quiet(
    server: &mut Server,
    step: &str,
    (peer, who): (&mut Peer, &str),
    after: &str,
    repro: &str,
) -> Result<(), Failure> {
    let window = Duration::from_millis(300);
    let (got, _) = peer.read_for(window);
    if got.is_empty() {
        return Ok(());
    }
    Err(server.died_or(
        Failure::new(step)
            .sent(after.to_owned())
            .expected(format!("nothing for {who} for {window:?}"))
            .got(format!("{who} got {}", show(&got)))
            .repro(server.repro(repro)),
    ))
}
