//! `demo`: a short tour of the experiments that are quick and safe on any machine. It touches
//! nothing but loopback addresses and finishes in well under a second:
//!
//! 1. `classify` a few addresses, one of each kind the notes discuss;
//! 2. a small `bind-matrix` on loopback, every socket call narrated;
//! 3. `resolve localhost`;
//! 4. `sockopts`.

use anyhow::Result;
use common::narrate;
use common::narrate::Narrator;

use crate::{bind_matrix, classify, resolve, sockopts};

/// The addresses the tour classifies: loopback, private with a prefix, CGNAT, public, and an
/// IPv4-mapped IPv6 address.
const TOUR_ADDRESSES: [&str; 5] =
    ["127.0.0.2", "10.1.2.3/8", "100.64.0.1", "8.8.8.8", "::ffff:192.168.1.10"];

/// Runs the tour. Results go to stdout; the `[demo]` commentary and the socket calls of the
/// bind-matrix go to stderr.
///
/// # Errors
/// When `sockopts` cannot create a socket, or `localhost` does not resolve.
pub fn run() -> Result<()> {
    let demo = Narrator::new("demo", true);

    narrate!(demo, "1. classify: what kind of address is it? (no packets are sent)");
    let reports: Vec<_> = TOUR_ADDRESSES
        .iter()
        .map(|a| a.parse::<classify::Input>().map(classify::classify))
        .collect::<Result<_, _>>()
        .map_err(anyhow::Error::msg)?;
    println!("== classify {}\n{}", TOUR_ADDRESSES.join(" "), classify::render(&reports));

    narrate!(demo, "2. bind-matrix: a listener per row, a connect() per column, all on loopback");
    let binds = bind_matrix::parse_binds("127.0.0.1,0.0.0.0,::").map_err(anyhow::Error::msg)?;
    let targets =
        bind_matrix::parse_targets("127.0.0.1,127.0.0.2,::1").map_err(anyhow::Error::msg)?;
    let rows = bind_matrix::run(&binds, &targets, true);
    println!("== bind-matrix --bind 127.0.0.1,0.0.0.0,:: --targets 127.0.0.1,127.0.0.2,::1");
    println!("{}", bind_matrix::render(&rows, &targets));

    narrate!(demo, "3. resolve: a name can stand for several addresses");
    let answers = resolve::getaddrinfo("localhost")?;
    println!("== resolve localhost\n{}", resolve::render("localhost", &answers));

    narrate!(demo, "4. sockopts: what a fresh socket starts with");
    println!("== sockopts\n{}", sockopts::run(false)?);
    narrate!(
        demo,
        "more: special, interfaces, reuseaddr, backlog, sockets, and (as root) lab; see --help"
    );
    Ok(())
}
