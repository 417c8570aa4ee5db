//! Chapter 05: HTTP on the wire, from the tutorial's fixed "hello world" to a static-file
//! server that can replace `python3 -m http.server`.
//!
//! Run a server in one terminal and a browser or curl in another:
//!
//! ```text
//! cargo run -p ch05-http-server -- hello               # listening on 127.0.0.1:9990
//! curl -v http://127.0.0.1:9990/                       # the fixed response
//! cargo run -p ch05-http-server -- hello --broken      # the body alone: watch curl refuse it
//! cargo run -p ch05-http-server -- serve docs/book     # a folder, like python3 -m http.server
//! ```
//!
//! or watch a server and a small client in one process, narrated:
//! `cargo run -p ch05-http-server -- demo`. This file is only the command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use ch05_http_server::config::{self, Limits};
use ch05_http_server::{demo, hello, server};
use clap::{Args, Parser, Subcommand};
use common::cli::{count, seconds, size};
use common::narrate::{Narrator, TraceArgs};

/// HTTP on the wire: a fixed hello, then a static-file server.
/// The longest timeout a flag takes, in seconds: a day. Anything longer is a typo, and a
/// deadline that far away is no deadline.
const MAX_SECONDS: f64 = 86_400.0;
/// The smallest `--max-head`: a request line and a `Host` header barely fit.
const SMALLEST_HEAD: usize = 64;
/// The largest `--max-head`, 1 MiB: the head buffer is allocated whole for every connection.
const LARGEST_HEAD: usize = 1 << 20;

#[derive(Parser)]
#[command(
    name = "05-http-server",
    version,
    long_about = "HTTP is text over a TCP connection: a request head, a response head, a blank \
                  line, a body. `hello` sends the tutorial's one fixed response (and, with \
                  --broken, the body alone, which clients refuse). `serve` is a static-file \
                  server with python3 -m http.server's flags: GET and HEAD, directory listings, \
                  keep-alive, ranges, 304s, limits and timeouts for hostile clients.\n\n\
                  This chapter's programs are two servers, not a server and a client: use a \
                  browser, curl, or chapter 06's client against them. `05-http-server demo` runs \
                  the file server with a small built-in client, narrated.",
    after_help = "Examples:\n  \
                  05-http-server hello                          then: curl -v http://127.0.0.1:9990/\n  \
                  05-http-server hello --broken --trace         the body alone; every byte shown\n  \
                  05-http-server serve                          the current folder on 127.0.0.1:9990\n  \
                  05-http-server serve --step --kernel          pause at each call; show the kernel's view\n  \
                  05-http-server serve -b :: -p 8000 -d site    every address, IPv6 and IPv4\n  \
                  05-http-server demo                           server and client in one process"
)]
struct Cli {
    // --trace, --step and --kernel; with `hello`, --trace shows every byte read and written too.
    #[command(flatten)]
    trace: TraceArgs,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The tutorial's server: the same fixed "hello world" response to every request.
    Hello(HelloArgs),
    /// Serve a folder's files over HTTP, like `python3 -m http.server`.
    Serve(ServeArgs),
    /// The file server and a small client in one process, on a free port, narrated.
    Demo,
}

#[derive(Args)]
struct Address {
    /// IP address or host name to listen on (0.0.0.0 or :: = every address of this machine).
    #[arg(
        long = "host",
        short = 'b',
        visible_alias = "bind",
        value_name = "ADDR",
        default_value = "127.0.0.1"
    )]
    host: String,

    /// TCP port. 0 lets the kernel pick a free one and prints it.
    #[arg(long, short = 'p', default_value_t = config::DEFAULT_PORT)]
    port: u16,
}

#[derive(Args)]
struct HelloArgs {
    #[command(flatten)]
    address: Address,

    /// Send the body alone, without status line and headers, as the tutorial's first try did.
    #[arg(long)]
    broken: bool,
}

#[derive(Args)]
struct ServeArgs {
    /// The folder to serve.
    #[arg(value_name = "DIR", conflicts_with = "directory", value_parser = folder)]
    dir: Option<PathBuf>,

    /// The folder to serve (Python's spelling); default: the current folder.
    #[arg(long, short = 'd', value_name = "DIR")]
    directory: Option<PathBuf>,

    #[command(flatten)]
    address: Address,

