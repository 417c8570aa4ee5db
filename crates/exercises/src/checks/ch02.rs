//! Chapter 02's checks: the mio event loop written from scratch, the poll loop that spins on
//! write interest, and the thread pool that holds its lock through the job.

use std::time::{Duration, Instant};

use super::{ECHO_TIMEOUT, Program, Server, python_echo};
use crate::peer::{Mode, Peer, show};
use crate::verdict::Failure;

/// What a never-reading client sends at most: more than the server's send buffer can hold
/// (4 MiB at most on Linux by default), so a server has to keep the rest and send it later;
/// bounded, so the check ends.
const FLOOD_MAX: usize = 16 << 20;

/// An idle server may use this share of one core at most; a busy loop uses all it can get,
/// and still more than this on a machine shared with a parallel build.
const MAX_IDLE_SHARE: f64 = 0.10;

/// Round trips timed on one connection.
const ROUND_TRIPS: usize = 50;

/// The median reply time allowed: loopback answers in microseconds, a loaded machine in a
/// millisecond or two; a loop that sleeps 10 ms per turn never does.
const MAX_MEDIAN_REPLY: Duration = Duration::from_millis(5);

/// How long the idle CPU is measured.
const IDLE_WINDOW: Duration = Duration::from_secs(1);

/// The event loop: a silent client and a never-reading one must not stop the others, and the
/// never-reader gets every byte back once it reads.
///
/// # Errors
/// The first step that failed.
pub fn mio_echo(program: &Program) -> Result<(), Failure> {
    let mut server = program.start_server()?;
    let step = "connect and send nothing (kept open)";
    let silent = server.connect(step)?;
    program.passed(step);

    let (mut never_reader, taken) = flood_without_reading(&mut server)?;
    program.passed(&format!("a client that never reads: it sent {taken} bytes"));

    let step = "Python's socket client, while one client is silent and one never reads";
    python_echo(&mut server, step, b"Hello, world", b"Hello, world")
        .map_err(|f| f.book("docs/src/02-multi-conn.md#one-thread-and-an-event-loop"))?;
    program.passed(step);

    let step = "one byte per write";
    let repro = "python3 -c \"import socket; s=socket.create_connection(('127.0.0.1',PORT)); \
                 [s.send(bytes([b])) for b in b'Hello, world']; print(s.recv(1024))\"";
    server.echo(step, (b"Hello, world", Mode::OneBytePerWrite), b"Hello, world", repro)?;
    program.passed(step);

    let step = "two messages in one write";
    let repro = "python3 -c \"import socket; s=socket.create_connection(('127.0.0.1',PORT)); \
                 s.sendall(b'first\\nsecond\\n'); print(s.recv(1024))\"";
    server.echo(step, (b"first\nsecond\n", Mode::Coalesced), b"first\nsecond\n", repro)?;
    program.passed(step);

    late_reader_gets_everything(&mut server, &mut never_reader, taken)?;
    program.passed("the client that never read reads now, and gets every byte back");
    drop(never_reader);
    drop(silent);

    let step = "a client resets mid-message (SO_LINGER 0), then another connects";
    let peer = server.connect(step)?;
    peer.reset_after(b"Hello, wor");
    let repro = "python3 -c \"import socket,struct; s=socket.create_connection(('127.0.0.1',PORT)); \
                 s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii',1,0)); \
                 s.sendall(b'Hello, wor'); s.close()\"";
    server.echo(step, (b"still there?", Mode::Whole), b"still there?", repro)?;
    server.still_running(step, "b'Hello, wor', then a reset (RST)", repro)?;
    program.passed(step);
    Ok(())
}

/// The poll loop: idle means asleep, replies are prompt, and a late reader gets everything.
///
/// # Errors
/// The first step that failed.
pub fn spin_fix(program: &Program) -> Result<(), Failure> {
    let mut server = program.start_server()?;
    let step = "idle CPU with one idle connection";
    let idle = server.echo(
        step,
        (b"hello", Mode::Whole),
        b"hello",
        "python3 -c \"import socket; s=socket.create_connection(('127.0.0.1',PORT)); \
         s.sendall(b'hello'); print(s.recv(1024))\"",
    )?;
    server.idle_cpu(step, IDLE_WINDOW, MAX_IDLE_SHARE)?;
    program.passed(step);
    drop(idle);

    round_trips(&mut server, ROUND_TRIPS, MAX_MEDIAN_REPLY)?;
    program.passed("50 round trips of one byte, answered at once");

    let step = "Python's socket client: sendall, shutdown(SHUT_WR), read until closed";
    python_echo(&mut server, step, b"Hello, world", b"Hello, world")?;
    program.passed(step);

    let (mut never_reader, taken) = flood_without_reading(&mut server)?;
    late_reader_gets_everything(&mut server, &mut never_reader, taken)?;
    program.passed("a client that reads late gets every byte back");
    Ok(())
}

