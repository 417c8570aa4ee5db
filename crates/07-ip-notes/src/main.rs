//! Chapter 07: the IP address notes as experiments you can run.
//!
//! This chapter is not a client and a server: each subcommand shows one note on your own
//! machine. Start with the tour, then try the experiments one by one:
//!
//! ```text
//! cargo run -p ch07-ip-notes -- demo                      # the quick tour, loopback only
//! cargo run -p ch07-ip-notes -- classify 10.1.2.3/8 ::1   # what kind of address is it?
//! cargo run -p ch07-ip-notes -- bind-matrix --trace       # who can reach which listener?
//! sudo target/debug/07-ip-notes lab                       # the pc1/pc2 example, for real
//! sudo target/debug/07-ip-notes capture --port 65432     # the packets on the wire
//! ```
//!
//! This file is only the command line; each experiment is a module of the library.

use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::{Parser, Subcommand};
use common::narrate::TraceArgs;

use ch07_ip_notes::bind_matrix::{self, BindSpec};
use ch07_ip_notes::classify::{self, Input};
use ch07_ip_notes::sockets::{self, Proto};
use ch07_ip_notes::{
    backlog, capture, demo, interfaces, lab, resolve, reuseaddr, sockopts, special, watch,
};

/// The IP address notes as experiments: classes, special ranges, loopback vs 0.0.0.0, NAT,
/// TIME_WAIT, the backlog, DNS, and the socket table.
#[derive(Parser)]
#[command(
    name = "07-ip-notes",
    version,
    long_about = "The IP address notes as experiments you can run. Each subcommand shows one \
                  note on this machine: what kind of address something is (classify, special), \
                  which addresses the machine has (interfaces), which listener a connection can \
                  reach (bind-matrix, and lab for the two-machine example), TIME_WAIT and \
                  SO_REUSEADDR (reuseaddr), the accept queue (backlog), what a name resolves to \
                  (resolve), a fresh socket's options (sockopts), the socket table (sockets; \
                  watch shows it change) and the packets on the wire (capture).\n\n\
                  Start with `07-ip-notes demo`. Every experiment uses loopback addresses only, \
                  except `lab`, which builds its own network in two namespaces.",
    after_help = "Examples:\n  \
                  07-ip-notes classify 192.168.1.77/26 100.64.0.1 fe80::1\n  \
                  07-ip-notes classify --json 10.0.0.1 | jq .\n  \
                  07-ip-notes bind-matrix --trace\n  \
                  07-ip-notes backlog --step --kernel   pause at each call; show the kernel's view\n  \
                  07-ip-notes bind-matrix --bind ::+v6only --targets 127.0.0.1,::1\n  \
                  07-ip-notes sockets --state listen\n  \
                  sudo 07-ip-notes capture --port 65432\n  \
                  sudo 07-ip-notes lab"
)]
struct Cli {
    /// `--trace`, `--step` and `--kernel`, for the experiments that make socket calls.
    #[command(flatten)]
    trace: TraceArgs,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Classify addresses: historical class, special ranges and their RFCs, CIDR networks.
    Classify {
        /// Addresses, IPv4 or IPv6, optionally with a prefix length: 10.1.2.3/8, 2001:db8::/32.
        #[arg(required = true, value_name = "ADDR[/PREFIX]")]
        addresses: Vec<Input>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The table of special address forms ({0,0}, {-1,-1}, {net,-1}, {127,any}, ...).
    Special,
    /// This machine's interfaces: addresses, netmasks, broadcast addresses, flags.
    Interfaces {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Live: a listener per bind address, a connect() per target: who reaches whom?
    BindMatrix {
        /// Bind addresses, comma-separated; append +v6only to an IPv6 one to set IPV6_V6ONLY.
        #[arg(long, value_delimiter = ',', default_value = bind_matrix::DEFAULT_BINDS)]
        bind: Vec<BindSpec>,
        /// Addresses to connect to, comma-separated (each row's port is its own).
        #[arg(long, value_delimiter = ',', default_value = bind_matrix::DEFAULT_TARGETS)]
        targets: Vec<IpAddr>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The notes' pc1/pc2 example in two network namespaces (Linux, root, iproute2).
    Lab {
        /// Only delete namespaces left behind by a lab that was killed, then exit.
        #[arg(long, conflicts_with_all = ["hold", "json"])]
        cleanup: bool,
        /// Build pc1 and pc2, then wait (Enter or Ctrl-C) for you to explore; no cases run.
        #[arg(long, conflicts_with = "json")]
        hold: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// TIME_WAIT: close a connection server-first, then rebind without and with SO_REUSEADDR.
    Reuseaddr {
        /// The loopback address to use (127.0.0.1 or ::1).
        #[arg(long, default_value = "127.0.0.1")]
        host: IpAddr,
    },
    /// The accept queue: listen(backlog) and never accept; see how many connections fit.
    Backlog {
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        host: IpAddr,
        /// The listen() backlog.
        #[arg(long, default_value_t = backlog::DEFAULT_BACKLOG, value_parser = clap::value_parser!(i32).range(0..=65535))]
        backlog: i32,
        /// How many connections to open, one after another.
        #[arg(long, default_value_t = backlog::DEFAULT_CONNECTIONS, value_parser = common::cli::count(backlog::MAX_CONNECTIONS))]
        connections: usize,
        /// How long each connect() may wait, in milliseconds.
        #[arg(long, value_name = "MS", default_value_t = backlog::DEFAULT_CONNECT_TIMEOUT.as_millis() as u64, value_parser = clap::value_parser!(u64).range(1..=60_000))]
        connect_timeout: u64,
    },
    /// Every answer getaddrinfo() gives for a name: family, socket type, order.
    Resolve {
        /// A host name or an address literal, e.g. localhost.
        host: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The options a fresh TCP and UDP socket start with (SO_RCVBUF, TCP_NODELAY, ...).
    Sockopts,
    /// The socket table, like `netstat -an` or `ss -tuan`, read from /proc/net (Linux).
    Sockets {
        /// Only sockets with this local or remote port.
        #[arg(long)]
        port: Option<u16>,
        /// Only sockets in this state: listen, estab(lished), time-wait, ... (either spelling).
        #[arg(long, value_parser = parse_state)]
        state: Option<String>,
        /// Only TCP sockets.
        #[arg(long, conflicts_with = "udp")]
        tcp: bool,
        /// Only UDP sockets.
        #[arg(long)]
        udp: bool,
        /// Show which process holds each socket (as root, every process; else only yours).
        #[arg(long, short = 'p')]
        processes: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The socket table refreshed in place (like `watch ss -tan`), each change marked.
    #[command(after_long_help = watch::HELP)]
    Watch {
        /// Only sockets with this local or remote port.
        #[arg(long, value_parser = port_on_the_wire)]
        port: Option<u16>,
        /// Seconds between refreshes: twice a second shows a step taken in another pane at
        /// once and stays readable; SYN-SENT or LAST-ACK on loopback pass quicker than any.
        #[arg(long, value_name = "SECS", default_value = watch::DEFAULT_INTERVAL_SECS,
              value_parser = common::cli::seconds(watch::MIN_INTERVAL_SECS, watch::MAX_INTERVAL_SECS))]
        interval: Duration,
        /// Stop after N refreshes (default: until Ctrl-C).
        #[arg(long, value_name = "N", value_parser = common::cli::count(watch::MAX_REFRESHES))]
        count: Option<usize>,
        /// Only TCP sockets.
        #[arg(long, conflicts_with = "udp")]
        tcp: bool,
        /// Only UDP sockets.
        #[arg(long)]
        udp: bool,
    },
    /// The packets on loopback to or from one port, one line each, like tcpdump (Linux, root).
    #[command(
        long_about = "The packets on loopback (lo) to or from one port, one line each, as they \
                      cross: the wire under the socket calls. Each line shows:\n  \
                      time         seconds since the first packet shown\n  \
                      client       the client's address and port (the server is on --port)\n  \
                      direction    client -> server, or server -> client\n  \
                      flags        SYN, SYN-ACK, ACK, PSH-ACK (data), FIN-ACK, RST; or UDP\n  \
                      seq, ack     byte numbers from each side's SYN (0): data starts at 1\n  \
                      win          the receive window the sender announces, in bytes\n  \
                      len          payload bytes, then the first 20 of them as Python shows \
                      bytes\n\n\
                      It opens a packet socket (AF_PACKET), which sees every packet on the \
                      machine: that needs root or CAP_NET_RAW. Linux only.",
        after_help = "In class, three panes (terminals):\n  \
                      1. 01-echo server --step --kernel      pause at each socket call\n  \
                      2. sudo 07-ip-notes capture --port 65432\n  \
                      3. 01-echo client                      the handshake, data, FIN\n\n\
                      Examples:\n  \
                      sudo 07-ip-notes capture --port 65432 --count 10\n  \
                      sudo 07-ip-notes capture --port 5005 --write udp.pcap   then: tcpdump -nn -r udp.pcap\n  \
                      sudo setcap cap_net_raw+ep target/debug/07-ip-notes     capture without sudo"
    )]
    Capture {
        /// The server's port: packets from or to it are shown (TCP and UDP, IPv4 and IPv6).
        #[arg(long, value_parser = port_on_the_wire)]
        port: u16,
        /// Also save the packets to this file (pcap), for tcpdump -r or Wireshark.
        #[arg(long, value_name = "FILE.pcap")]
        write: Option<std::path::PathBuf>,
        /// Stop after this many packets (without it, at Ctrl-C).
        #[arg(long, value_name = "N", value_parser = common::cli::count(capture::MAX_PACKETS))]
        count: Option<usize>,
    },
    /// A quick narrated tour: classify, a loopback bind-matrix, resolve, sockopts.
    Demo,
    /// (used by `lab`) Listen on each address, print `ready`, hold until stdin closes.
    #[command(hide = true)]
    LabListen {
        #[arg(long, required = true)]
        bind: Vec<Ipv4Addr>,
    },
    /// (used by `lab`) Connect to each target and print the result.
    #[command(hide = true)]
    LabProbe {
        #[arg(long)]
        from: String,
        #[arg(long)]
        port: u16,
        #[arg(long, value_delimiter = ',', required = true)]
        targets: Vec<IpAddr>,
    },
}

/// A port to look for in packets or the table: 0 is never there (at `bind()` it asks the
/// kernel to pick a port), so it is refused rather than shown as nothing at all.
fn port_on_the_wire(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(0) => Err("0 is no connection's port: at bind() it asks the kernel to pick one; \
                      give the port the server printed"
            .into()),
        Ok(port) => Ok(port),
        Err(_) => Err(format!("`{text}` is not a port from 1 to 65535")),
    }
}

fn parse_state(text: &str) -> Result<String, String> {
    let state = sockets::normalize_state(text);
    if sockets::STATES.contains(&state.as_str()) {
        Ok(state)
    } else {
        Err(format!("unknown state; one of: {}", sockets::STATES.join(", ")))
    }
}

/// `--tcp` / `--udp` (clap keeps them exclusive) as a protocol filter.
fn proto(tcp: bool, udp: bool) -> Option<Proto> {
    match (tcp, udp) {
        (true, _) => Some(Proto::Tcp),
        (_, true) => Some(Proto::Udp),
        _ => None,
    }
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn run(cli: Cli) -> Result<()> {
    let trace = cli.trace.start::<Cli>();
    match cli.command {
        Command::Classify { addresses, json } => {
            let reports: Vec<_> = addresses.into_iter().map(classify::classify).collect();
            if json {
                return print_json(&reports);
            }
            print!("{}", classify::render(&reports));
        }
        Command::Special => print!("{}", special::render()),
        Command::Interfaces { json } => {
            let list = interfaces::list()?;
            if json {
                return print_json(&list);
            }
            print!("{}", interfaces::render(&list));
        }
        Command::BindMatrix { bind, targets, json } => {
            let rows = bind_matrix::run(&bind, &targets, trace);
            if json {
                return print_json(&rows);
            }
            print!("{}", bind_matrix::render(&rows, &targets));
        }
        Command::Lab { cleanup, hold, json } => {
            if cleanup {
                let deleted = lab::cleanup_stale()?;
                println!("deleted {deleted} namespace(s) left by earlier labs");
                return Ok(());
            }
            let results = lab::run(trace, hold)?;
            if hold {
                println!("tore the lab down");
                return Ok(());
            }
            if json {
                print_json(&results)?;
            } else {
                print!("{}", lab::render(&results));
            }
            let wrong = lab::mismatches(&results);
            if !wrong.is_empty() {
                let list: Vec<String> = wrong
                    .iter()
                    .map(|p| format!("{} -> {}: {}", p.from, p.target, p.result))
                    .collect();
                bail!(
                    "{} result(s) differ from what Linux should do: {}",
                    wrong.len(),
                    list.join("; ")
                );
            }
            println!("all {} results are as expected", results.iter().map(Vec::len).sum::<usize>());
        }
        Command::Reuseaddr { host } => reuseaddr::run(host, trace)?,
        Command::Backlog { host, backlog, connections, connect_timeout } => {
            backlog::run(
                host,
                backlog,
                connections,
                Duration::from_millis(connect_timeout),
                trace,
            )?;
        }
        Command::Resolve { host, json } => {
            let answers = resolve::getaddrinfo(&host)?;
            if json {
                return print_json(&answers);
            }
            print!("{}", resolve::render(&host, &answers));
        }
        Command::Sockopts => print!("{}", sockopts::run(trace)?),
        Command::Sockets { port, state, tcp, udp, processes, json } => {
            let filter = sockets::Filter { port, state, proto: proto(tcp, udp) };
            let entries: Vec<_> =
                sockets::read_table()?.into_iter().filter(|e| filter.keeps(e)).collect();
            if json {
                return print_json(&entries);
            }
            print!("{}", sockets::render(&entries, processes));
        }
        Command::Watch { port, interval, count, tcp, udp } => {
            let filter = sockets::Filter { port, state: None, proto: proto(tcp, udp) };
            watch::run(&watch::Options { filter, interval, count })?;
        }
        Command::Capture { port, write, count } => {
            capture::run(&capture::Options { port, write, count }, trace)?;
        }
        Command::Demo => demo::run()?,
        Command::LabListen { bind } => lab::listen_until_stdin_closes(&bind, trace)?,
        Command::LabProbe { from, port, targets } => {
            lab::probe_targets(&from, port, &targets, trace)
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    common::report::install_panic_hook();
    common::report::exit_code(run(Cli::parse()))
}