    /// Also serve files whose real path is outside the folder, through symlinks (Python's
    /// http.server always does).
    #[arg(long)]
    follow_symlinks: bool,

    /// No access log.
    #[arg(long, short)]
    quiet: bool,

    /// Largest request head (request line + headers); more is 414 or 431.
    #[arg(long, value_name = "BYTES", default_value = "8K", value_parser = size(SMALLEST_HEAD, LARGEST_HEAD, ""))]
    max_head: usize,

    /// Most header lines in a request; more is 431.
    #[arg(long, value_name = "N", default_value_t = config::MAX_HEADERS, value_parser = count(1000))]
    max_headers: usize,

    /// Seconds a request head may take to arrive, once it has started (408 after).
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = seconds(0.0, MAX_SECONDS))]
    header_timeout: Duration,

    /// Seconds an open connection may wait idle for its next request.
    #[arg(long, value_name = "SECS", default_value = "15", value_parser = seconds(0.0, MAX_SECONDS))]
    keep_alive_timeout: Duration,

    /// Seconds a response may wait for a client that reads nothing; also the fixed part of
    /// every response's deadline (see --min-send-rate).
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = seconds(0.0, MAX_SECONDS))]
    send_timeout: Duration,

    /// Slowest reader served, in bytes per second: a response of N bytes must be sent within
    /// --send-timeout + N / RATE seconds, or the connection is cut.
    #[arg(long, value_name = "BYTES", default_value = "64K", value_parser = rate)]
    min_send_rate: u64,

    /// Connections served at once (a thread each); one more gets 503.
    #[arg(long, value_name = "N", default_value_t = config::MAX_CONNECTIONS, value_parser = count(100_000))]
    max_connections: usize,

    /// Largest request body read and dropped to keep a connection; more is 413.
    #[arg(long, value_name = "BYTES", default_value = "64K", value_parser = common::text::parse_size)]
    max_body: u64,

    /// listen() backlog: finished handshakes the kernel queues before we accept them.
    #[arg(long, default_value_t = config::DEFAULT_BACKLOG, value_parser = clap::value_parser!(i32).range(1..=65535))]
    backlog: i32,
}

/// The folder argument. `python3 -m http.server 8000` takes a *port* there, so `serve 8000`
/// is a habit worth catching: a number that is not a folder is a usage error that says what
/// to type. A folder really named `8000` is still served.
fn folder(text: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(text);
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && !path.is_dir() {
        return Err(format!(
            "no folder `{text}` here: the positional argument is the folder to serve\n\n\
             hint: to listen on port {text}, use `-p {text}` (python3 -m http.server takes \
             the port there)"
        ));
    }
    Ok(path)
}

/// `--min-send-rate`: any number of bytes per second but 0. Not `common::cli::size`, which
/// names an upper bound in its message: a rate has none worth naming (the faster the slowest
/// reader we serve, the stricter the deadline).
fn rate(text: &str) -> Result<u64, String> {
    match common::text::parse_size(text)? {
        0 => Err("must be at least 1 byte per second".into()),
        rate => Ok(rate),
    }
}

fn main() -> ExitCode {
    common::report::install_panic_hook();
    let cli = Cli::parse();
    // The demo narrates whether or not --trace is given; --step and --kernel apply to it too.
    let trace = cli.trace.start::<Cli>();
    let result = match cli.command {
        Command::Hello(args) => hello::run(&hello::Config {
            host: args.address.host,
            port: args.address.port,
            broken: args.broken,
            narrator: Narrator::new("server", trace),
        }),
        Command::Serve(args) => server::run(config::Config {
            host: args.address.host,
            port: args.address.port,
            root: args.dir.or(args.directory).unwrap_or_else(|| PathBuf::from(".")),
            follow_symlinks: args.follow_symlinks,
            quiet: args.quiet,
            backlog: args.backlog,
            limits: Limits {
                max_head: args.max_head,
                max_headers: args.max_headers,
                header_timeout: args.header_timeout,
                keep_alive_timeout: args.keep_alive_timeout,
                send_timeout: args.send_timeout,
                min_send_rate: args.min_send_rate,
                max_connections: args.max_connections,
                max_body: args.max_body,
            },
            narrator: Narrator::new("server", trace),
        }),
        Command::Demo => demo::run(),
    };
    common::report::exit_code(result)
}
