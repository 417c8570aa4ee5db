//! The `07-ip-notes` binary's live experiments, over real sockets on loopback addresses only
//! (127.0.0.0/8 and ::1), plus the `lab` in network namespaces when running as root.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;

use serde_json::Value;
use testkit::{Finished, run};

fn notes() -> Command {
    Command::new(env!("CARGO_BIN_EXE_07-ip-notes"))
}

fn ok(args: &[&str]) -> Finished {
    let out = run(notes().args(args));
    assert!(out.status.success(), "{args:?}: {out:?}");
    assert!(!out.stderr.contains("panicked"), "{args:?}: {}", out.stderr);
    out
}

fn json(args: &[&str]) -> Value {
    serde_json::from_str(&ok(args).stdout).unwrap()
}

fn has_ipv6_loopback() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

#[test]
fn classify_json_names_every_range_and_parses_back() {
    // (address, the ranges it is in, public?)
    let cases: &[(&str, &[&str], bool)] = &[
        ("0.0.0.0", &["unspecified", "this network"], false),
        ("127.0.0.1", &["loopback"], false),
        ("10.0.0.1", &["private"], false),
        ("172.16.0.1", &["private"], false),
        ("192.168.1.1", &["private"], false),
        ("100.64.0.1", &["shared (CGNAT)"], false),
        ("169.254.0.1", &["link-local"], false),
        ("224.0.0.1", &["multicast"], false),
        ("255.255.255.255", &["reserved", "broadcast"], false),
        ("192.0.2.1", &["documentation"], false),
        ("198.18.0.1", &["benchmarking"], false),
        ("240.0.0.1", &["reserved"], false),
        ("1.1.1.1", &[], true),
        ("::1", &["loopback"], false),
        ("::", &["unspecified"], false),
        ("fe80::1", &["link-local"], false),
        ("fc00::1", &["unique local"], false),
        ("ff02::1", &["multicast"], false),
        ("::ffff:10.0.0.1", &["IPv4-mapped"], false),
        ("2001:db8::1", &["documentation"], false),
        ("2606:4700::1", &[], true),
    ];
    let mut args = vec!["classify", "--json"];
    args.extend(cases.iter().map(|c| c.0));
    let reports = json(&args);
    let reports = reports.as_array().unwrap();
    assert_eq!(reports.len(), cases.len());
    for ((addr, ranges, public), report) in cases.iter().zip(reports) {
        let names: Vec<&str> = report["ranges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, *ranges, "{addr}");
        assert_eq!(report["public"], *public, "{addr}");
        assert!(report["ranges"].as_array().unwrap().iter().all(|r| r["rfc"].is_string()));
    }
    assert_eq!(reports[2]["class"]["letter"], "A");
    assert_eq!(reports[18]["embedded_ipv4"]["ranges"][0]["name"], "private");
}

#[test]
fn classify_json_gives_cidr_networks() {
    let reports = json(&["classify", "--json", "10.1.2.3/8", "192.168.1.77/26", "fd00::1/64"]);
    let cidr = &reports[0]["cidr"];
    assert_eq!(cidr["network"], "10.0.0.0");
    assert_eq!(cidr["broadcast"], "10.255.255.255");
    assert_eq!(cidr["first_host"], "10.0.0.1");
    assert_eq!(cidr["last_host"], "10.255.255.254");
    assert_eq!(cidr["hosts"], "16777214");
    assert_eq!(reports[1]["cidr"]["network"], "192.168.1.64");
    assert_eq!(reports[1]["cidr"]["hosts"], "62");
    assert_eq!(reports[2]["cidr"]["broadcast"], Value::Null);
    assert_eq!(reports[2]["cidr"]["hosts"], "18446744073709551616");
}

#[test]
fn bad_input_is_a_usage_error_never_a_panic() {
    for args in [
        &["classify", "not-an-ip"][..],
        &["classify", "10.0.0.0/33"],
        &["classify", "::1/129"],
        &["classify", "1.2.3.4/x"],
        &["classify"],
        &["bind-matrix", "--targets", "nowhere"],
        &["backlog", "--connections", "0"],
        &["backlog", "--backlog", "-1"],
        &["sockets", "--state", "sleepy"],
        &["sockets", "--port", "70000"],
        &["lab", "--cleanup", "--hold"],
        &["watch", "--interval", "nan"],
        &["watch", "--interval", "0"],
        &["watch", "--count", "0"],
        &["watch", "--port", "0"],
        &["capture", "--port", "0"],
        &["capture", "--port", "65536"],
        &["capture", "--port", "5", "--count", "0"],
        &["no-such-experiment"],
    ] {
        let out = run(notes().args(args));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(out.stderr.starts_with("error: "), "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{args:?}");
    }
}

#[test]
fn port_0_for_watch_or_capture_says_what_0_means() {
    for command in ["watch", "capture"] {
        let out = run(notes().args([command, "--port", "0"]));
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(out.stderr.contains("at bind() it asks the kernel to pick one"), "{}", out.stderr);
    }
    let out = run(notes().args(["capture", "--port", "5", "--count", "0"]));
    assert!(out.stderr.contains("`0` is not a count from 1 to 1000000"), "{}", out.stderr);
}

#[test]
fn an_unknown_name_is_a_runtime_error() {
    let out = run(notes().args(["resolve", "no-such-host.invalid"]));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stderr.starts_with("error: could not resolve host \"no-such-host.invalid\""));
}

