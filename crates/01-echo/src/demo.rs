//! `demo`: the server and two clients in one process, every socket call narrated.
//!
//! The server binds port 0, so the kernel picks a free port and the demo never collides with
//! a server you already run. Then:
//!
//! 1. client A connects and gets its echo;
//! 2. client B connects while A is still connected. Its `connect()` succeeds, because the
//!    kernel completes the handshake and queues B (that queue is the listen backlog), but the
//!    server, busy with A, does not `accept()` B yet;
//! 3. A closes; only now does the server accept B and echo its message;
//! 4. B half-closes (`shutdown(SHUT_WR)`) and waits for the server to close its side too;
//! 5. the demo stops the server, as Ctrl-C would.

use std::io::Read;
use std::net::Shutdown;
use std::thread;

use anyhow::Result;
use common::narrate;
use common::narrate::Narrator;
use common::step;
use common::stop::Stop;
use common::text::py_bytes;

use crate::client;
use crate::connect::connect;
use crate::server::{self, Server};
use crate::session::Config;
use crate::stream::Stream;

/// Runs the narrated demo.
///
/// # Errors
/// When the server cannot bind loopback or a client fails.
pub fn run() -> Result<()> {
    let config = Config {
        backlog: server::DEFAULT_BACKLOG,
        buf_size: server::DEFAULT_BUF_SIZE,
        reuse_address: true,
        timeout: Some(server::DEFAULT_TIMEOUT),
        narrator: Narrator::new("server", true),
    };
    let server = Server::bind("127.0.0.1", 0, config)?;
    let addr = server.local_addr()?;
    println!("listening on {addr}");

    let stop = Stop::new();
    let serving = thread::spawn({
        let stop = stop.clone();
        move || server.serve(&stop)
    });

    let (demo, a, b) = (
        Narrator::new("demo", true),
        Narrator::new("client A", true),
        Narrator::new("client B", true),
    );

    let mut conn_a = connect(&addr.ip().to_string(), addr.port(), None, a)?;
    let reply = client::send_and_receive(&mut conn_a, client::DEFAULT_MESSAGE.as_bytes(), a)?;
    println!("client A: Received {}", py_bytes(&reply));

    let mut conn_b = connect(&addr.ip().to_string(), addr.port(), None, b)?;
    narrate!(
        demo,
        "client B is connected, but waits in the accept queue: the server is busy with A"
    );
    narrate::close(a, conn_a, "");

    let reply = client::send_and_receive(&mut conn_b, b"Hello again: one client at a time", b)?;
    println!("client B: Received {}", py_bytes(&reply));
    // Half-close, then wait for the server's own close: when recv() returns 0, the server is
    // done with B and back in accept(), so stopping it now interrupts nobody.
    step!(b, &conn_b, "shutdown({}, SHUT_WR)", conn_b.fd());
    conn_b.shutdown(Shutdown::Write)?;
    narrate!(b, &conn_b, "shutdown({}, SHUT_WR)", conn_b.fd());
    step!(b, &conn_b, "recv(1)");
    let closed = conn_b.read(&mut [0u8; 1])?;
    narrate!(b, &conn_b, "recv(1) -> {closed} bytes (the server closed)");
    narrate::close(b, conn_b, "");

    stop.trigger();
    let summary = serving.join().map_err(|_| anyhow::anyhow!("the server thread panicked"))?;
    eprintln!("server stopped: {summary}");
    Ok(())
}
