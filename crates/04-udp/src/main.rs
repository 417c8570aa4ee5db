//! Chapter 04: UDP, datagrams without connections.
//!
//! Run the server in one terminal and the client in another:
//!
//! ```text
//! cargo run -p ch04-udp -- server             # listening on 127.0.0.1:5005
//! cargo run -p ch04-udp -- client             # the tutorial's 100 numbered messages
//! cargo run -p ch04-udp -- client ping        # loss, duplicates, reordering, RTT
//! ```
//!
//! or watch both in one process, narrated: `cargo run -p ch04-udp -- demo`.
//! This file is only the command line; the sockets are in `server.rs` and `client.rs`.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ch04_udp::client::{self, Target, UdpClient};
use ch04_udp::netsim::Impairments;
use ch04_udp::{demo, server, shared};
use clap::{Args, Parser, Subcommand, ValueEnum};
use common::narrate::{Narrator, TraceArgs};

/// The largest `--rcvbuf` to ask for: `SO_RCVBUF` is a C `int`.
const MAX_RCVBUF: usize = 0x7fff_ffff;

/// A UDP server and client: datagrams, loss, and what "unreliable" looks like.
#[derive(Parser)]
#[command(
    name = "04-udp",
    version,
    long_about = "UDP sends datagrams: each arrives whole or not at all, maybe twice, maybe out \
                  of order, and nobody tells the sender. There is no connection: no listen(), no \
                  accept(); a server just bind()s and answers each recvfrom() with a sendto().\n\n\
                  Run `04-udp server` in one terminal and `04-udp client` in another, or \
                  `04-udp demo` to watch both, narrated.",
    after_help = "Examples:\n  \
                  04-udp server --reply over             answer every datagram with b'over'\n  \
                  04-udp server --step --kernel          pause at each call; show the receive queue\n  \
                  04-udp server --drop 0.3 --seed 7      lose 30% of datagrams, the same ones each run\n  \
                  04-udp client ping --count 20          ping(8)-style loss, duplicates, RTT\n  \
                  04-udp server -q                       quiet: printing each datagram would slow it\n  \
                  04-udp client blast --count 200000     then overflow its receive buffer\n  \
                  04-udp client --connect --port 9       connected UDP hears 'Connection refused'"
)]
struct Cli {
    #[command(flatten)]
    trace: TraceArgs,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Bind a UDP port and answer every datagram (echo, or the tutorial's "over").
    Server(ServerArgs),
    /// Send datagrams to a server: the tutorial's messages, or ping, blast, rtt.
    Client(ClientArgs),
    /// Server and clients in one process on a free port, narrated.
    Demo,
}

#[derive(Args)]
struct ServerArgs {
    /// IP address or host name to bind (0.0.0.0 or :: = every address of this machine).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// UDP port. 0 lets the kernel pick a free one and prints it.
    #[arg(long, default_value_t = server::DEFAULT_PORT)]
    port: u16,

    /// What to send back for each datagram.
    #[arg(long, value_enum, default_value_t = ReplyArg::Echo)]
    reply: ReplyArg,

    /// Bytes kept of each datagram (K, M suffixes); a larger datagram is truncated.
    #[arg(long, value_name = "BYTES", default_value = "65535", value_parser = common::cli::size(1, server::DEFAULT_BUF_SIZE, " (the largest UDP datagram)"))]
    buf_size: usize,

    /// Ask for this SO_RCVBUF (the kernel's queue of unread datagrams); prints what it granted.
    #[arg(long, value_name = "BYTES", value_parser = common::cli::size(1, MAX_RCVBUF, ""))]
    rcvbuf: Option<usize>,

    /// Simulate loss: drop this fraction of datagrams (0.0 to 1.0) without replying.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = common::cli::probability)]
    drop: f64,

    /// Simulate duplication: send this fraction of replies twice.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = common::cli::probability)]
    duplicate: f64,

    /// Simulate a slow network: wait this long before each reply.
    #[arg(long, value_name = "MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    delay: u64,

    /// Add a random extra wait of up to this long to each reply, so replies can reorder.
    #[arg(long, value_name = "MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    jitter: u64,

    /// Seed for the simulated network, so a run can be repeated exactly (default: random).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,

    /// Do not print each datagram (for load tests).
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum ReplyArg {
    /// Send the datagram back unchanged.
    Echo,
    /// Send b'over', like the tutorial's server.
    Over,
}

#[derive(Args)]
struct ClientArgs {
    /// The server's IP address or host name.
    #[arg(long, global = true, default_value = "127.0.0.1")]
    host: String,

    /// The server's UDP port.
    #[arg(long, global = true, default_value_t = server::DEFAULT_PORT)]
    port: u16,