/// The pool: a silent client must not hold up another, and idle workers must sleep.
///
/// # Errors
/// The first step that failed.
pub fn pool_lock(program: &Program) -> Result<(), Failure> {
    let mut server = program.start_server()?;
    let step = "connect and send nothing (kept open)";
    let silent = server.connect(step)?;
    program.passed(step);

    let step = "a client while another is silent";
    python_echo(&mut server, step, b"Hello, world", b"Hello, world").map_err(|f| {
        let note = "\n(one worker waits in read() for the silent client; the other three are free)";
        Failure { got: format!("{}{note}", f.got), ..f }
    })?;
    program.passed(step);

    let step = "idle CPU with a silent connection and three idle workers";
    server.idle_cpu(step, IDLE_WINDOW, MAX_IDLE_SHARE)?;
    program.passed(step);
    drop(silent);
    Ok(())
}

/// Connects a client that sends up to [`FLOOD_MAX`] bytes and reads nothing, until the server
/// stops taking them; returns it (still open) and how many bytes its kernel accepted.
fn flood_without_reading(server: &mut Server) -> Result<(Peer, usize), Failure> {
    let step = "a client that sends and never reads (bounded flood)";
    let mut peer = Peer::connect_small_window(server.addr)
        .map_err(|e| server.died_or(Failure::new(step).got(e)))?;
    let taken = peer.flood(FLOOD_MAX, Duration::from_millis(300), Duration::from_secs(3));
    let repro = "python3 -c \"import socket; s=socket.create_connection(('127.0.0.1',PORT)); \
                 s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384); s.settimeout(2); \
                 s.sendall(b'x'*(16<<20))\"";
    server.still_running(step, &format!("{taken} bytes from a client that never reads"), repro)?;
    Ok((peer, taken))
}

/// The never-reader reads now: every byte it sent must come back.
fn late_reader_gets_everything(
    server: &mut Server,
    peer: &mut Peer,
    taken: usize,
) -> Result<(), Failure> {
    let step = "the client that never read reads now";
    let limit = ECHO_TIMEOUT * 2;
    let (got, ending) = peer.read_len_slowly(taken, limit);
    if got.len() == taken && got.iter().all(|&b| b == b'x') {
        return Ok(());
    }
    Err(server.died_or(
        Failure::new(step)
            .sent(format!(
                "{taken} bytes of b'x', none read until now; now reading slowly (16 KiB a ms)"
            ))
            .expected(format!(
                "all {taken} bytes back: the server keeps what it could not send and sends it \
                 when the socket is writable again"
            ))
            .got(format!("{} bytes, {}", got.len(), ending.describe(limit)))
            .repro(server.repro(
                "python3 -c \"import socket,time; s=socket.create_connection(('127.0.0.1',PORT)); \
                 s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384); s.settimeout(2); n=0\ntry:\n  while n < 16<<20: n += s.send(b'x'*65536)\nexcept \
                 socket.timeout: pass\nt=0\ntry:\n  while t < n: t += len(s.recv(16384)); time.sleep(0.001)\nexcept \
                 socket.timeout: pass\nprint(n, 'sent', t, 'echoed')\"",
            ))
            .book("docs/src/02-multi-conn.md#backpressure-a-client-that-does-not-read"),
    ))
}

/// `count` round trips of one byte on one connection; the median must stay under `limit`.
/// The median, not the total: on a machine busy with other work a few replies are late for
/// reasons that are not the server's, but a server that sleeps on every turn is late on all.
fn round_trips(server: &mut Server, count: usize, limit: Duration) -> Result<(), Failure> {
    let step = "round trips of one byte";
    let mut peer = server.connect(step)?;
    let mut times = Vec::with_capacity(count);
    for i in 0..count {
        let byte = [b'a' + (i % 26) as u8];
        let started = Instant::now();
        let _ = peer.send(&byte, Mode::Whole);
        let (got, ending) = peer.read_len(1, ECHO_TIMEOUT);
        times.push(started.elapsed());
        if got != byte {
            return Err(server.died_or(
                Failure::new(step)
                    .sent(format!("{} (round trip {})", show(&byte), i + 1))
                    .expected(show(&byte))
                    .got(format!("{}, {}", show(&got), ending.describe(ECHO_TIMEOUT))),
            ));
        }
    }
    times.sort();
    let median = times[count / 2];
    if median > limit {
        return Err(Failure::new(step)
            .sent(format!("{count} times one byte, each after the echo of the last"))
            .expected(format!("a median reply time under {limit:?}: microseconds on loopback"))
            .got(format!("a median of {median:?} per reply: is something sleeping?"))
            .repro(server.repro(
                "python3 -c \"import socket,time; s=socket.create_connection(('127.0.0.1',PORT)); \
                 t=time.time(); [(s.sendall(b'a'), s.recv(1)) for _ in range(100)]; \
                 print((time.time()-t)*10, 'ms per reply')\"",
            ))
            .book("docs/src/02-multi-conn.md#the-busy-loop-measured"));
    }
    Ok(())
}
