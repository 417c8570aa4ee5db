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

// ANCHOR: cases
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
// ANCHOR_END: cases

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
mod linux {
    use std::io::{BufRead, BufReader};
    use std::net::{IpAddr, Ipv4Addr};
    use std::process::{Child, Command, Stdio};
    use std::sync::Arc;

    use anyhow::{Context, Result, bail};
    use common::stop::Stop;

    use super::{
        CASES, PC1_A, PC1_B, PC1_TARGETS, PC2_A, PC2_B, PC2_TARGETS, Probe, linux_expects,
    };

    /// Every namespace this command makes starts with this, then `pc1-PID` or `pc2-PID`.
    const PREFIX: &str = "ch07-";

    // ANCHOR: teardown
    /// The two namespaces. Dropping the guard deletes them, which also destroys the veth
    /// cables and every socket inside: this runs on success, on error, on panic, and after a
    /// Ctrl-C (which turns into an error at the next step).
    struct Namespaces {
        created: Vec<String>,
    }

    impl Drop for Namespaces {
        fn drop(&mut self) {
            for name in self.created.drain(..).rev() {
                if let Err(e) = ip(&["netns", "del", &name]) {
                    eprintln!("warning: could not delete namespace {name}: {e:#}");
                }
            }
        }
    }
    // ANCHOR_END: teardown

    /// A child process that is killed and reaped when dropped.
    struct Running(Child);

    impl Drop for Running {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// Runs `ip ARGS`, with its error output in the error.
    fn ip(args: &[&str]) -> Result<()> {
        let out = Command::new("ip").args(args).stdin(Stdio::null()).output().map_err(|e| {
            anyhow::anyhow!(
                "could not run `ip` ({e}): the lab needs iproute2 (apt-get install iproute2)"
            )
        })?;
        if !out.status.success() {
            bail!(
                "`ip {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    fn is_root() -> bool {
        // The effective uid is the second number on the `Uid:` line.
        std::fs::read_to_string("/proc/self/status").ok().is_some_and(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|id| id == "0"))
                .unwrap_or(false)
        })
    }

