//! `demo`: a UDP server and its clients in one process, narrated.
//!
//! 1. The tutorial's client sends three messages; every `sendto`/`recvfrom` is narrated.
//! 2. A ping of 10 probes crosses a simulated bad network (20% loss, 10% duplicates, 1-5 ms
//!    delay), with a fixed seed so that every run shows the same loss.
//! 3. A *connected* UDP socket sends to a port nobody has bound, and hears `Connection refused`
//!    from the ICMP port-unreachable message the kernel sends back.

use std::net::UdpSocket;
use std::thread;
use std::time::Duration;

use anyhow::Result;
use common::narrate;
use common::narrate::Narrator;
use common::stop::Stop;

use crate::client::{self, Target, UdpClient};
use crate::netsim::Impairments;
use crate::server::{self, Server};
use crate::shared;

/// How long the demo's clients wait for a reply: loopback answers in microseconds.
const DEMO_TIMEOUT: Duration = Duration::from_millis(200);

/// Runs the narrated demo.
///
/// # Errors
/// When the server cannot bind loopback or a client fails unexpectedly.
pub fn run() -> Result<()> {
    let demo = Narrator::new("demo", true);
    let config = shared::Config {
        host: "127.0.0.1".into(),
        port: 0,
        reply: shared::Reply::Echo,
        buf_size: server::DEFAULT_BUF_SIZE,
        rcvbuf: None,
        net: Impairments {
            drop: 0.2,
            duplicate: 0.1,
            delay: Duration::from_millis(1),
            jitter: Duration::from_millis(4),
        },
        seed: 4,
        quiet: false,
        narrator: Narrator::new("server", true),
    };
    let server = Server::bind(config)?;
    let addr = server.local_addr();
    println!("{}", server.rcvbuf_note());
    println!("listening on {addr}");
    let stop = Stop::new();
    let serving = thread::spawn({
        let stop = stop.clone();
        move || server.serve(&stop)
    });
    let target = Target {
        host: addr.ip().to_string(),
        port: addr.port(),
        connect: false,
        broadcast: false,
        timeout: DEMO_TIMEOUT,
    };

    narrate!(
        demo,
        "1. the tutorial's client: numbered messages, each answered (or not) by one datagram"
    );
    let narrated = UdpClient::open(&target, Narrator::new("client", true))?;
    client::messages(&narrated, 3, DEMO_TIMEOUT)?;
    narrate!(
        demo,
        "   the tutorial's client takes the next datagram as the answer: after a duplicate, it is the wrong one"
    );

    narrate!(
        demo,
        "2. ping: 10 probes, 1 ms apart, through 20% loss, 10% duplicates, 1-5 ms delay"
    );
    let quiet = UdpClient::open(&target, Narrator::new("client", false))?;
    client::ping(&quiet, 10, Duration::from_millis(1), 64, DEMO_TIMEOUT)?;

    narrate!(demo, "3. a connected UDP socket sends to a port nobody has bound");
    let closed_port = UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port(); // Bound, then closed.
    let refused = Target { port: closed_port, connect: true, ..target };
    let outcome = client::messages(
        &UdpClient::open(&refused, Narrator::new("client", true))?,
        1,
        DEMO_TIMEOUT,
    );
    match outcome {
        Err(err) => println!("as expected: {err:#}"),
        Ok(()) => {
            println!("no error this time: something was bound to port {closed_port} after all")
        }
    }

    stop.trigger();
    let summary = serving.join().map_err(|_| anyhow::anyhow!("the server thread panicked"))?;
    eprintln!("server stopped: {summary}");
    Ok(())
}
