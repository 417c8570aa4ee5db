//! Chapter 06: a small curl that shows the wire.
//!
//! ```text
//! cargo run -p ch06-http-client -- -v http://127.0.0.1:8000/            # every header line
//! cargo run -p ch06-http-client -- -L -d 'a=1' http://127.0.0.1:8000/post
//! cargo run -p ch06-http-client -- http://127.0.0.1:8000/a http://127.0.0.1:8000/b   # one connection
//! ```
//!
//! or watch it all against a server in the same process: `cargo run -p ch06-http-client -- demo`.
//!
//! The command line copies curl's, not the workspace's `server`/`client` shape: this chapter is
//! a client for servers that already exist, and curl's flags are the ones a student already
//! meets in every HTTP tutorial, so `-v` output can be compared with curl's line by line.
//! This file is only the command line; the protocol is in `request.rs`, `response.rs`, `body.rs`
//! and `client.rs`.

use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use ch06_http_client::client;
use ch06_http_client::connect::Family;
use ch06_http_client::demo;
use ch06_http_client::error::{Kind, fail_because, kind_of};
use ch06_http_client::options::{self, Options};
use ch06_http_client::request::{self, Body};
use ch06_http_client::target::Target;
use ch06_http_client::tls::Trust;
use ch06_http_client::wire::Wire;
use clap::{Args, Parser, Subcommand};
use common::narrate::{Narrator, TraceArgs};

/// One day: the longest `--connect-timeout`, `--max-time` or `--idle-timeout`, so a typo
/// (`-m 36000000`) is caught rather than waited out.
const MAX_SECONDS: f64 = 86_400.0;

/// A small curl that shows the wire: HTTP/1.1 written and read by hand.
#[derive(Parser)]
#[command(
    name = "06-http-client",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    long_about = "A small curl: fetches URLs over HTTP/1.1 (and https, through rustls), with \
                  curl's flags. -v shows the conversation: `*` for what the client does, `>` \
                  for each request line sent, `<` for each response line received. Several \
                  URLs on the same host share one keep-alive connection.\n\n\
                  `06-http-client demo` starts a tiny server in the process and fetches from it.",
    after_help = "Examples:\n  \
                  06-http-client -v http://127.0.0.1:8000/\n  \
                  06-http-client --step --kernel http://127.0.0.1:8000/   pause at each call\n  \
                  06-http-client -i -H 'Accept: text/plain' http://[::1]:8000/\n  \
                  06-http-client -d 'name=ada' -L http://127.0.0.1:8000/post\n  \
                  06-http-client --json '{\"a\":1}' http://127.0.0.1:8000/post\n  \
                  06-http-client -o big.iso --max-filesize 2G https://example.org/big.iso\n\n\
                  Exit codes (curl's numbers): 0 ok, 1 other error, 2 usage, 3 malformed URL, \
                  6 could not resolve, 7 could not connect, 8 bad HTTP from the server, 18 body \
                  cut short, 22 HTTP >= 400 with --fail, 23 could not write output (or binary \
                  to a terminal), 28 timeout, 35 TLS handshake, 47 too many redirects or a \
                  loop, 55 failure sending, 56 failure receiving (reset), 60 certificate not \
                  verified, 63 body larger than --max-filesize."
)]
struct Cli {
    /// `--trace`, `--step` and `--kernel`, for fetches and the demo alike.
    #[command(flatten)]
    trace: TraceArgs,

    #[command(subcommand)]
    command: Option<Command>,

    #[command(flatten)]
    fetch: FetchArgs,
}

#[derive(Subcommand)]
enum Command {
    /// A tiny HTTP server in this process, and the client fetching from it with -v (the
    /// server's calls are always narrated; --trace adds the client's).
    Demo,
}

#[derive(Args)]
struct FetchArgs {
    /// The URLs to fetch, in order (http:// or https://; no scheme means http://).
    // Parsed after clap, not by it: a malformed URL is curl's exit 3, not a usage error (2).
    #[arg(required = true, value_name = "URL")]
    urls: Vec<String>,

    /// The request method (default GET, or POST with a body, HEAD with -I).
    #[arg(short = 'X', long = "request", value_name = "METHOD", value_parser = method)]
    method: Option<String>,

    /// Send HEAD and print only the response head.
    #[arg(short = 'I', long = "head", conflicts_with_all = ["data", "data_binary", "json"])]
    head: bool,

    /// Add a header (`Name: value`), remove one of ours (`Name:`), or send one empty (`Name;`).
    #[arg(short = 'H', long = "header", value_name = "LINE", value_parser = request::parse_header_arg)]
    headers: Vec<(String, Option<String>)>,

    /// POST this form data (`@FILE` reads it, minus line breaks); repeated values join with &.
    #[arg(short = 'd', long = "data", value_name = "DATA")]
    data: Vec<String>,