    /// connect() the UDP socket first: only the server's datagrams are accepted, and ICMP
    /// errors (port unreachable) come back as "Connection refused".
    #[arg(long, global = true)]
    connect: bool,

    /// Set SO_BROADCAST, which sending to a broadcast address requires.
    #[arg(long, global = true)]
    broadcast: bool,

    /// Milliseconds to wait for a reply before counting it lost.
    #[arg(long, global = true, value_name = "MS", default_value_t = client::DEFAULT_TIMEOUT.as_millis() as u64,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    timeout: u64,

    #[command(subcommand)]
    mode: Option<Mode>,
}

#[derive(Subcommand)]
enum Mode {
    /// The tutorial's client: numbered messages, one reply awaited after each (the default).
    Messages {
        /// How many messages.
        #[arg(long, default_value_t = 100)]
        count: u32,
    },
    /// Probes at an interval, like ping(8): loss, duplicates, reordering, round-trip times.
    Ping {
        /// How many probes.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        count: u32,
        /// Milliseconds between probes (0 = all at once).
        #[arg(long, value_name = "MS", default_value_t = 100)]
        interval: u64,
        /// Bytes per probe: 16 (the header) to 65507 over IPv4, 65527 over IPv6.
        #[arg(long, default_value_t = 64, value_parser = probe_size)]
        size: usize,
    },
    /// Probes as fast as possible while counting what comes back: receive-buffer loss.
    Blast {
        /// How many probes.
        #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
        count: u32,
        /// Bytes per probe.
        #[arg(long, default_value_t = 64, value_parser = probe_size)]
        size: usize,
    },
    /// One probe at a time for a fixed time: round trips per second and latency.
    Rtt {
        /// Seconds to run (at most 60: every round-trip time is kept in memory).
        #[arg(long, value_name = "SECS", default_value_t = 5,
              value_parser = clap::value_parser!(u64).range(1..=client::MAX_RTT_DURATION.as_secs()))]
        duration: u64,
        /// Bytes per probe.
        #[arg(long, default_value_t = 64, value_parser = probe_size)]
        size: usize,
    },
}

fn probe_size(text: &str) -> Result<usize, String> {
    let size = common::text::parse_size(text)?;
    match usize::try_from(size) {
        Ok(size @ client::MIN_PROBE_SIZE..=client::MAX_PAYLOAD_V6) => Ok(size),
        _ => Err(format!(
            "must be between {} (the probe header) and {} bytes ({} over IPv4)",
            client::MIN_PROBE_SIZE,
            client::MAX_PAYLOAD_V6,
            client::MAX_PAYLOAD_V4
        )),
    }
}

fn run_server(args: ServerArgs, trace: bool) -> anyhow::Result<()> {
    // Without --seed, a fresh seed each run; the server prints it so a run can be repeated.
    let seed = args.seed.unwrap_or_else(|| {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
    });
    server::run(shared::Config {
        host: args.host,
        port: args.port,
        reply: match args.reply {
            ReplyArg::Echo => shared::Reply::Echo,
            ReplyArg::Over => shared::Reply::Over,
        },
        buf_size: args.buf_size,
        rcvbuf: args.rcvbuf,
        net: Impairments {
            drop: args.drop,
            duplicate: args.duplicate,
            delay: Duration::from_millis(args.delay),
            jitter: Duration::from_millis(args.jitter),
        },
        seed,
        quiet: args.quiet,
        narrator: Narrator::new("server", trace),
    })
}

fn run_client(args: ClientArgs, trace: bool) -> anyhow::Result<()> {
    let timeout = Duration::from_millis(args.timeout);
    let target = Target {
        host: args.host,
        port: args.port,
        connect: args.connect,
        broadcast: args.broadcast,
        timeout,
    };
    let udp = UdpClient::open(&target, Narrator::new("client", trace))?;
    match args.mode.unwrap_or(Mode::Messages { count: 100 }) {
        Mode::Messages { count } => client::messages(&udp, count, timeout),
        Mode::Ping { count, interval, size } => {
            client::ping(&udp, count, Duration::from_millis(interval), size, timeout)
        }
        Mode::Blast { count, size } => client::blast(&udp, count, size, timeout),
        Mode::Rtt { duration, size } => client::rtt(&udp, Duration::from_secs(duration), size),
    }
}

fn main() -> ExitCode {
    common::report::install_panic_hook();
    let cli = Cli::parse();
    // The demo narrates whether or not --trace is given; --step and --kernel apply to it too.
    let trace = cli.trace.start::<Cli>();
    let result = match cli.command {
        Command::Server(args) => run_server(args, trace),
        Command::Client(args) => run_client(args, trace),
        Command::Demo => demo::run(),
    };
    common::report::exit_code(result)
}
