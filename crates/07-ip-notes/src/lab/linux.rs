//! The lab on Linux: two network namespaces, pc1 and pc2, wired by veth cables, a server in
//! pc1 and probes from both, as [`super`] describes. In the order of a run: [`run`] builds the
//! namespaces, starts each case's server, probes it from both sides, and tears it all down.

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use common::stop::Stop;

use super::{CASES, PC1_A, PC1_B, PC1_TARGETS, PC2_A, PC2_B, PC2_TARGETS, Probe, linux_expects};

/// Every namespace this command makes starts with this, then `pc1-PID` or `pc2-PID`.
const PREFIX: &str = "ch07-";

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
                probes.push(Probe { from, target: IpAddr::V4(target), result, notes, expected });
            }
        }
        drop(server); // Kills and reaps the server; the namespace goes with the guard.
        results.push(probes);
    }
    drop(guard);
    eprintln!("tore down {pc1} and {pc2}");
    Ok(results)
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
            "link", "add", card, "netns", pc1, "type", "veth", "peer", "name", card, "netns", pc2,
        ])?;
        for (ns, addr) in [(pc1, pc1_addr), (pc2, pc2_addr)] {
            ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", card])?;
            ip(&["-n", ns, "link", "set", card, "up"])?;
        }
    }
    Ok(())
}
// ANCHOR_END: setup

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

/// Runs the probe in `ns` and returns one result word per target.
fn probe(
    ns: &str,
    role: &str,
    port: u16,
    targets: &[Ipv4Addr],
    trace: bool,
) -> Result<Vec<String>> {
    let list: Vec<String> = targets.iter().map(Ipv4Addr::to_string).collect();
    let args =
        ["lab-probe", "--from", role, "--port", &port.to_string(), "--targets", &list.join(",")]
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

/// Whether we run as root: creating namespaces needs it.
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

/// Ctrl-C between two steps: stop, and let the guards tear the lab down.
fn check(stop: &Arc<Stop>) -> Result<()> {
    if stop.is_stopping() {
        bail!("interrupted: tearing the lab down");
    }
    Ok(())
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
        let Some(pid) = name.strip_prefix(PREFIX).and_then(|rest| rest.rsplit('-').next()) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            ip(&["netns", "del", name])?;
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// Runs `ip ARGS`, with its error output in the error.
fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip").args(args).stdin(Stdio::null()).output().map_err(|e| {
        anyhow::anyhow!(
            "could not run `ip` ({e}): the lab needs iproute2 (apt-get install iproute2)"
        )
    })?;
    if !out.status.success() {
        bail!("`ip {}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}