    /// POST this data exactly as given (`@FILE` reads the file's bytes).
    #[arg(long = "data-binary", value_name = "DATA")]
    data_binary: Vec<String>,

    /// POST this JSON (`@FILE` reads it), with Content-Type and Accept set to application/json.
    #[arg(long, value_name = "JSON", conflicts_with_all = ["data", "data_binary"])]
    json: Vec<String>,

    /// Write the body to FILE instead of stdout (repeat it for each URL, in order); `-` is
    /// stdout, binary or not.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    outputs: Vec<PathBuf>,

    /// Print the response head before the body.
    #[arg(short = 'i', long = "include")]
    include: bool,

    /// No progress bar and no warnings (errors still print, as with curl -sS).
    #[arg(short = 's', long)]
    silent: bool,

    /// Show the conversation on stderr: `*` actions, `>` request lines, `<` response lines.
    #[arg(short = 'v', long)]
    verbose: bool,

    /// Write every byte sent and received to FILE (`-` = stderr), as offset + text rows.
    #[arg(long = "trace-ascii", value_name = "FILE")]
    trace_ascii: Option<PathBuf>,

    /// Follow redirects (301, 302, 303, 307, 308).
    #[arg(short = 'L', long = "location")]
    follow: bool,

    /// With -L: the most redirects to follow.
    #[arg(long, value_name = "N", default_value_t = options::DEFAULT_MAX_REDIRS)]
    max_redirs: u32,

    /// Treat an HTTP status of 400 or more as an error (exit 22), without printing the body.
    #[arg(short = 'f', long)]
    fail: bool,

    /// Refuse bodies larger than this (like 10M, 1G): exit 63.
    #[arg(long, value_name = "SIZE", value_parser = common::text::parse_size)]
    max_filesize: Option<u64>,

    /// Use IPv4 addresses only.
    #[arg(short = '4', long = "ipv4", conflicts_with = "ipv6")]
    ipv4: bool,

    /// Use IPv6 addresses only.
    #[arg(short = '6', long = "ipv6")]
    ipv6: bool,

    /// Seconds to wait for each connect and TLS handshake.
    #[arg(long, value_name = "SECS", value_parser = common::cli::seconds(0.0, MAX_SECONDS), default_value = "10")]
    connect_timeout: Duration,

    /// Seconds the whole run may take.
    #[arg(short = 'm', long, value_name = "SECS", value_parser = common::cli::seconds(0.0, MAX_SECONDS))]
    max_time: Option<Duration>,

    /// Seconds of silence from the server before giving up (not a curl flag).
    #[arg(long, value_name = "SECS", value_parser = common::cli::seconds(0.0, MAX_SECONDS), default_value = "30")]
    idle_timeout: Duration,

    /// Trust only the CA certificates in this PEM file for https.
    #[arg(long, value_name = "FILE")]
    cacert: Option<PathBuf>,

    /// Do not verify the server's certificate (encrypted, but not authenticated).
    #[arg(short = 'k', long, conflicts_with = "cacert")]
    insecure: bool,
}

fn method(text: &str) -> Result<String, String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if !text.is_empty() && text.chars().all(token) {
        Ok(text.to_owned())
    } else {
        Err(format!("`{text}` is not an HTTP method"))
    }
}

/// `DATA`, or the contents of FILE for `@FILE`.
fn data_arg(text: &str, strip_newlines: bool) -> anyhow::Result<Vec<u8>> {
    let Some(path) = text.strip_prefix('@') else { return Ok(text.as_bytes().to_vec()) };
    let mut data = fs::read(path)
        .map_err(|e| fail_because(Kind::Other, format!("could not read {path}"), e))?;
    if strip_newlines {
        data.retain(|&b| b != b'\r' && b != b'\n');
    }
    Ok(data)
}

