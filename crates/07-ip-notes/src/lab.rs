//! `lab`: the notes' pc1/pc2 example, on real (virtual) machines.
//!
//! The notes imagine "pc1", a server with two network cards, 192.168.0.1 and 10.10.152.8, and
//! "pc2", a client on the same networks, and say which client can connect to which address
//! for four servers: one bound to 127.0.0.1, one to 192.168.0.1, one to both card addresses,
//! and one to 0.0.0.0. This command builds that network with Linux *network namespaces*, each
//! a private copy of the network stack (its own interfaces, addresses, routes and sockets),
//! joined by two *veth pairs*, virtual cables:
//!
//! ```text
//!        pc1 (namespace)                               pc2 (namespace)
//!   lo   127.0.0.1
//!   eth0 192.168.0.1/24  <====== veth cable ======>  eth0 192.168.0.2/24
//!   eth1 10.10.152.8/24  <====== veth cable ======>  eth1 10.10.152.9/24
//! ```
//!
//! For each case it starts the server in pc1 (this binary's hidden `lab-listen`, run with
//! `ip netns exec`), probes every address from pc1 and from pc2 (`lab-probe`), and compares the
//! results with the notes. Everything is torn down at the end, on an error, and on Ctrl-C.
//! Traffic never leaves the two namespaces. It needs Linux, root, and iproute2's `ip`.

use std::net::{IpAddr, Ipv4Addr};

use serde::Serialize;

/// pc1's first network card.
pub const PC1_A: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 1);
/// pc1's second network card.
pub const PC1_B: Ipv4Addr = Ipv4Addr::new(10, 10, 152, 8);
/// pc2's address on the first network.
pub const PC2_A: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 2);
/// pc2's address on the second network.
pub const PC2_B: Ipv4Addr = Ipv4Addr::new(10, 10, 152, 9);

/// What pc1's client tries, in the notes' order.
pub const PC1_TARGETS: [Ipv4Addr; 4] = [Ipv4Addr::LOCALHOST, Ipv4Addr::UNSPECIFIED, PC1_A, PC1_B];
/// What pc2's client tries: pc1's two card addresses.
pub const PC2_TARGETS: [Ipv4Addr; 2] = [PC1_A, PC1_B];

/// One of the notes' four servers and what the notes expect.
pub struct Case {
    /// The addresses the server binds (one socket each, one port).
    pub binds: &'static [Ipv4Addr],
    /// The notes' verdict for pc1's client, one per [`PC1_TARGETS`]: can it connect?
    pub pc1: [bool; 4],
    /// The notes' verdict for pc2's client, one per [`PC2_TARGETS`].
    pub pc2: [bool; 2],
}

/// The notes' four cases.
pub const CASES: [Case; 4] = [
    // Only 127.0.0.1: pc1 reaches it through 127.0.0.1 and 0.0.0.0; pc2 reaches nothing.
    Case { binds: &[Ipv4Addr::LOCALHOST], pc1: [true, true, false, false], pc2: [false, false] },
    // Only 192.168.0.1: reachable there from both hosts, and nowhere else.
    Case { binds: &[PC1_A], pc1: [false, true, true, false], pc2: [true, false] },
    // Both card addresses: both reachable from both hosts; 127.0.0.1 is not.
    Case { binds: &[PC1_A, PC1_B], pc1: [false, true, true, true], pc2: [true, true] },
    // 0.0.0.0: every address, from both hosts.
    Case { binds: &[Ipv4Addr::UNSPECIFIED], pc1: [true, true, true, true], pc2: [true, true] },
];

/// What Linux does where the notes say otherwise: a `connect()` to 0.0.0.0 is sent to
/// 127.0.0.1 (when the socket has no source address of its own), so it reaches a server only
/// when that server holds 127.0.0.1. The notes count it as reaching any server on pc1.
pub fn linux_expects(case: &Case, target: Ipv4Addr, notes: bool) -> bool {
    if target.is_unspecified() {
        case.binds.iter().any(|b| b.is_loopback() || b.is_unspecified())
    } else {
        notes
    }
}

/// One probe result, as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    /// `pc1` or `pc2`.
    pub from: &'static str,
    /// The address tried.
    pub target: IpAddr,
    /// `ok`, `refused`, `unreachable`, `timeout` or `error`.
    pub result: String,
    /// What the notes say.
    pub notes: bool,
    /// What Linux should do (differs from the notes only for 0.0.0.0).
    pub expected: bool,
}

