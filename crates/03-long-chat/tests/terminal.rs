//! The client in a real terminal: tmux runs it in a pseudo-terminal, types into it with
//! `send-keys` and reads the screen with `capture-pane`. A message that arrives while a line is
//! half typed must appear above the prompt, and the half-typed line must survive; then Up must
//! recall what was typed before.
//!
//! tmux runs on a private socket (`tmux -S PATH`, like `-L NAME` but at a path of our own, in
//! the test's temporary folder), so the test never touches a tmux server of yours; the guard
//! kills that server at the end, pass or fail, and the folder goes with it.

// Test helpers may unwrap: a panic in a test is a failure with a message, which is the point.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::net::TcpStream;
use std::process::{Command, Output};
use std::time::Instant;

use ch03_long_chat::connection::Connection;
use ch03_long_chat::frame::{Frame, Kind};
use testkit::{PATIENCE, Proc};

/// A tmux server of our own; killed on drop.
struct Tmux {
    socket: std::path::PathBuf,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> Output {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(["-f", "/dev/null"]) // No user configuration: the screen is tmux's default.
            .args(args)
            .output()
            .expect("tmux runs (.ci/run installs it)");
        assert!(out.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out
    }

    /// The screen, one string per row, trailing blanks trimmed.
    fn screen(&self) -> Vec<String> {
        let out = self.run(&["capture-pane", "-p", "-t", "chat"]);
        String::from_utf8_lossy(&out.stdout).lines().map(|l| l.trim_end().to_owned()).collect()
    }

    /// Waits until `check` holds for the screen (polling it: waiting on a condition, with a
    /// deadline), and returns that screen.
    fn wait_for(&self, what: &str, check: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let screen = self.screen();
            if check(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "the screen never showed {what}:\n{}",
                screen.join("\n")
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "chat"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Types text literally (`-l`: no key names), without Enter.
    fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "chat", "-l", text]);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").arg("-S").arg(&self.socket).arg("kill-server").output();
    }
}

/// The last row with something on it: where the prompt is.
fn prompt_row(screen: &[String]) -> (usize, &str) {
    screen
        .iter()
        .enumerate()
        .rev()
        .find(|(_, l)| !l.is_empty())
        .map(|(i, l)| (i, l.as_str()))
        .unwrap_or((0, ""))
}

fn frames_until(conn: &mut Connection<&TcpStream>, text: &str) {
    loop {
        let frame = conn.read_frame().unwrap().unwrap();
        if frame.kind == Kind::Text && frame.text == text {
            return;
        }
    }
}

#[test]
fn a_message_arrives_above_a_half_typed_line_and_up_recalls_history() {
    let server = Proc::spawn(
        Command::new(env!("CARGO_BIN_EXE_03-long-chat")).args(["server", "--port", "0"]),
    );
    let addr = server.listening_addr();
    let port = addr.rsplit(':').next().unwrap();
    let home = tempfile::tempdir().unwrap();
    let history = home.path().join("history.txt");

    let tmux = Tmux { socket: home.path().join("tmux.sock") };
    let client = format!(
        "{} client --port {port} --name alice --history {}",
        env!("CARGO_BIN_EXE_03-long-chat"),
        history.display()
    );
    tmux.run(&["new-session", "-d", "-s", "chat", "-x", "100", "-y", "20", &client]);
    tmux.wait_for("the welcome", |s| s.iter().any(|l| l.starts_with("* you are alice")));

    // bob: a client written frame by frame, to type into the room on cue.
    let bob = TcpStream::connect(&addr).unwrap();
    bob.set_read_timeout(Some(PATIENCE)).unwrap();
    (&bob).write_all(&Frame::new(Kind::Join, "bob").to_bytes()).unwrap();
    let mut bob_frames = Connection::new(&bob);
    tmux.wait_for("bob joining", |s| s.iter().any(|l| l == "* bob joined"));

    tmux.type_text("first line");
    tmux.keys(&["Enter"]);
    frames_until(&mut bob_frames, "alice: first line");

    // Half a line typed, and bob speaks.
    tmux.type_text("half a li");
    tmux.wait_for("the half-typed line", |s| prompt_row(s).1 == "> half a li");
    (&bob).write_all(&Frame::new(Kind::Text, "hello from bob").to_bytes()).unwrap();
    let screen = tmux.wait_for("bob's line", |s| s.iter().any(|l| l == "bob: hello from bob"));
    let message = screen.iter().position(|l| l == "bob: hello from bob").unwrap();
    let (prompt, text) = prompt_row(&screen);
    assert_eq!(text, "> half a li", "the typed text survives:\n{}", screen.join("\n"));
    assert!(message < prompt, "the message is above the prompt:\n{}", screen.join("\n"));

    // The line goes on where it was, and is sent whole.
    tmux.type_text("ne");
    tmux.keys(&["Enter"]);
    frames_until(&mut bob_frames, "alice: half a line");

    // Up recalls the history, newest first.
    tmux.keys(&["Up"]);
    tmux.wait_for("the last line recalled", |s| prompt_row(s).1 == "> half a line");
    tmux.keys(&["Up"]);
    tmux.wait_for("the first line recalled", |s| prompt_row(s).1 == "> first line");

    // Clear the line (Ctrl-U) and leave.
    tmux.keys(&["C-u"]);
    tmux.type_text("/quit");
    tmux.keys(&["Enter"]);
    loop {
        let frame = bob_frames.read_frame().unwrap().unwrap();
        if frame.kind == Kind::Leave {
            assert_eq!(frame.text, "alice");
            break;
        }
    }
    let saved = std::fs::read_to_string(&history).unwrap();
    assert!(saved.contains("first line") && saved.contains("half a line"), "{saved}");
    drop(tmux);
    server.stop();
}