fn options(args: FetchArgs, narrated: bool) -> anyhow::Result<(Options, Wire)> {
    let urls = args.urls.iter().map(|text| Target::parse(text)).collect::<anyhow::Result<_>>()?;
    let mut options = Options::new(urls);
    let body = if !args.json.is_empty() {
        let mut data = Vec::new();
        for part in &args.json {
            data.extend(data_arg(part, false)?);
        }
        options.accept = "application/json".into();
        Some(Body { data, content_type: "application/json" })
    } else if !args.data.is_empty() || !args.data_binary.is_empty() {
        let mut parts = Vec::new();
        for part in &args.data {
            parts.push(data_arg(part, true)?);
        }
        for part in &args.data_binary {
            parts.push(data_arg(part, false)?);
        }
        Some(Body { data: parts.join(&b'&'), content_type: "application/x-www-form-urlencoded" })
    } else {
        None
    };
    options.request.method = match (&args.method, args.head, &body) {
        (Some(method), _, _) => method.clone(),
        (None, true, _) => "HEAD".into(),
        (None, false, Some(_)) => "POST".into(),
        (None, false, None) => "GET".into(),
    };
    options.request.body = body;
    options.request.headers = args.headers;
    options.outputs = args.outputs;
    options.include_head = args.include;
    options.silent = args.silent;
    options.follow = args.follow;
    options.max_redirs = args.max_redirs;
    options.fail_on_error = args.fail;
    options.max_filesize = args.max_filesize;
    options.family = match (args.ipv4, args.ipv6) {
        (true, _) => Family::V4,
        (_, true) => Family::V6,
        _ => Family::Any,
    };
    options.connect_timeout = args.connect_timeout;
    options.max_time = args.max_time;
    options.idle_timeout = args.idle_timeout;
    options.trust = match (args.insecure, args.cacert) {
        (true, _) => Trust::Insecure,
        (false, Some(path)) => Trust::CaFile(path),
        (false, None) => Trust::WebPkiRoots,
    };
    let trace: Option<Box<dyn Write>> = match &args.trace_ascii {
        None => None,
        Some(path) if path.as_os_str() == "-" => Some(Box::new(std::io::stderr())),
        Some(path) => Some(Box::new(fs::File::create(path).map_err(|e| {
            fail_because(Kind::Write, format!("could not create {}", path.display()), e)
        })?)),
    };
    let wire = Wire::new(args.verbose, Narrator::new("client", narrated), trace);
    Ok((options, wire))
}

/// One line that teaches, per kind of failure, chosen by the kind first (the same OS error
/// means different things for a socket and for the `-o` file) and by the OS error second.
fn hint(kind: Kind, err: &anyhow::Error) -> Option<&'static str> {
    use std::io::ErrorKind as Io;
    let io_kind = err.chain().find_map(|c| c.downcast_ref::<std::io::Error>()).map(|e| e.kind());
    Some(match (kind, io_kind) {
        (Kind::Malformed, _) => {
            "a URL is [http[s]://]HOST[:PORT][/PATH]: the port is a number from 1 to 65535 (or \
             empty, for the default), and an IPv6 address goes in brackets: http://[::1]:8000/"
        }
        (Kind::Resolve, _) => {
            "the name did not resolve: check its spelling; `getent hosts NAME` asks the same resolver"
        }
        (Kind::Certificate, _) => {
            "no CA we trust signed the server's certificate, or it is for another name: \
             --cacert FILE trusts a local CA; -k skips the check (and its protection)"
        }
        (Kind::Tls, _) => {
            "the server stopped the TLS handshake: is it speaking TLS on that port (http:// if \
             not)? -v shows how far the handshake got"
        }
        (Kind::Timeout, _) => "--max-time, --connect-timeout and --idle-timeout set the limits",
        (Kind::Connect, Some(Io::ConnectionRefused)) => {
            "nothing is listening on that address and port (its kernel answered our SYN with a \
             reset): is the server running, and is the port right?"
        }
        (Kind::Send, _) => {
            "the server closed or reset the connection while the request was still going out \
             (some servers refuse a body they do not want that way); -v shows how far it got"
        }
        (Kind::Recv, _) => {
            "the server's kernel sent a TCP reset: the server crashed, or closed the socket \
             with our data still unread; -v shows how far the exchange got"
        }
        (Kind::Write, Some(Io::BrokenPipe)) => {
            "the program reading our standard output (`| head`, a closed pipe) stopped reading \
             before the body ended"
        }
        (Kind::Write, Some(Io::NotFound)) => "the folder of the -o file does not exist",
        (Kind::Write, Some(Io::PermissionDenied)) => {
            "no permission to write that file: pick a path in a folder you own"
        }
        (Kind::Other, Some(Io::NotFound)) => {
            "no file at that path (an @FILE path is relative to the current folder)"
        }
        (Kind::Redirects, _) => "--max-redirs N raises the limit; -v shows each hop",
        (Kind::FileSize, _) => "--max-filesize SIZE raises the limit",
        // The workspace's socket hints fit only failures of the socket itself.
        (Kind::Connect, _) => return common::report::hint_for(err),
        _ => return None,
    })
}

fn main() -> ExitCode {
    common::report::install_panic_hook();
    let cli = Cli::parse();
    let trace = cli.trace.start::<Cli>();
    let result = match cli.command {
        Some(Command::Demo) => demo::run(trace),
        None => options(cli.fetch, trace).and_then(|(options, wire)| client::run(options, wire)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let kind = kind_of(&err);
            eprintln!("error: {err:#}");
            if let Some(hint) = hint(kind, &err) {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(kind.exit_code())
        }
    }
}