/// The words of each row of a `bind-matrix --json` run.
fn matrix(binds: &str, targets: &str) -> Vec<(String, Vec<String>)> {
    let rows = json(&["bind-matrix", "--json", "--bind", binds, "--targets", targets]);
    rows.as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let words = row["cells"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["outcome"]["result"].as_str().unwrap().to_owned())
                .collect();
            (row["bind"].as_str().unwrap().to_owned(), words)
        })
        .collect()
}

#[test]
fn bind_matrix_shows_the_bind_rule_on_ipv4_loopback() {
    let rows = matrix("127.0.0.1,127.0.0.2,0.0.0.0", "127.0.0.1,127.0.0.2,0.0.0.0");
    let expected = [
        ("127.0.0.1", ["ok", "refused", "ok"]),
        ("127.0.0.2", ["refused", "ok", "refused"]),
        ("0.0.0.0", ["ok", "ok", "ok"]),
    ];
    for ((bind, words), (want_bind, want)) in rows.iter().zip(expected) {
        assert_eq!(bind, want_bind);
        assert_eq!(words, &want, "row {bind}");
    }
}

#[test]
fn bind_matrix_shows_ipv6_v6only() {
    if !has_ipv6_loopback() {
        return testkit::skip("this machine has no IPv6 loopback (::1)");
    }
    let rows = matrix("::1,::,::+v6only,0.0.0.0", "127.0.0.1,::1");
    assert_eq!(rows[0].1, ["refused", "ok"], "::1 is IPv6 only");
    assert_eq!(rows[1].1, ["ok", "ok"], ":: with IPV6_V6ONLY=0 takes IPv4 too");
    assert_eq!(rows[2].1, ["refused", "ok"], "IPV6_V6ONLY=1 refuses IPv4");
    assert_eq!(rows[3].1, ["ok", "refused"], "0.0.0.0 is IPv4 only");
    // The dual-stack socket sees its IPv4 client as an IPv4-mapped address.
    let rows = json(&["bind-matrix", "--json", "--bind", "::", "--targets", "127.0.0.1"]);
    assert_eq!(rows[0]["cells"][0]["outcome"]["seen_as"], "::ffff:127.0.0.1");
}

#[test]
fn bind_matrix_reports_an_address_it_cannot_bind() {
    // 192.0.2.1 is reserved for documentation: no machine has it, bind() fails before any
    // packet could be sent, so this sends nothing anywhere.
    let out = ok(&["bind-matrix", "--bind", "192.0.2.1", "--targets", "127.0.0.1"]);
    assert!(out.stdout.contains("bind failed: could not bind 192.0.2.1:0"), "{}", out.stdout);
}

