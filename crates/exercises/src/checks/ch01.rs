//! Chapter 01's checks: the echo server written from scratch, the client's single `recv`, and
//! the line echo with a maximum line length.

use std::process::Command;
use std::time::Duration;

use super::{ECHO_TIMEOUT, Program, python_echo, tail};
use crate::peer::{Answer, DripServer, Ending, Mode, show};
use crate::run::Child;
use crate::verdict::Failure;

/// 1 MiB: far more than one `recv` returns and than the socket buffers hold, so only a loop of
/// reads and a `sendall` get it all back.
const BIG_MESSAGE: usize = 1 << 20;

/// The echo server: outside client, half-close, pieces, coalesced, a big message, a reset.
///
/// # Errors
/// The first step that failed.
pub fn echo_server(program: &Program) -> Result<(), Failure> {
    let mut server = program.start_server()?;
    let step = "Python's socket client: sendall, shutdown(SHUT_WR), read until closed";
    python_echo(&mut server, step, b"Hello, world", b"Hello, world")
        .map_err(|f| f.book("docs/src/01-echo.md#the-echo-echo_until_closed"))?;
    program.passed(step);

    let step = "one byte per write";
    server
        .echo(
            step,
            (b"Hello, world", Mode::OneBytePerWrite),
            b"Hello, world",
            "python3 -c \"import socket; s=socket.create_connection(('127.0.0.1',PORT)); \
             s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1); \
             [s.send(bytes([b])) for b in b'Hello, world']; print(s.recv(1024))\"",
        )
        .map_err(|f| f.book("docs/src/01-echo.md#recv"))?;
    program.passed(step);

    let step = "two messages in one write";
    server.echo(
        step,
        (b"first\nsecond\n", Mode::Coalesced),
        b"first\nsecond\n",
        "python3 -c \"import socket; s=socket.create_connection(('127.0.0.1',PORT)); \
         s.sendall(b'first\\nsecond\\n'); print(s.recv(1024))\"",
    )?;
    program.passed(step);

    let step = "1 MiB in one sendall, read back while sending";
    let big: Vec<u8> = (0..BIG_MESSAGE).map(|i| b'a' + (i % 26) as u8).collect();
    server
        .big_echo(
            step,
            &big,
            "cargo run -q -p ch01-echo -- client --port PORT --bytes 1M   # chapter 01's own \
             client verifies every byte",
        )
        .map_err(|f| f.book("docs/src/01-echo.md#send-and-sendall"))?;
    program.passed(step);

    let step = "a client resets mid-message (SO_LINGER 0), then another connects";
    let peer = server.connect(step)?;
    peer.reset_after(b"Hello, wor");
    let repro = "python3 -c \"import socket,struct; s=socket.create_connection(('127.0.0.1',PORT)); \
                 s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii',1,0)); \
                 s.sendall(b'Hello, wor'); s.close()\"";
    let after = server
        .echo(step, (b"still there?", Mode::Whole), b"still there?", repro)
        .map_err(|f| f.book("docs/src/01-echo.md#connection-reset"))?;
    drop(after);
    server
        .still_running(step, "b'Hello, wor', then a reset (RST)", repro)
        .map_err(|f| f.book("docs/src/01-echo.md#connection-reset"))?;
    program.passed(step);
    Ok(())
}

/// The client: against a server that answers in two pieces, and one that answers a byte at a
/// time; it must print the whole echo and exit.
///
/// # Errors
/// The first step that failed.
pub fn fix_client(program: &Program) -> Result<(), Failure> {
    let step = "an echo in two pieces, 200 ms apart";
    let repro = "python3 -c \"import socket,time; l=socket.create_server(('127.0.0.1',65432)); \
                 c,_=l.accept(); d=c.recv(1024); c.sendall(d[:6]); time.sleep(0.2); \
                 c.sendall(d[6:]); time.sleep(1)\" &  sleep 0.5; cargo run -q -p ex01-fix-client";
    let answer = Answer::Split { pause: Duration::from_millis(200) };
    run_client(program, step, answer, "Hello, world", repro)?;
    program.passed(step);

    let step = "a 20000-byte message, echoed one byte per write";
    let message: String = (0..20_000).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    let repro = "python3 -c \"import socket; l=socket.create_server(('127.0.0.1',65432)); \
                 c,_=l.accept(); [c.send(bytes([b])) for b in iter(lambda: c.recv(1), b'')]\" &  \
                 sleep 0.5; cargo run -q -p ex01-fix-client -- 127.0.0.1:65432 \"$(head -c 20000 \
                 /dev/zero | tr '\\0' a)\"";
    run_client(program, step, Answer::OneBytePerWrite, &message, repro)?;
    program.passed(step);
    Ok(())
}