#[test]
fn two_clients_sharing_a_history_file_keep_each_others_lines() {
    let server = Proc::spawn(
        Command::new(env!("CARGO_BIN_EXE_03-long-chat")).args(["server", "--port", "0"]),
    );
    let addr = server.listening_addr();
    let port = addr.rsplit(':').next().unwrap();
    let home = tempfile::tempdir().unwrap();
    let history = home.path().join("history.txt");
    let watcher = TcpStream::connect(&addr).unwrap();
    watcher.set_read_timeout(Some(PATIENCE)).unwrap();
    (&watcher).write_all(&Frame::new(Kind::Join, "watcher").to_bytes()).unwrap();
    let mut heard = Connection::new(&watcher);

    // Two terminals, two clients, one history file; both load it before either types.
    let tmux = Tmux { socket: home.path().join("tmux.sock") };
    for name in ["ann", "ben"] {
        let client = format!(
            "{} client --port {port} --name {name} --history {}",
            env!("CARGO_BIN_EXE_03-long-chat"),
            history.display()
        );
        tmux.run(&["new-session", "-d", "-s", name, "-x", "100", "-y", "20", &client]);
        loop {
            let frame = heard.read_frame().unwrap().unwrap();
            if frame.kind == Kind::Join && frame.text == name {
                break;
            }
        }
    }
    // A line is in the file before it is sent, so hearing it means it has been saved.
    for (name, line) in [("ann", "from ann"), ("ben", "from ben"), ("ann", "ann again")] {
        tmux.run(&["send-keys", "-t", name, "-l", line]);
        tmux.run(&["send-keys", "-t", name, "Enter"]);
        frames_until(&mut heard, &format!("{name}: {line}"));
    }
    let saved = std::fs::read_to_string(&history).unwrap();
    for line in ["from ann", "from ben", "ann again"] {
        assert!(saved.contains(line), "{line:?} was lost:\n{saved}");
    }
    drop(tmux);
    server.stop();
}

#[test]
fn trace_narration_goes_above_the_prompt_too() {
    let server = Proc::spawn(
        Command::new(env!("CARGO_BIN_EXE_03-long-chat")).args(["server", "--port", "0"]),
    );
    let addr = server.listening_addr();
    let port = addr.rsplit(':').next().unwrap();
    let home = tempfile::tempdir().unwrap();
    let tmux = Tmux { socket: home.path().join("tmux.sock") };
    let client = format!(
        "{} --trace client --port {port} --name alice --no-history",
        env!("CARGO_BIN_EXE_03-long-chat")
    );
    tmux.run(&["new-session", "-d", "-s", "chat", "-x", "100", "-y", "30", &client]);
    tmux.wait_for("the welcome", |s| s.iter().any(|l| l.starts_with("* you are alice")));
    let bob = TcpStream::connect(&addr).unwrap();
    (&bob).write_all(&Frame::new(Kind::Join, "bob").to_bytes()).unwrap();
    tmux.wait_for("bob joining", |s| s.iter().any(|l| l == "* bob joined"));

    tmux.type_text("half a li");
    tmux.wait_for("the half-typed line", |s| prompt_row(s).1 == "> half a li");
    (&bob).write_all(&Frame::new(Kind::Text, "hello from bob").to_bytes()).unwrap();
    let screen = tmux.wait_for("bob's line", |s| s.iter().any(|l| l == "bob: hello from bob"));
    let (prompt, text) = prompt_row(&screen);
    assert_eq!(text, "> half a li", "the typed text survives:\n{}", screen.join("\n"));
    let narration = screen.iter().position(|l| l.starts_with("[client] recv frame TEXT "));
    assert!(
        narration.is_some_and(|row| row < prompt),
        "the narration is a line of its own above the prompt:\n{}",
        screen.join("\n")
    );
    drop(tmux);
    server.stop();
}
