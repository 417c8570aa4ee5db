//! Chapter 02: many clients at once, with a thread each or with one event loop.
//!
//! Run the server in one terminal and the client in another:
//!
//! ```text
//! cargo run -p ch02-multi-conn -- server                 # listening on 127.0.0.1:65433
//! cargo run -p ch02-multi-conn -- client                 # the tutorial's 2 connections x 2 messages
//! cargo run -p ch02-multi-conn -- client --connections 1000 --duration 5
//! ```
//!
//! or watch both in one process, narrated: `cargo run -p ch02-multi-conn -- demo`.
//! This file is only the command line; the sockets are in `threads.rs`, `poll.rs` and
//! `client.rs`.

use std::process::ExitCode;
use std::time::Duration;

use ch02_multi_conn::client::{self, Job};
use ch02_multi_conn::shared::{self, DEFAULT_BACKLOG, DEFAULT_MAX_CONNS, DEFAULT_PORT};
use ch02_multi_conn::{demo, server};
use clap::{Args, Parser, Subcommand, ValueEnum};
use common::narrate::{Narrator, TraceArgs};

/// The most connections (or messages) one flag may ask for: a bound on what one run opens.
const MAX_COUNT: usize = 100_000;
/// The largest `--size`: 16 MiB per message, buffered whole by the client.
const MAX_MESSAGE_SIZE: usize = 16 << 20;

/// Many clients at once: a thread per connection, or one event loop.
#[derive(Parser)]
#[command(
    name = "02-multi-conn",
    version,
    long_about = "Chapter 01's server served one client at a time. This one serves them all at \
                  once, in one of two ways: a thread per connection, or one thread with \
                  non-blocking sockets and an event loop (epoll/kqueue, like Python's selectors).\n\n\
                  Run `02-multi-conn server` in one terminal and `02-multi-conn client` in \
                  another, or `02-multi-conn demo` to watch both, narrated.",
    after_help = "Examples:\n  \
                  02-multi-conn server --mode threads                  a thread per connection\n  \
                  02-multi-conn server --step --kernel                 pause at each call; show the kernel's view\n  \
                  02-multi-conn client --connections 200 --messages 10 --size 1K -q  one summary line\n  \
                  02-multi-conn client --connections 100 --duration 5  ping-pong load: messages/s, p50/p99\n  \
                  02-multi-conn client --hold 10000                    10,000 idle connections (Ctrl-C ends)"
)]
struct Cli {
    #[command(flatten)]
    trace: TraceArgs,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve many clients at once, echoing everything each one sends.
    Server(ServerArgs),
    /// Open many connections from one thread: verify echoes, ping-pong, or hold them idle.
    Client(ClientArgs),
    /// The event-loop server and the tutorial's client in one process, narrated.
    Demo,
}

#[derive(Args)]
struct ServerArgs {
    /// IP address or host name to listen on (0.0.0.0 or :: = every address of this machine).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// TCP port. 0 lets the kernel pick a free one and prints it.
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,

    /// How to serve many clients.
    #[arg(long, value_enum, default_value_t = ModeArg::Poll)]
    mode: ModeArg,

    /// listen() backlog: finished handshakes the kernel queues before we accept them
    /// (capped by net.core.somaxconn).
    #[arg(long, default_value_t = DEFAULT_BACKLOG, value_parser = clap::value_parser!(i32).range(1..=65535))]
    backlog: i32,

    /// Connections served at once; more are accepted and closed at once.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONNS, value_parser = common::cli::count(MAX_COUNT))]
    max_conns: usize,
}

#[derive(Clone, Copy, ValueEnum)]
enum ModeArg {
    /// One thread, non-blocking sockets, an event loop (epoll/kqueue).
    Poll,
    /// A thread per connection.
    Threads,
}

#[derive(Args)]
struct ClientArgs {
    /// The server's IP address or host name.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The server's port.
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,

    /// Connections to open at once.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = common::cli::count(MAX_COUNT))]
    connections: usize,

    /// Messages per connection (verify mode).
    #[arg(long, value_name = "M", default_value_t = 2, value_parser = common::cli::count(MAX_COUNT), conflicts_with_all = ["duration", "hold"])]
    messages: usize,

    /// Bytes per message (default: the tutorial's messages; 64 with --duration).
    #[arg(long, value_name = "BYTES", value_parser = common::cli::size(1, MAX_MESSAGE_SIZE, ""))]
    size: Option<usize>,

    /// Ping-pong for this many seconds: send, wait for the echo, repeat; report messages/s.
    /// With --hold: how long to hold the connections.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=600))]
    duration: Option<u64>,

    /// Open N idle connections and hold them until Ctrl-C (or --hold-for).
    #[arg(long, value_name = "N", value_parser = common::cli::count(MAX_COUNT))]
    hold: Option<usize>,

    /// With --hold: close the connections after this many seconds.
    #[arg(long, value_name = "SECS", requires = "hold", value_parser = clap::value_parser!(u64).range(1..=3600))]
    hold_for: Option<u64>,

    /// Do not print each send and receive (verify mode).
    #[arg(long, short)]
    quiet: bool,
}

fn run_client(args: ClientArgs, trace: bool) -> anyhow::Result<()> {
    let server = common::host::resolve(&args.host, args.port)?[0];
    let job = if let Some(connections) = args.hold {
        // --hold-for, or --duration as the issue's wording has it: how long to hold.
        let secs = args.hold_for.or(args.duration);
        Job::Hold { connections, duration: secs.map(Duration::from_secs) }
    } else if let Some(secs) = args.duration {
        Job::PingPong {
            connections: args.connections,
            size: args.size.unwrap_or(64),
            duration: Duration::from_secs(secs),
        }
    } else {
        Job::Verify {
            connections: args.connections,
            messages: args.messages,
            size: args.size,
            verbose: !args.quiet,
        }
    };
    client::run(server, &job, Narrator::new("client", trace))
}

fn main() -> ExitCode {
    common::report::install_panic_hook();
    let cli = Cli::parse();
    let trace = cli.trace.start::<Cli>();
    let result = match cli.command {
        Command::Server(args) => server::run(shared::Config {
            host: args.host,
            port: args.port,
            mode: match args.mode {
                ModeArg::Poll => shared::Mode::Poll,
                ModeArg::Threads => shared::Mode::Threads,
            },
            backlog: args.backlog,
            max_conns: args.max_conns,
            narrator: Narrator::new("server", trace),
        }),
        Command::Client(args) => run_client(args, trace),
        Command::Demo => demo::run(),
    };
    common::report::exit_code(result)
}