#[test]
fn bind_matrix_trace_narrates_each_call() {
    let out = ok(&["bind-matrix", "--trace", "--bind", "127.0.0.1", "--targets", "127.0.0.2"]);
    let mut rest = out.stderr.as_str();
    for line in [
        "[server] socket(AF_INET, SOCK_STREAM) -> fd ",
        "[server] bind(127.0.0.1:0)",
        "[server] listen(backlog=8)",
        "[client] socket(AF_INET, SOCK_STREAM) -> fd ",
        "[client] connect(127.0.0.2:",
        "Connection refused",
        "[server] close(",
    ] {
        let at = rest.find(line).unwrap_or_else(|| panic!("missing {line:?} in:\n{}", out.stderr));
        rest = &rest[at + line.len()..];
    }
    let quiet = ok(&["bind-matrix", "--bind", "127.0.0.1", "--targets", "127.0.0.1"]);
    assert_eq!(quiet.stderr, "", "narration only with --trace");
}

#[test]
fn reuseaddr_reproduces_address_in_use_then_succeeds() {
    let out = ok(&["reuseaddr"]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("1. a server listens on 127.0.0.1:"), "{}", out.stdout);
    if cfg!(target_os = "linux") {
        assert!(
            lines[2].starts_with("3. the socket table still holds the port: TIME-WAIT"),
            "{}",
            out.stdout
        );
        assert!(
            lines[3].contains("without SO_REUSEADDR -> Address already in use"),
            "{}",
            out.stdout
        );
    }
    assert!(lines[4].contains("with SO_REUSEADDR    -> ok"), "{}", out.stdout);
}

#[test]
fn backlog_queues_backlog_plus_one_then_drops_syns() {
    let out = ok(&["backlog", "--backlog", "1", "--connections", "4", "--connect-timeout", "200"]);
    if cfg!(target_os = "linux") {
        assert!(
            out.stdout.contains(
                "2 of 4 completed the handshake and wait in the accept queue; 2 timed out"
            ),
            "{}",
            out.stdout
        );
        assert!(
            out.stdout.contains("the listener's Recv-Q (its accept queue) is 2"),
            "{}",
            out.stdout
        );
        assert!(out.stdout.contains("/proc/sys/net/core/somaxconn = "), "{}", out.stdout);
    }
}

/// Waits until `/proc/net/tcp` shows a TCP socket on `addr` in `state` (a state change that
/// the kernel finishes just after the call that causes it returns).
#[cfg(target_os = "linux")]
fn wait_for_state(addr: SocketAddr, state: &str) {
    let deadline = std::time::Instant::now() + testkit::PATIENCE;
    let code = match state {
        "TIME-WAIT" => "06",
        _ => unreachable!("only TIME-WAIT is waited for"),
    };
    let hex = format!("{:04X}", addr.port());
    while std::time::Instant::now() < deadline {
        let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
        if table.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[1].ends_with(&format!(":{hex}")) && f[3] == code
        }) {
            return;
        }
        std::thread::yield_now();
    }
    panic!("{addr} never reached {state}");
}

#[cfg(target_os = "linux")]
#[test]
fn sockets_lists_listen_established_and_time_wait() {
    use std::io::Read;

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let port = addr.port().to_string();

    let out = ok(&["sockets", "--port", &port]);
    assert!(
        out.stdout.lines().any(|l| l.contains("LISTEN") && l.contains(&addr.to_string())),
        "{}",
        out.stdout
    );

    let client = TcpStream::connect(addr).unwrap();
    let (server_side, _) = listener.accept().unwrap();
    let entries = json(&["sockets", "--json", "--port", &port, "--state", "established"]);
    let locals: Vec<&str> =
        entries.as_array().unwrap().iter().map(|e| e["local"].as_str().unwrap()).collect();
    assert!(locals.contains(&addr.to_string().as_str()), "server side: {locals:?}");
    let client_addr = client.local_addr().unwrap().to_string();
    assert!(locals.contains(&client_addr.as_str()), "client side: {locals:?}");

    // The server closes first, so its side ends in TIME-WAIT once the client closes too.
    drop(server_side);
    let mut client = client;
    let mut buf = [0u8; 1];
    assert_eq!(client.read(&mut buf).unwrap(), 0);
    drop(client);
    wait_for_state(addr, "TIME-WAIT");
    let out = ok(&["sockets", "--port", &port, "--state", "TIME_WAIT", "--tcp"]);
    assert!(
        out.stdout.lines().any(|l| l.contains("TIME-WAIT") && l.contains(&addr.to_string())),
        "{}",
        out.stdout
    );
}

