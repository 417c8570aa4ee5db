//! `demo`: the event-loop server and the tutorial's two-connection client in one process,
//! narrated. Watch the server's `accept`, `recv`, `send` and `reregister` lines interleave for
//! two clients on one thread: that is the event loop.

use std::sync::Arc;
use std::thread;

use anyhow::{Context, Result};
use common::narrate::Narrator;
use common::stop::Stop;

use crate::client::{self, Job};
use crate::server;
use crate::shared::{self, Config, Mode, Stats};

/// Runs the narrated demo.
///
/// # Errors
/// When the server cannot listen on loopback or the client fails.
pub fn run() -> Result<()> {
    let config = Config {
        host: "127.0.0.1".into(),
        port: 0,
        mode: Mode::Poll,
        backlog: shared::DEFAULT_BACKLOG,
        max_conns: shared::DEFAULT_MAX_CONNS,
        narrator: Narrator::new("server", true),
    };
    let listener = server::listen(&config)?;
    let addr = listener.local_addr().context("could not read the bound address")?;
    println!("listening on {addr}");
    let stop = Stop::new();
    let stats = Arc::new(Stats::default());
    let serving = thread::spawn({
        let (stop, stats) = (stop.clone(), stats.clone());
        move || crate::poll::serve(listener, &config, &stop, &stats)
    });

    let job = Job::Verify { connections: 2, messages: 2, size: None, verbose: true };
    let outcome = client::run(addr, &job, Narrator::new("client", true));

    stop.trigger();
    serving.join().map_err(|_| anyhow::anyhow!("the server thread panicked"))??;
    eprintln!("server stopped: {stats}");
    outcome
}