#[cfg(target_os = "linux")]
pub use linux::{cleanup_stale, run};

/// The lab needs Linux's network namespaces.
///
/// # Errors
/// Always, on this system.
#[cfg(not(target_os = "linux"))]
pub fn run(_trace: bool, _hold: bool) -> anyhow::Result<Vec<Vec<Probe>>> {
    anyhow::bail!(
        "`lab` builds its network with Linux network namespaces (ip netns), which this system \
         does not have; run it in a Linux VM or container, as root"
    )
}

/// Removes namespaces left by a lab that was killed (Linux only).
///
/// # Errors
/// Always, on this system.
#[cfg(not(target_os = "linux"))]
pub fn cleanup_stale() -> anyhow::Result<usize> {
    anyhow::bail!("`lab` exists on Linux only")
}

#[cfg(target_os = "linux")]
mod linux;

/// The results as the notes' table, a `*` on each cell where Linux differs from the notes.
pub fn render(results: &[Vec<Probe>]) -> String {
    let mut header = vec!["case".to_owned(), "server binds".to_owned(), "from".to_owned()];
    header.extend(PC1_TARGETS.iter().map(Ipv4Addr::to_string));
    let mut rows = vec![header];
    let mut differs_from_notes = false;
    for (i, (case, probes)) in CASES.iter().zip(results).enumerate() {
        let binds: Vec<String> = case.binds.iter().map(Ipv4Addr::to_string).collect();
        for (n, from) in ["pc1", "pc2"].into_iter().enumerate() {
            let mut row = if n == 0 {
                vec![(i + 1).to_string(), binds.join(" + "), from.to_owned()]
            } else {
                vec![String::new(), String::new(), from.to_owned()]
            };
            for t in PC1_TARGETS {
                let probe = probes.iter().find(|p| p.from == from && p.target == IpAddr::V4(t));
                row.push(match probe {
                    Some(p) if (p.result == "ok") != p.notes => {
                        differs_from_notes = true;
                        format!("{}*", p.result)
                    }
                    Some(p) => p.result.clone(),
                    None => "-".to_owned(),
                });
            }
            rows.push(row);
        }
    }
    let mut out = crate::columns(&rows);
    if differs_from_notes {
        out.push_str(
            "\n* the notes say pc1 can connect here. On Linux a connect() to 0.0.0.0 goes to \
             127.0.0.1,\n  so it reaches only a server that listens on 127.0.0.1 (or 0.0.0.0).\n",
        );
    }
    out
}

/// How many probes disagree with what Linux should do.
pub fn mismatches(results: &[Vec<Probe>]) -> Vec<&Probe> {
    results.iter().flatten().filter(|p| (p.result == "ok") != p.expected).collect()
}

/// The hidden `lab-listen` command, run inside pc1: bind every address on one port, print
/// `listening on ADDR` for each and then `ready`, and hold the sockets until standard input
/// closes (the lab closes it, or dies).
///
/// # Errors
/// When an address cannot be bound.
pub fn listen_until_stdin_closes(binds: &[Ipv4Addr], trace: bool) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let n = common::narrate::Narrator::new("pc1 server", trace);
    let mut port = 0;
    let mut listeners = Vec::new();
    for &addr in binds {
        let spec = crate::bind_matrix::BindSpec { addr: IpAddr::V4(addr), v6only: false };
        let listener = crate::bind_matrix::listen(spec, port, n)?;
        let local = listener.local_addr()?.as_socket();
        port = local.map_or(port, |a| a.port());
        println!("listening on {}", local.map_or_else(|| addr.to_string(), |a| a.to_string()));
        listeners.push(listener);
    }
    println!("ready");
    std::io::stdout().flush()?;
    // Never accept(): a completed handshake is all the lab asks. Block until stdin closes.
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    Ok(())
}

/// The hidden `lab-probe` command: connect to each target on `port` and print
/// `TARGET RESULT` lines.
pub fn probe_targets(from: &str, port: u16, targets: &[IpAddr], trace: bool) {
    let role = if from == "pc2" { "pc2 client" } else { "pc1 client" };
    let n = common::narrate::Narrator::new(role, trace);
    for &target in targets {
        let (outcome, _conn) =
            crate::bind_matrix::connect(std::net::SocketAddr::new(target, port), n);
        println!("{target} {}", outcome.word());
    }
}