/// How long a client may run against the grader's server before it counts as stuck.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(4);

fn run_client(
    program: &Program,
    step: &str,
    answer: Answer,
    message: &str,
    repro: &str,
) -> Result<(), Failure> {
    let book = "docs/src/01-echo.md#the-single-recv1024-a-bug-that-works-on-loopback";
    let server = DripServer::start(answer, CLIENT_TIMEOUT + Duration::from_secs(1))
        .map_err(|e| Failure::new(step).got(format!("the grader could not listen: {e}")))?;
    let mut cmd = Command::new(&program.path);
    cmd.arg(server.addr.to_string()).arg(message);
    let shown = format!("{} {} MESSAGE", program.run_by_hand, server.addr);
    let child = Child::spawn(cmd, shown).map_err(|e| Failure::new(step).got(e))?;
    let ended = child.wait(CLIENT_TIMEOUT);
    let expected = format!("Received {}", show(message.as_bytes()));
    let failure = Failure::new(step)
        .sent(format!(
            "the client sent {}; the grader's server echoed it {}",
            show(message.as_bytes()),
            match answer {
                Answer::Split { pause } => format!("in two halves, {pause:?} apart"),
                Answer::OneBytePerWrite => "one byte per write".to_owned(),
            }
        ))
        .expected(format!("the client prints `{expected}` and exits 0"))
        .repro(repro)
        .book(book);
    let printed = ended.stdout.lines().find(|l| l.starts_with("Received ")).unwrap_or("");
    let printed_all = format!("Received {}", crate::peer::show_all(message.as_bytes()));
    match ended.status {
        None => {
            return Err(failure.got(format!(
                "still running after {CLIENT_TIMEOUT:?}, stopped by the grader: it waits for the \
                 server to close, and the server waits for the client to say it is done{}",
                tail("its stdout", &ended.stdout)
            )));
        }
        Some(status) if !status.success() => {
            return Err(
                failure.got(format!("it exited with {status}{}", tail("stderr", &ended.stderr)))
            );
        }
        Some(_) => {}
    }
    if printed != printed_all {
        let got = printed.strip_prefix("Received ").unwrap_or(printed);
        return Err(failure.got(format!("it printed `Received {}`", shorten(got))));
    }
    let _ = server.bytes_received();
    Ok(())
}

/// A `b'...'` line cut to a readable length.
fn shorten(text: &str) -> String {
    if text.len() <= 70 {
        return text.to_owned();
    }
    let end = (0..=70).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
    format!("{}... ({} characters)", &text[..end], text.len())
}

/// The line echo's limit, as the exercise states it: bytes before the `\n`.
const MAX_LINE_LEN: usize = 1024;

