//! `hello`: the tutorial's first HTTP server, one fixed response for every request.
//!
//! A browser that gets only `hello world` shows nothing (or an error): HTTP wants a status
//! line, headers, a blank line, and then the body, with `Content-Length` saying where the body
//! ends. This is that response, byte for byte, and `--broken` sends the body alone, so you can
//! watch curl and a browser refuse it. `--trace` prints every byte read and written.
//!
//! One thing differs from the tutorial's program, on purpose: it reads the request before
//! answering. The tutorial's server answers and closes without reading, so the request is
//! still unread in the socket's receive buffer when it closes; Linux then sends a reset
//! (RST) instead of a normal close, and a browser that gets the reset before it has read the
//! response shows "connection reset" instead of the page.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{Context, Result};
use ch01_echo::listen::ListenOptions;
use common::accept::AcceptPolicy;
use common::narrate;
use common::narrate::Narrator;
use common::step;
use common::stop::Stop;
use common::text::{plural, py_bytes};
use common::timeout::is_timeout;

// ANCHOR: response
/// The tutorial's response: status line, two headers, blank line, body. Every line ends in
/// `\r\n`, and `Content-Length` is the body's length exactly: 11 bytes.
pub const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\n\
Content-Type: text/html; charset=utf-8\r\n\
Content-Length: 11\r\n\
\r\n\
hello world";

/// `--broken`: the body alone, as the tutorial's first attempt sent it.
pub const BROKEN_RESPONSE: &[u8] = b"hello world";
// ANCHOR_END: response

/// The most request bytes `hello` reads before answering anyway: it only waits for the blank
/// line, and a request head is rarely more than a few hundred bytes.
const MAX_REQUEST: usize = 8 << 10;
/// How long `hello` waits for the request before answering anyway. Short, because `hello`
/// serves one connection at a time, like the tutorial's, and browsers often open a spare
/// connection ahead of need and send nothing on it: while we wait on that one, the real
/// request waits in the accept queue.
const READ_TIMEOUT: Duration = Duration::from_secs(2);

/// `listen()` backlog: `hello` serves one client at a time, like the tutorial's server, and
/// the kernel queues the next ones meanwhile (Python's default, when `listen()` is given none,
/// is this or `SOMAXCONN`, whichever is smaller).
const BACKLOG: i32 = 128;

/// Options of `hello`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to bind.
    pub host: String,
    /// Port; 0 lets the kernel pick.
    pub port: u16,
    /// Send the body alone.
    pub broken: bool,
    /// Narration, with the bytes.
    pub narrator: Narrator,
}

/// Runs `hello` until Ctrl-C: one client at a time, one response each.
///
/// # Errors
/// When the listening socket cannot be set up.
pub fn run(config: &Config) -> Result<()> {
    let stop = Stop::new();
    stop.trigger_on_ctrl_c()?;
    let n = config.narrator;
    // ANCHOR: run_listen
    // The listening socket: chapter 01's recipe, with the backlog of the tutorial's program.
    let addr = common::host::resolve(&config.host, config.port)?[0];
    let options = ListenOptions { backlog: BACKLOG, reuse_address: true };
    let listener = ch01_echo::listen::listen(addr, &options, n)?;
    let bound = listener.local_addr().context("could not read the bound address")?;
    println!("listening on {bound}");
    // ANCHOR_END: run_listen
    eprintln!(
        "open http://{}/ in a browser, or run: curl -v http://{}/",
        common::host::reachable(bound),
        common::host::reachable(bound)
    );
    let _wake = stop.watch(move || common::stop::wake_accept(bound));
    let mut served = 0u64;
    let mut accept_errors = AcceptPolicy::new(n);
    // ANCHOR: run_loop
    while !stop.is_stopping() {
        step!(n, &listener, "accept()");
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            // Out of descriptors, retrying at once would burn a core: common::accept pauses.
            Err(e) => match accept_errors.recover(e) {
                Ok(()) => continue,
                Err(e) => return Err(e).context("accept failed"),
            },
        };
        accept_errors.accepted();
        if stop.is_stopping() {
            common::stop::discard_woken(&stream);
            break;
        }
        narrate!(n, (&listener, &stream), "accept() -> {}, peer {peer}", narrate::fd(&stream));
        println!("connect from {peer}");
        if let Err(e) = answer(&stream, config.broken, n) {
            eprintln!("connection from {peer}: {e}");
        }
        narrate::close(n, stream, "");
        served += 1;
    }
    // ANCHOR_END: run_loop
    eprintln!("server stopped: answered {}", plural(served, "connection"));
    Ok(())
}

// ANCHOR: answer
/// Reads the request head (up to the blank line), then sends the fixed response.
fn answer(mut stream: &TcpStream, broken: bool, n: Narrator) -> io::Result<()> {
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    let mut request = Vec::new();
    let mut chunk = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < MAX_REQUEST {
        step!(n, stream, "recv(1024)");
        let got = match stream.read(&mut chunk) {
            Ok(got) => got,
            Err(e) if is_timeout(&e) => break,
            Err(e) => return Err(e),
        };
        narrate!(n, stream, "recv(1024) -> {got} bytes: {}", py_bytes(&chunk[..got]));
        if got == 0 {
            break;
        }
        request.extend_from_slice(&chunk[..got]);
    }
    let response = if broken { BROKEN_RESPONSE } else { RESPONSE };
    step!(n, stream, "sendall({} bytes)", response.len());
    stream.write_all(response)?;
    narrate!(n, stream, "sendall({} bytes): {}", response.len(), py_bytes(response));
    Ok(())
}
// ANCHOR_END: answer
