//! Chapter 03: a long-lived, full-duplex chat with a framed protocol and a real line editor.
//!
//! Run the server in one terminal and a client in each of two others:
//!
//! ```text
//! cargo run -p ch03-long-chat -- server                  # listening on 127.0.0.1:9998
//! cargo run -p ch03-long-chat -- client --name alice
//! cargo run -p ch03-long-chat -- client --name bob
//! ```
//!
//! or chat with the server's operator, as in the tutorial: `server --one-to-one`. Watch it all
//! in one process, narrated: `cargo run -p ch03-long-chat -- demo`.
//! This file is only the command line; the sockets are in `room.rs`, `one_to_one.rs` and
//! `client.rs`, the wire format in `frame.rs`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use ch03_long_chat::config::{self, Config, Mode};
use ch03_long_chat::console::History;
use ch03_long_chat::liveness::{self, Liveness};
use ch03_long_chat::{bench, client, demo, server};
use clap::{Args, CommandFactory, Parser, Subcommand};
use common::narrate::{Narrator, TraceArgs};

/// The largest `--max-clients` (and bench `--clients`): far more than one event loop's chat
/// room needs, and a bound on what a typo can ask for.
const MAX_COUNT: usize = 100_000;
/// The shortest `--heartbeat` and `--peer-timeout`: 10 ms, so tests can use fractions of a second.
const MIN_SECS: f64 = 0.01;
/// The longest `--heartbeat` and `--peer-timeout`: a day.
const MAX_SECS: f64 = 86_400.0;

/// A long-lived chat: framed messages, full duplex, a prompt that survives incoming lines.
#[derive(Parser)]
#[command(
    name = "03-long-chat",
    version,
    long_about = "A chat over one long-lived TCP connection per client. Messages travel in \
                  frames (a 4-byte big-endian length, a kind byte, UTF-8 text), so TCP's byte \
                  stream never glues two messages together or splits one. Either side can type \
                  at any time; incoming lines appear above your prompt.\n\n\
                  Run `03-long-chat server` in one terminal and `03-long-chat client` in two \
                  others, or `03-long-chat demo` to watch a room, narrated.",
    after_help = "At the client's prompt: /nick NAME, /who, /quit (or `exit`, Ctrl-D, Ctrl-C).\n\n\
                  Examples:\n  \
                  03-long-chat server --trace                 narrate socket calls and frames\n  \
                  03-long-chat server --step --kernel         pause at each call; show the kernel's view\n  \
                  03-long-chat server --one-to-one            chat with one client yourself\n  \
                  03-long-chat client --name alice\n  \
                  printf 'hi\\nexit\\n' | 03-long-chat client   plain lines when not a terminal"
)]
struct Cli {
    #[command(flatten)]
    trace: TraceArgs,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a chat room (or, with --one-to-one, chat with one client yourself).
    Server(ServerArgs),
    /// Join a chat: type lines, read everyone else's.
    Client(ClientArgs),
    /// A room and three scripted clients in one process, narrated.
    Demo,
    /// Load generator for scripts/bench/03-long-chat.sh.
    #[command(hide = true)]
    Bench(BenchArgs),
}

/// Heartbeat and keepalive flags, shared by server and client.
#[derive(Args)]
struct LivenessArgs {
    /// Send a PING after this many seconds without hearing from the peer.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = common::cli::seconds(MIN_SECS, MAX_SECS))]
    heartbeat: Duration,

    /// Give up on a peer silent for this many seconds (the heartbeat timeout).
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = common::cli::seconds(MIN_SECS, MAX_SECS))]
    peer_timeout: Duration,

    /// TCP keepalive: the kernel probes a connection idle this many seconds (0 = off).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    keepalive: u64,
}

impl LivenessArgs {
    /// The settings; exits with clap's usage error (2) when they contradict each other.
    fn liveness(&self) -> Liveness {
        // A peer declared gone before the first PING is even sent could never prove it is
        // alive: every quiet but healthy peer would be dropped.
        if self.peer_timeout < self.heartbeat {
            Cli::command()
                .error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!(
                        "--peer-timeout ({}) is shorter than --heartbeat ({}): a quiet peer \
                         would be dropped before it is ever asked to answer a PING",
                        liveness::secs(self.peer_timeout),
                        liveness::secs(self.heartbeat)
                    ),
                )
                .exit();
        }
        Liveness {
            heartbeat: self.heartbeat,
            peer_timeout: self.peer_timeout,
            keepalive: (self.keepalive > 0).then(|| Duration::from_secs(self.keepalive)),
        }
    }
}