#[cfg(target_os = "linux")]
#[test]
fn sockets_names_the_owning_process() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let out = ok(&["sockets", "--port", &port, "--processes"]);
    let me = format!("{}/", std::process::id());
    assert!(out.stdout.contains(&me), "our pid {me} in:\n{}", out.stdout);
}

#[test]
fn resolve_localhost_gives_loopback_addresses_with_types() {
    let answers = json(&["resolve", "--json", "localhost"]);
    let answers = answers.as_array().unwrap();
    assert!(!answers.is_empty());
    for a in answers {
        let ip: std::net::IpAddr = a["address"].as_str().unwrap().parse().unwrap();
        assert!(ip.is_loopback(), "{a}");
    }
    assert!(answers.iter().any(|a| a["socktype"] == "SOCK_STREAM"));
    let out = ok(&["resolve", "::1"]);
    assert!(out.stdout.contains("AF_INET6  SOCK_STREAM  tcp       ::1"), "{}", out.stdout);
    assert!(out.stdout.contains("distinct addresses, in order: ::1"), "{}", out.stdout);
}

#[test]
fn sockopts_reads_a_fresh_sockets_defaults() {
    let out = ok(&["sockopts"]);
    for option in [
        "SO_RCVBUF",
        "SO_SNDBUF",
        "SO_REUSEADDR",
        "SO_KEEPALIVE",
        "TCP_NODELAY",
        "IPV6_V6ONLY",
        "IP_TTL",
    ] {
        assert!(out.stdout.lines().any(|l| l.starts_with(option)), "{option}:\n{}", out.stdout);
    }
    let reuse = out.stdout.lines().find(|l| l.starts_with("SO_REUSEADDR")).unwrap();
    assert!(reuse.contains("off"), "a fresh socket has SO_REUSEADDR off: {reuse}");
}

#[test]
fn interfaces_include_loopback() {
    let list = json(&["interfaces", "--json"]);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|a| a["address"] == "127.0.0.1" && a["kind"] == "loopback"),
        "{list}"
    );
}

#[test]
fn demo_tours_the_quick_experiments() {
    let started = std::time::Instant::now();
    let out = ok(&["demo"]);
    for section in ["== classify ", "== bind-matrix ", "== resolve localhost", "== sockopts"] {
        assert!(out.stdout.contains(section), "{section}:\n{}", out.stdout);
    }
    assert!(out.stderr.contains("[demo] 1. classify"), "{}", out.stderr);
    assert!(out.stderr.contains("[server] bind(127.0.0.1:0)"), "{}", out.stderr);
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "the demo is quick");
}

#[test]
fn help_lists_every_experiment() {
    let out = ok(&["--help"]);
    for cmd in [
        "classify",
        "special",
        "interfaces",
        "bind-matrix",
        "lab",
        "reuseaddr",
        "backlog",
        "resolve",
        "sockopts",
        "sockets",
        "demo",
    ] {
        assert!(out.stdout.contains(&format!("  {cmd}")), "{cmd}:\n{}", out.stdout);
    }
    assert!(!out.stdout.contains("lab-listen"), "helpers stay hidden");
}