/// The line echo: whole lines only, in any pieces, and the limit enforced on the line.
///
/// # Errors
/// The first step that failed.
pub fn line_echo(program: &Program) -> Result<(), Failure> {
    let mut server = program.start_server()?;
    let step = "Python's socket client: two lines, then shutdown(SHUT_WR)";
    python_echo(&mut server, step, b"hello\nworld\n", b"hello\nworld\n")?;
    program.passed(step);

    let step = "half a line: nothing comes back until its `\\n`";
    let mut peer = server.connect(step)?;
    let _ = peer.send(b"hel", Mode::Whole);
    let quiet = Duration::from_millis(300);
    let (early, _) = peer.read_for(quiet);
    if !early.is_empty() {
        return Err(Failure::new(step)
            .sent("b'hel' (no newline yet)")
            .expected(format!("nothing for {quiet:?}: the line is not finished"))
            .got(show(&early))
            .repro(server.repro(
                "python3 -c \"import socket; s=socket.create_connection(('127.0.0.1',PORT)); \
                 s.sendall(b'hel'); s.settimeout(0.3); print(s.recv(1024))\"",
            ))
            .book(program.book));
    }
    let _ = peer.send(b"lo\n", Mode::Whole);
    let (rest, ending) = peer.read_len(6, ECHO_TIMEOUT);
    if rest != b"hello\n" {
        return Err(server.died_or(
            Failure::new(step).sent("b'hel', then b'lo\\n'").expected("b'hello\\n'").got(format!(
                "{}, {}",
                show(&rest),
                ending.describe(ECHO_TIMEOUT)
            )),
        ));
    }
    drop(peer);
    program.passed(step);

    let step = "lines one byte per write";
    let repro = "python3 -c \"import socket; s=socket.create_connection(('127.0.0.1',PORT)); \
                 [s.send(bytes([b])) for b in b'one\\ntwo\\n']; print(s.recv(1024))\"";
    server.echo(step, (b"one\ntwo\n", Mode::OneBytePerWrite), b"one\ntwo\n", repro)?;
    program.passed(step);

    let step = "three lines in one write";
    let repro = "python3 -c \"import socket; s=socket.create_connection(('127.0.0.1',PORT)); \
                 s.sendall(b'a\\nb\\nc\\n'); print(s.recv(1024))\"";
    server.echo(step, (b"a\nb\nc\n", Mode::Coalesced), b"a\nb\nc\n", repro)?;
    program.passed(step);

    let step = "lines in a slow drip (3 bytes every 20 ms)";
    let repro = "python3 -c \"import socket,time; s=socket.create_connection(('127.0.0.1',PORT)); \
                 [(s.send(b'slow\\ndrip\\n'[i:i+3]), time.sleep(0.02)) for i in range(0,10,3)]; \
                 print(s.recv(1024))\"";
    server.echo(step, (b"slow\ndrip\n", Mode::SlowDrip), b"slow\ndrip\n", repro)?;
    program.passed(step);

    let step = "a line of exactly MAX_LINE_LEN (1024) bytes";
    let mut longest = vec![b'x'; MAX_LINE_LEN];
    longest.push(b'\n');
    let repro = "python3 -c \"import socket; s=socket.create_connection(('127.0.0.1',PORT)); \
                 s.sendall(b'x'*1024+b'\\n'); print(len(s.recv(2048)))\"";
    server.echo(step, (&longest, Mode::Whole), &longest, repro)?;
    program.passed(step);

    too_long(program, &mut server)?;
    Ok(())
}

/// The two steps over the limit: one byte too many, and a bounded flood with no newline.
fn too_long(program: &Program, server: &mut super::Server) -> Result<(), Failure> {
    let error_line: &[u8] = b"error: line too long\n";
    let step = "a line of MAX_LINE_LEN + 1 bytes with no newline yet";
    let mut peer = server.connect(step)?;
    let _ = peer.send(&[b'y'; MAX_LINE_LEN + 1], Mode::Whole);
    let (got, ending) = peer.read_to_close(4096, ECHO_TIMEOUT);
    if got != error_line || ending != Ending::Done {
        return Err(server.died_or(
            Failure::new(step)
                .sent("1025 bytes b'yyyy...' and no `\\n`")
                .expected("b'error: line too long\\n', then the server closes the connection")
                .got(format!("{}, {}", show(&got), ending.describe(ECHO_TIMEOUT)))
                .repro(server.repro(
                    "python3 -c \"import socket; s=socket.create_connection(('127.0.0.1',PORT)); \
                     s.sendall(b'y'*1025); print(s.recv(1024), s.recv(1024))\"",
                )),
        ));
    }
    drop(peer);
    program.passed(step);

    let step = "a flood of 1 MiB with no newline, in 64 KiB writes";
    let mut peer = server.connect(step)?;
    let taken = peer.flood(1 << 20, Duration::from_millis(500), Duration::from_secs(3));
    let (got, ending) = peer.read_to_close(4096, ECHO_TIMEOUT);
    // Closing with unread input makes the kernel send a reset, which may arrive before the
    // error line: a reset is a close here, since the point is that the server hung up.
    let closed = matches!(ending, Ending::Done | Ending::Error(_));
    if !closed {
        return Err(server.died_or(
            Failure::new(step)
                .sent(format!("{taken} bytes of b'x' and no `\\n` (the kernel took that many)"))
                .expected("the server hangs up once the line passes 1024 bytes")
                .got(format!("{}, {}", show(&got), ending.describe(ECHO_TIMEOUT)))
                .repro(server.repro(
                    "python3 -c \"import socket; s=socket.create_connection(('127.0.0.1',PORT)); \
                     s.sendall(b'x'*(1<<20)); print(s.recv(1024))\"",
                )),
        ));
    }
    drop(peer);
    server.still_running(
        step,
        "a flood with no newline",
        "python3 -c \"import socket; s=socket.create_connection(('127.0.0.1',PORT)); \
         s.sendall(b'x'*(1<<20))\"",
    )?;
    program.passed(step);
    Ok(())
}