    /// Deletes `ch07-pc*-PID` namespaces whose PID is gone (a lab killed with SIGKILL, or a
    /// second Ctrl-C, cannot clean up after itself). Returns how many it deleted.
    ///
    /// # Errors
    /// When `ip netns list` cannot run.
    pub fn cleanup_stale() -> Result<usize> {
        let out = Command::new("ip")
            .args(["netns", "list"])
            .output()
            .context("could not run `ip netns list`")?;
        let mut deleted = 0;
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let name = line.split_whitespace().next().unwrap_or_default();
            let Some(pid) = name.strip_prefix(PREFIX).and_then(|rest| rest.rsplit('-').next())
            else {
                continue;
            };
            if pid.parse::<u32>().is_ok() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
            {
                ip(&["netns", "del", name])?;
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    // ANCHOR: setup
    /// Creates pc1 and pc2 and wires them as in the diagram at the top of this file.
    fn build(pc1: &str, pc2: &str, guard: &mut Namespaces) -> Result<()> {
        for ns in [pc1, pc2] {
            ip(&["netns", "add", ns])?;
            guard.created.push(ns.to_owned());
            // A new namespace has only `lo`, and it is down: even 127.0.0.1 is unreachable.
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        let cards = [("eth0", PC1_A, PC2_A), ("eth1", PC1_B, PC2_B)];
        for (card, pc1_addr, pc2_addr) in cards {
            // A veth pair is a cable with a network card at each end: one end in each host.
            ip(&[
                "link", "add", card, "netns", pc1, "type", "veth", "peer", "name", card, "netns",
                pc2,
            ])?;
            for (ns, addr) in [(pc1, pc1_addr), (pc2, pc2_addr)] {
                ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", card])?;
                ip(&["-n", ns, "link", "set", card, "up"])?;
            }
        }
        Ok(())
    }
    // ANCHOR_END: setup

    /// This program, run inside namespace `ns`.
    fn in_namespace(ns: &str, args: &[String], trace: bool) -> Result<Command> {
        let me = std::env::current_exe().context("could not find this program's path")?;
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns]).arg(me).args(args);
        if trace {
            cmd.arg("--trace");
        }
        Ok(cmd)
    }

    /// Starts the server of one case in pc1 and returns it with its port.
    fn start_server(pc1: &str, binds: &[Ipv4Addr], trace: bool) -> Result<(Running, u16)> {
        let mut args = vec!["lab-listen".to_owned()];
        for b in binds {
            args.extend(["--bind".to_owned(), b.to_string()]);
        }
        let child = in_namespace(pc1, &args, trace)?
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("could not start the server in pc1")?;
        let mut running = Running(child);
        let stdout = running.0.stdout.take().context("stdout is piped")?;
        // The server prints `listening on ADDR` for each address, then `ready`: no sleeping.
        let mut port = None;
        for line in BufReader::new(stdout).lines() {
            let line = line.context("could not read the server's output")?;
            if let Some(addr) = line.strip_prefix("listening on ") {
                port = addr.rsplit(':').next().and_then(|p| p.parse().ok());
            }
            if line == "ready" {
                break;
            }
        }
        let port = port.context("the server in pc1 exited before it was ready")?;
        Ok((running, port))
    }

    /// Runs the probe in `ns` and returns one result word per target.
    fn probe(
        ns: &str,
        role: &str,
        port: u16,
        targets: &[Ipv4Addr],
        trace: bool,
    ) -> Result<Vec<String>> {
        let list: Vec<String> = targets.iter().map(Ipv4Addr::to_string).collect();
        let args = [
            "lab-probe",
            "--from",
            role,
            "--port",
            &port.to_string(),
            "--targets",
            &list.join(","),
        ]
        .map(str::to_owned);
        let out = in_namespace(ns, &args, trace)?
            .stdin(Stdio::null())
            .output()
            .context("could not run the probe")?;
        if !out.status.success() {
            bail!("the probe in {role} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        let words: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1).map(str::to_owned))
            .collect();
        if words.len() != targets.len() {
            bail!("the probe in {role} answered {} of {} targets", words.len(), targets.len());
        }
        Ok(words)
    }

    // ANCHOR: run
    /// Builds the lab, runs the four cases, tears the lab down. Returns the probes per case.
    ///
    /// # Errors
    /// Not root, no `ip`, a failed step, or Ctrl-C.
    pub fn run(trace: bool, hold: bool) -> Result<Vec<Vec<Probe>>> {
        if !is_root() {
            bail!("`lab` creates network namespaces, which needs root: run it with sudo");
        }
        let stop = Stop::new();
        stop.trigger_on_ctrl_c()?;
        cleanup_stale()?;
        let pid = std::process::id();
        let (pc1, pc2) = (format!("{PREFIX}pc1-{pid}"), format!("{PREFIX}pc2-{pid}"));
        let mut guard = Namespaces { created: Vec::new() };
        build(&pc1, &pc2, &mut guard)?;
        eprintln!(
            "built pc1 ({pc1}: lo, eth0 {PC1_A}/24, eth1 {PC1_B}/24) and pc2 ({pc2}: eth0 {PC2_A}/24, eth1 {PC2_B}/24)"
        );
        if hold {
            hold_until_enter_or_ctrl_c(&pc1, &pc2, &stop);
            return Ok(Vec::new()); // Dropping the guard tears the lab down.
        }

        let mut results = Vec::new();
        for case in &CASES {
            check(&stop)?;
            let (server, port) = start_server(&pc1, case.binds, trace)?;
            let mut probes = Vec::new();
            for (from, ns, targets, notes) in [
                ("pc1", &pc1, &PC1_TARGETS[..], &case.pc1[..]),
                ("pc2", &pc2, &PC2_TARGETS[..], &case.pc2[..]),
            ] {
                check(&stop)?;
                let words = probe(ns, from, port, targets, trace)?;
                for ((&target, &notes), result) in targets.iter().zip(notes).zip(words) {
                    let expected = linux_expects(case, target, notes);
                    probes.push(Probe {
                        from,
                        target: IpAddr::V4(target),
                        result,
                        notes,
                        expected,
                    });
                }
            }
            drop(server); // Kills and reaps the server; the namespace goes with the guard.
            results.push(probes);
        }
        drop(guard);
        eprintln!("tore down {pc1} and {pc2}");
        Ok(results)
    }
    // ANCHOR_END: run

    /// `--hold`: leave the network up for the student to explore, until Enter or Ctrl-C.
    fn hold_until_enter_or_ctrl_c(pc1: &str, pc2: &str, stop: &Arc<Stop>) {
        println!(
            "holding the lab: try, in another terminal,\n  \
             ip netns exec {pc1} ip addr\n  \
             ip netns exec {pc1} python3 -m http.server --bind {PC1_A} 8000\n  \
             ip netns exec {pc2} curl http://{PC1_A}:8000/\n\
             press Enter or Ctrl-C to tear it down"
        );
        let (done, wait) = std::sync::mpsc::channel();
        let on_stop = done.clone();
        let _watch = stop.watch(move || {
            let _ = on_stop.send(());
        });
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
            let _ = done.send(());
        });
        let _ = wait.recv();
    }

    fn check(stop: &Arc<Stop>) -> Result<()> {
        if stop.is_stopping() {
            bail!("interrupted: tearing the lab down");
        }
        Ok(())
    }
}

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