/// Can this test create network namespaces? Root, and `ip netns` that works.
#[cfg(target_os = "linux")]
fn netns_skip_reason() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1));
    if euid != Some("0") {
        return Some("not root".to_owned());
    }
    let probe = format!("ch07-test-{}", std::process::id());
    match Command::new("ip").args(["netns", "add", &probe]).output() {
        Ok(out) if out.status.success() => {
            let _ = Command::new("ip").args(["netns", "del", &probe]).output();
            None
        }
        Ok(out) => {
            Some(format!("`ip netns add` failed: {}", String::from_utf8_lossy(&out.stderr).trim()))
        }
        Err(e) => Some(format!("no `ip` command: {e}")),
    }
}

#[cfg(target_os = "linux")]
fn lab_namespaces_of(pid: u32) -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| name.starts_with("ch07-") && name.ends_with(&format!("-{pid}")))
        .map(str::to_owned)
        .collect()
}

#[cfg(target_os = "linux")]
#[test]
fn lab_gives_the_notes_results_in_real_namespaces() {
    if let Some(reason) = netns_skip_reason() {
        return testkit::skip(&format!("the lab needs root and `ip netns` ({reason})"));
    }
    let proc = testkit::Proc::spawn(notes().args(["lab", "--json"]));
    let pid = proc.pid();
    let out = proc.finish();
    assert!(out.status.success(), "{out:?}");
    assert!(lab_namespaces_of(pid).is_empty(), "the lab tore its namespaces down");
    let json_start = out.stdout.find('[').unwrap();
    let json_end = out.stdout.rfind(']').unwrap();
    let cases: Value = serde_json::from_str(&out.stdout[json_start..=json_end]).unwrap();
    let cases = cases.as_array().unwrap();
    assert_eq!(cases.len(), 4);
    let result = |case: usize, from: &str, target: &str| -> String {
        let probes = cases[case].as_array().unwrap();
        let p = probes.iter().find(|p| p["from"] == from && p["target"] == target).unwrap();
        p["result"].as_str().unwrap().to_owned()
    };
    // The notes, case by case: (pc1 -> 127.0.0.1, 192.168.0.1, 10.10.152.8), (pc2 -> the two).
    let expected = [
        (["ok", "refused", "refused"], ["refused", "refused"]),
        (["refused", "ok", "refused"], ["ok", "refused"]),
        (["refused", "ok", "ok"], ["ok", "ok"]),
        (["ok", "ok", "ok"], ["ok", "ok"]),
    ];
    for (case, (pc1, pc2)) in expected.iter().enumerate() {
        for (target, want) in ["127.0.0.1", "192.168.0.1", "10.10.152.8"].iter().zip(pc1) {
            assert_eq!(result(case, "pc1", target), *want, "case {} pc1 -> {target}", case + 1);
        }
        for (target, want) in ["192.168.0.1", "10.10.152.8"].iter().zip(pc2) {
            assert_eq!(result(case, "pc2", target), *want, "case {} pc2 -> {target}", case + 1);
        }
    }
    // 0.0.0.0 from pc1: the notes say "ok" in all four cases; Linux sends it to 127.0.0.1.
    let zero: Vec<String> = (0..4).map(|c| result(c, "pc1", "0.0.0.0")).collect();
    assert_eq!(zero, ["ok", "refused", "refused", "ok"]);
}

#[cfg(target_os = "linux")]
#[test]
fn lab_tears_down_on_ctrl_c() {
    if let Some(reason) = netns_skip_reason() {
        return testkit::skip(&format!("the lab needs root and `ip netns` ({reason})"));
    }
    let mut proc =
        testkit::Proc::spawn(notes().args(["lab", "--hold"]).stdin(std::process::Stdio::piped()));
    let stdin = proc.take_stdin(); // Held open: only Ctrl-C may end the hold.
    let pid = proc.pid();
    proc.expect_line("press Enter or Ctrl-C");
    assert_eq!(lab_namespaces_of(pid).len(), 2, "pc1 and pc2 exist while holding");
    proc.interrupt();
    let out = proc.finish();
    drop(stdin);
    assert!(out.status.success(), "{out:?}");
    assert!(lab_namespaces_of(pid).is_empty(), "Ctrl-C tore the namespaces down");
}