#[derive(Args)]
struct ServerArgs {
    /// IP address or host name to listen on (0.0.0.0 or :: = every address of this machine).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// TCP port. 0 lets the kernel pick a free one and prints it.
    #[arg(long, default_value_t = config::DEFAULT_PORT)]
    port: u16,

    /// Chat with one client yourself, as in the tutorial, instead of running a room.
    #[arg(long)]
    one_to_one: bool,

    /// Your name in one-to-one mode.
    #[arg(long, default_value = "server", requires = "one_to_one", value_parser = name)]
    name: String,

    /// Clients in the room at once; more are told the room is full.
    #[arg(long, value_name = "N", default_value_t = config::DEFAULT_MAX_CLIENTS, value_parser = common::cli::count(MAX_COUNT))]
    max_clients: usize,

    /// One-to-one mode: keep no history of what you type.
    #[arg(long)]
    no_history: bool,

    #[command(flatten)]
    liveness: LivenessArgs,
}

#[derive(Args)]
struct ClientArgs {
    /// The server's IP address or host name.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The server's port.
    #[arg(long, default_value_t = config::DEFAULT_PORT)]
    port: u16,

    /// The name to ask for (the server picks guestN if you give none or it is taken).
    #[arg(long, value_parser = name)]
    name: Option<String>,

    /// Keep no history of typed lines.
    #[arg(long, conflicts_with = "history")]
    no_history: bool,

    /// The history file (default: 03-long-chat-history.txt in your state/data folder).
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,

    #[command(flatten)]
    liveness: LivenessArgs,
}

#[derive(Args)]
struct BenchArgs {
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long)]
    port: u16,
    #[arg(long, default_value_t = 100, value_parser = common::cli::count(MAX_COUNT))]
    clients: usize,
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    rate: u32,
    #[arg(long, value_name = "SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    duration: u64,
    #[arg(long, default_value_t = 0)]
    never_read: usize,
    #[arg(long, default_value_t = 32)]
    size: usize,
}

fn name(text: &str) -> Result<String, String> {
    if ch03_long_chat::frame::valid_name(text) {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "`{text}` is not a name: 1 to {} letters, digits, - _ .",
            ch03_long_chat::frame::MAX_NAME_LEN
        ))
    }
}

/// `--step` and the line editor cannot share a terminal: both would read it (the step prompt
/// from `/dev/tty`, rustyline from stdin, in raw mode), and each Enter would go to whichever
/// read first, so a typed chat line could answer a prompt and an Enter meant for the prompt
/// could send an empty line. Rather than a prompt that sometimes swallows what is typed, the
/// client (and the one-to-one server, which has the same editor) refuse `--step` while stdin is
/// a terminal: piped lines (`printf 'hi\n' | 03-long-chat client --step`) leave the terminal to
/// the prompts. A room server has no editor, and steps in any terminal.
fn refuse_step_with_an_editor(cli: &Cli) {
    let edits = match &cli.command {
        Command::Client(_) => true,
        Command::Server(args) => args.one_to_one,
        Command::Demo | Command::Bench(_) => false,
    };
    if cli.trace.step && edits && std::io::stdin().is_terminal() {
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "--step pauses for Enter on this terminal, where the chat's line editor reads \
                 too: pipe the chat's lines in instead (printf 'hi\\n' | 03-long-chat client \
                 --step), or step the room server and chat from another terminal",
            )
            .exit();
    }
}

fn main() -> ExitCode {
    common::report::install_panic_hook();
    let cli = Cli::parse();
    refuse_step_with_an_editor(&cli);
    let trace = cli.trace.start::<Cli>();
    let result = match cli.command {
        Command::Server(args) => server::run(Config {
            host: args.host,
            port: args.port,
            mode: if args.one_to_one { Mode::OneToOne } else { Mode::Room },
            max_clients: args.max_clients,
            liveness: args.liveness.liveness(),
            name: args.name,
            no_history: args.no_history,
            narrator: Narrator::new("server", trace),
        }),
        Command::Client(args) => client::run(&client::Options {
            host: args.host,
            port: args.port,
            // An empty name asks the server to pick one.
            name: args.name.unwrap_or_default(),
            liveness: args.liveness.liveness(),
            history: match (args.no_history, args.history) {
                (true, _) => History::Off,
                (false, Some(file)) => History::File(file),
                (false, None) => History::default_file(),
            },
            narrator: Narrator::new("client", trace),
        }),
        Command::Demo => demo::run(),
        Command::Bench(args) => bench::run(&bench::Load {
            host: args.host,
            port: args.port,
            clients: args.clients,
            rate: args.rate,
            duration: Duration::from_secs(args.duration),
            never_read: args.never_read,
            size: args.size,
        }),
    };
    common::report::exit_code(result)
}
