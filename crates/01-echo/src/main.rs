//! Chapter 01: an echo server and client, the tutorial's first program done right.
//!
//! Run the server in one terminal and the client in another:
//!
//! ```text
//! cargo run -p ch01-echo -- server            # listening on 127.0.0.1:65432
//! cargo run -p ch01-echo -- client            # Received b'Hello, world'
//! ```
//!
//! or watch both in one process, every socket call narrated: `cargo run -p ch01-echo -- demo`.
//! This file is only the command line; the sockets are in `server.rs` and `client.rs`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use common::narrate::{Narrator, TraceArgs};

use ch01_echo::session::Config;
use ch01_echo::{client, demo, server};

/// An echo server and client: the tutorial's first socket program.
#[derive(Parser)]
#[command(
    name = "01-echo",
    version,
    long_about = "An echo server sends back every byte it receives. This chapter builds one \
                  call by call (socket, setsockopt, bind, listen, accept, recv, sendall, close) \
                  and a client that reads the whole echo back.\n\n\
                  Run `01-echo server` in one terminal and `01-echo client` in another, or \
                  `01-echo demo` to watch both, narrated.",
    after_help = "Examples:\n  \
                  01-echo server --trace             narrate every socket call\n  \
                  01-echo server --step --kernel     pause at each call; show the kernel's view\n  \
                  01-echo client --message 'hi'      send one message\n  \
                  01-echo client --bytes 100M        stream 100 MiB and verify the echo\n  \
                  01-echo server --host ::1          the same over IPv6\n  \
                  01-echo server --unix /tmp/echo.sock   a Unix domain socket"
)]
struct Cli {
    #[command(flatten)]
    trace: TraceArgs,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Listen, then serve one client at a time: send back every byte until it closes.
    Server(ServerArgs),
    /// Connect, send a message (or stdin, or N bytes) and read the whole echo back.
    Client(ClientArgs),
    /// Server and client in one process on a free port, every socket call narrated.
    Demo,
}

/// Where to listen or connect.
#[derive(Args)]
struct Target {
    /// IP address or host name: where the server listens, or where the client connects.
    /// A server on 127.0.0.1 is reachable only from this machine; on 0.0.0.0 (or ::), from
    /// every address the machine has.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// TCP port. A server given 0 lets the kernel pick a free one and prints it.
    #[arg(long, default_value_t = server::DEFAULT_PORT)]
    port: u16,

    /// Use a Unix domain socket at this path instead of TCP (local processes only).
    #[cfg(unix)]
    #[arg(long, value_name = "PATH", conflicts_with_all = ["host", "port"])]
    unix: Option<PathBuf>,
}

impl Target {
    /// The `--unix` path, if given (never, where Unix sockets do not exist).
    fn unix_path(&self) -> Option<&std::path::Path> {
        #[cfg(unix)]
        return self.unix.as_deref();
        #[cfg(not(unix))]
        None
    }
}

#[derive(Args)]
struct ServerArgs {
    #[command(flatten)]
    target: Target,

    /// listen() backlog: connections the kernel queues while we serve someone else.
    #[arg(long, default_value_t = server::DEFAULT_BACKLOG, value_parser = clap::value_parser!(i32).range(0..=65535))]
    backlog: i32,

    /// Bytes asked for in each recv (accepts K, M suffixes). Bigger means fewer system calls.
    #[arg(long, value_name = "BYTES", default_value = "1024", value_parser = parse_buf_size)]
    buf_size: usize,

    /// Do not set SO_REUSEADDR. After this server closes a connection first (Ctrl-C with a
    /// client connected, a --timeout drop), a restart on the same port then fails with
    /// "Address already in use" for about a minute (TIME_WAIT).
    #[arg(long)]
    no_reuseaddr: bool,

    /// Drop a client that sends nothing (or reads nothing) for this many seconds; 0 = never.
    #[arg(long, value_name = "SECS", default_value_t = server::DEFAULT_TIMEOUT.as_secs())]
    timeout: u64,
}

#[derive(Args)]
#[group(id = "job", multiple = false)]
struct ClientArgs {
    #[command(flatten)]
    target: Target,

    /// The message to send.
    #[arg(long, group = "job", default_value = client::DEFAULT_MESSAGE)]
    message: String,

    /// Send each line of standard input instead, one round trip per line.
    #[arg(long, group = "job")]
    stdin: bool,

    /// Stream this many bytes (e.g. 10M, 1G), verify every echoed byte, report MiB/s.
    #[arg(long, group = "job", value_name = "N", value_parser = common::text::parse_size)]
    bytes: Option<u64>,

    /// Time this many small round trips, one after another, and report latency.
    #[arg(long, group = "job", value_name = "N")]
    round_trips: Option<u64>,

    /// Bytes per round trip message.
    #[arg(long, value_name = "BYTES", default_value = "16", requires = "round_trips", value_parser = parse_buf_size)]
    size: usize,
}

/// `--buf-size` and `--size`: from 1 byte to [`server::MAX_BUF_SIZE`].
fn parse_buf_size(text: &str) -> Result<usize, String> {
    common::cli::size(1, server::MAX_BUF_SIZE, "")(text)
}

fn main() -> ExitCode {
    common::report::install_panic_hook();
    let cli = Cli::parse();
    let trace = cli.trace.start::<Cli>();
    let result = match cli.command {
        Command::Server(args) => {
            let config = Config {
                backlog: args.backlog,
                buf_size: args.buf_size,
                reuse_address: !args.no_reuseaddr,
                timeout: (args.timeout > 0).then(|| Duration::from_secs(args.timeout)),
                narrator: Narrator::new("server", trace),
            };
            match args.target.unix_path() {
                #[cfg(unix)]
                Some(path) => ch01_echo::unix::run_server(path, &config),
                _ => server::run(&args.target.host, args.target.port, config),
            }
        }
        Command::Client(args) => {
            let job = if args.stdin {
                client::Job::Stdin
            } else if let Some(total) = args.bytes {
                client::Job::Bulk(total)
            } else if let Some(count) = args.round_trips {
                client::Job::RoundTrips { count, size: args.size }
            } else {
                client::Job::Message(args.message)
            };
            let n = Narrator::new("client", trace);
            match args.target.unix_path() {
                #[cfg(unix)]
                Some(path) => client::run_unix(path, job, n),
                _ => client::run(&args.target.host, args.target.port, job, n),
            }
        }
        Command::Demo => demo::run(),
    };
    common::report::exit_code(result)
}
