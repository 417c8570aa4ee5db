//! The book's "try it" transcripts, replayed against today's binaries, so a page cannot show
//! output the program no longer prints.
//!
//! Our own checker rather than trycmd: trycmd replays one command at a time, while the book's
//! sessions are two terminals (a server waited on by its `listening on` line, a client run
//! against it, then Ctrl-C), and interleaved threads that need per-source comparison.
//!
//! What it reads: every ` ```console ` block in `docs/src/*.md` whose commands run one of this
//! repository's binaries (`01-echo …` or `cargo run -p ch01-echo -- …`). A line starting with
//! `$ ` is a command; the lines under it, up to the next `$ `, are what it printed (stdout and
//! stderr together, as on a terminal); `^C` is the reader pressing Ctrl-C. A block of commands
//! with no output under any of them is a recipe to type, not a transcript, and is skipped.
//!
//! How it replays a block, in a fresh folder, with the binaries first on `PATH`:
//! - A command whose output has a `listening on` line and which keeps running (a `server`,
//!   `serve` or `hello` subcommand, or a `^C` in its output) is a server. It is started on port
//!   0 (`--port N` becomes `--port 0`; without `--port`, `--port 0` is added after the
//!   subcommand) and waited on by its `listening on` line. The next console block on the
//!   page, if it runs one of our binaries or curl, is its second terminal: its commands run
//!   against the port the server really bound (`--port N` and `:N` in URLs are replaced; a
//!   `client` without `--port` gets one). Then the server gets SIGINT if the page shows `^C`,
//!   else it is stopped once it has printed as many lines as the page shows.
//! - Any other command runs to its end (within `ONE_SHOT_LIMIT`); `echo $?` prints the status
//!   of the command before it. A client with no server of the page's gets a port nobody
//!   listens on, never the chapter's fixed default; a port that is the lesson (`--port 80`,
//!   `--port 70000`) is kept.
//!
//! How it compares, line by line after normalising both sides: every port (`:N` after an
//! address, `port N`), descriptor (`fd N`), PID (`pid=N`), time or duration (`12 ms`, `0.41 s`)
//! and rate (`243.9 MB/s`) becomes a placeholder, and runs of spaces become one, so only what
//! changes from run to run is ignored. Where a block shows several sources (`[server] …`,
//! `[client A] …`), which are threads racing each other, each source's lines are compared in
//! their own order, rather than the global order; the lines with no source, which several
//! threads print too, are compared as a set.
//!
//! A line `...` (or `…`) stands for lines the page leaves out; in such a transcript, each line
//! the page shows must be printed, in the page's order (per source), with any lines between.
//!
//! A block of client commands shown without their server says ` ```console,with-server `: the
//! checker starts `BINARY server --port 0` for it (its output is not compared) and points the
//! clients at it. Where the text names a server with flags, a comment right above the block
//! says which: `<!-- with server: 04-udp server --drop 0.3 --seed 7 --quiet -->`.
//!
//! A block that cannot be replayed verbatim (a person typing, a browser, `strace`, a network lab
//! that needs root) says so on the page: a visible paragraph `*Not replayed: REASON.*` right
//! above it, and the info string ` ```console,not-replayed `, which is what this checker reads. Each
//! needs the other, so the mark is never invisible to the reader.
//!
//! A ` ```text ` block is for figures (byte layouts, wire formats, annotated requests), which
//! nothing replays. So a text block with a `$ ` command running one of our binaries is an
//! error: it is a transcript that would escape this checker, and must be a console block,
//! replayed or marked.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::{PATIENCE, Proc};

/// This repository's binaries, with the package `cargo run -p` knows each one by.
pub const BINARIES: [(&str, &str); 7] = [
    ("ch01-echo", "01-echo"),
    ("ch02-multi-conn", "02-multi-conn"),
    ("ch03-long-chat", "03-long-chat"),
    ("ch04-udp", "04-udp"),
    ("ch05-http-server", "05-http-server"),
    ("ch06-http-client", "06-http-client"),
    ("ch07-ip-notes", "07-ip-notes"),
];

/// The info-string word that marks a block the checker does not replay.
pub const NOT_REPLAYED: &str = "not-replayed";

/// The info-string word of a client session shown without its server (the server's terminal
/// would show nothing the reader needs): the checker starts `BINARY server --port 0` for it.
pub const WITH_SERVER: &str = "with-server";

/// The start of an HTML comment, right above a client block, naming the server to replay it
/// against: `<!-- with server: 04-udp server --drop 0.3 --seed 7 --quiet -->`.
pub const WITH_SERVER_COMMENT: &str = "<!-- with server:";

/// The visible note a marked block carries right above it.
pub const NOTE_PREFIX: &str = "*Not replayed:";

/// How long a server gets, after its clients are done, to print the lines the page shows: the
/// lines come from threads that may log a moment after the client saw its answer.
const SETTLE: Duration = Duration::from_secs(5);

/// Whether a page line stands for lines left out of a long transcript (`...` or `…`).
fn is_elision(line: &str) -> bool {
    matches!(line.trim(), "..." | "…")
}

/// How long a command that should end by itself may run: every checked transcript is a short
/// run, so one still going after this is stale (a server where the page shows an error).
const ONE_SHOT_LIMIT: Duration = Duration::from_secs(10);

/// Blocks replayed at once: this is a 2-core machine shared with other builds, and most of a
/// block's time is waiting on sockets and process start-up, not CPU.
const PARALLEL_BLOCKS: usize = 4;

/// One command of a block and the lines the page shows under it.
#[derive(Debug, Clone)]
pub struct Step {
    /// The page line of the `$ ` command (1-based).
    pub line: usize,
    /// The command as written on the page, without `$ `.
    pub command: String,
    /// The output lines the page shows, each with its page line.
    pub output: Vec<(usize, String)>,
}

/// One ` ```console ` block of a page.
#[derive(Debug, Clone)]
pub struct Block {
    /// The page's file name, e.g. `01-echo.md`.
    pub page: String,
    /// The page line of the opening fence (1-based).
    pub line: usize,
    /// Whether the info string says `not-replayed`.
    pub marked: bool,
    /// Whether the visible `*Not replayed: …*` note stands right above the block.
    pub noted: bool,
    /// The server to start for a block that shows only the client side: `BINARY server` for
    /// the info string `with-server`, or the command of a `<!-- with server: … -->` line right
    /// above the block (a server with flags, which the page's text names).
    pub with_server: Option<String>,
    /// The commands, in order.
    pub steps: Vec<Step>,
}

impl Block {
    /// The first repository binary any command of this block runs.
    pub fn binary(&self) -> Option<&'static str> {
        self.steps.iter().find_map(|s| binary_of(&rewrite_cargo_run(&s.command)))
    }

    fn is_recipe(&self) -> bool {
        self.steps.iter().all(|s| s.output.is_empty())
    }

    fn where_(&self) -> String {
        format!("docs/src/{}:{}", self.page, self.line)
    }
}

/// Every console block of one page's markdown.
pub fn console_blocks(page: &str, text: &str) -> Vec<Block> {
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(info) = lines[i].strip_prefix("```console") else {
            i += 1;
            continue;
        };
        let fence = i;
        let marked = info.split(',').any(|word| word.trim() == NOT_REPLAYED);
        let above = lines[..fence].iter().rev().find(|l| !l.trim().is_empty());
        // The note may wrap: it is the paragraph right above, so look at that paragraph's
        // first line.
        let paragraph_start = lines[..fence]
            .iter()
            .rev()
            .skip_while(|l| l.trim().is_empty())
            .take_while(|l| !l.trim().is_empty())
            .last();
        let noted = paragraph_start.is_some_and(|l| l.trim_start().starts_with(NOTE_PREFIX));
        let named_server = above
            .and_then(|l| l.trim().strip_prefix(WITH_SERVER_COMMENT))
            .and_then(|l| l.strip_suffix("-->"))
            .map(|command| command.trim().to_owned());
        let plain_server = info.split(',').any(|word| word.trim() == WITH_SERVER);
        let mut steps: Vec<Step> = Vec::new();
        i += 1;
        while i < lines.len() && !lines[i].starts_with("```") {
            if let Some(command) = lines[i].strip_prefix("$ ") {
                steps.push(Step { line: i + 1, command: command.to_owned(), output: Vec::new() });
            } else if let Some(step) = steps.last_mut() {
                step.output.push((i + 1, lines[i].to_owned()));
            }
            i += 1;
        }
        i += 1;
        let mut block = Block {
            page: page.to_owned(),
            line: fence + 1,
            marked,
            noted,
            with_server: named_server,
            steps,
        };
        if plain_server && block.with_server.is_none() {
            block.with_server = block.binary().map(|binary| format!("{binary} server"));
        }
        blocks.push(block);
    }
    blocks
}

/// Every ` ```text ` block of one page with a `$ ` command running one of our binaries, as a
/// problem naming its page line: such a transcript is never replayed, so it would go stale
/// unnoticed.
pub fn text_transcripts(page: &str, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut fence: Option<(usize, bool)> = None;
    for (i, line) in text.lines().enumerate() {
        match fence {
            None if line.starts_with("```") => {
                let info = &line[3..];
                let is_text = info
                    .strip_prefix("text")
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(','));
                fence = Some((i + 1, is_text));
            }
            None => {}
            Some(_) if line.starts_with("```") => fence = None,
            Some((start, true)) => {
                let ours = line
                    .strip_prefix("$ ")
                    .and_then(|command| binary_of(&rewrite_cargo_run(command)));
                if let Some(binary) = ours {
                    problems.push(format!(
                        "docs/src/{page}:{start}: a transcript of our program in a text block \
                         (`{binary}`, line {}): make it console, replayed or marked \
                         `console,{NOT_REPLAYED}` with a `{NOTE_PREFIX} reason.*` line above",
                        i + 1
                    ));
                    // One problem per block is enough to find it.
                    fence = Some((start, false));
                }
            }
            Some(_) => {}
        }
    }
    problems
}

/// `cargo run -p ch01-echo -- server` and `cargo run --bin 01-echo -- server` become
/// `01-echo server`, the form the rest of the book uses.
pub fn rewrite_cargo_run(command: &str) -> String {
    let mut out = command.to_owned();
    for (package, binary) in BINARIES {
        for form in [format!("cargo run -p {package}"), format!("cargo run --bin {binary}")] {
            out = out.replace(&format!("{form} -- "), &format!("{binary} "));
            if out.ends_with(&form) {
                out = format!("{}{binary}", &out[..out.len() - form.len()]);
            }
        }
    }
    out
}

fn words(command: &str) -> Vec<&str> {
    command
        .split(|c: char| c.is_whitespace() || "|;&()".contains(c))
        .filter(|w| !w.is_empty())
        .collect()
}

fn binary_of(command: &str) -> Option<&'static str> {
    let words = words(command);
    BINARIES.iter().map(|(_, b)| *b).find(|b| words.contains(b))
}

/// Replays every unmarked block whose first repository binary is `binary`, on every page of
/// `book_src`, and fails (panics) with one readable message per stale block. `bin_dir` holds
/// today's binaries (the folder of `CARGO_BIN_EXE_…`); `scratch` is a folder the replays may
/// write into. Also fails when a block is marked but not noted on the page, or the reverse.
pub fn check_chapter(binary: &str, book_src: &Path, bin_dir: &Path, scratch: &Path) {
    let mut blocks = Vec::new();
    let mut problems = Vec::new();
    for path in &crate::book_pages(book_src) {
        let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        blocks.extend(console_blocks(&name, &text));
        problems.extend(text_transcripts(&name, &text));
    }

    let mut units: Vec<(Block, Option<Block>)> = Vec::new();
    let mut marked = 0;
    for (index, block) in blocks.iter().enumerate() {
        if block.marked != block.noted {
            problems.push(format!(
                "{}: a block that is not replayed needs both the info string \
                 `console,{NOT_REPLAYED}` and a visible `{NOTE_PREFIX} reason.*` line right \
                 above it; this one has only one of them",
                block.where_()
            ));
        }
        if block.binary() != Some(binary) || block.is_recipe() {
            continue;
        }
        if block.marked {
            marked += 1;
            continue;
        }
        if is_client_of_previous(&blocks, index) {
            continue; // Replayed with the server block before it.
        }
        let second_terminal = blocks
            .get(index + 1)
            .filter(|_| serves(block))
            .filter(|next| is_client_of_previous(&blocks, index + 1) && next.page == block.page)
            .cloned();
        units.push((block.clone(), second_terminal));
    }

    let path_var = match std::env::var_os("PATH") {
        Some(old) => {
            let mut dirs = vec![bin_dir.to_path_buf()];
            dirs.extend(std::env::split_paths(&old));
            std::env::join_paths(dirs).unwrap_or(old)
        }
        None => bin_dir.as_os_str().to_owned(),
    };
    let next = AtomicUsize::new(0);
    let found = Mutex::new(problems);
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL_BLOCKS {
            scope.spawn(|| {
                while let Some((block, client)) = units.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let dir = scratch.join(format!("{}-{}", block.page, block.line));
                    let _ = fs::remove_dir_all(&dir);
                    if let Err(e) = fs::create_dir_all(&dir) {
                        panic!("cannot make {}: {e}", dir.display());
                    }
                    let shell = Shell { dir: &dir, path_var: &path_var };
                    let mut stale = replay(&shell, block, client.as_ref());
                    let _ = fs::remove_dir_all(&dir);
                    found.lock().unwrap_or_else(|e| e.into_inner()).append(&mut stale);
                }
            });
        }
    });
    let problems = found.into_inner().unwrap_or_else(|e| e.into_inner());
    assert!(
        problems.is_empty(),
        "{} of the book's transcripts of {binary} do not match today's binary \
         ({} replayed, {marked} marked not replayed):\n\n{}",
        problems.len(),
        units.len(),
        problems.join("\n\n")
    );
    assert!(!units.is_empty(), "no transcript of {binary} found in {}", book_src.display());
}

/// Whether the block is a server session: its first command serves until stopped.
fn serves(block: &Block) -> bool {
    block.steps.first().is_some_and(is_server)
}

fn is_server(step: &Step) -> bool {
    let command = rewrite_cargo_run(&step.command);
    let listens = step.output.iter().any(|(_, l)| l.starts_with("listening on "));
    let interrupted = step.output.iter().any(|(_, l)| l.starts_with("^C"));
    let words = words(&command);
    let subcommand = ["server", "serve", "hello"].iter().any(|s| words.contains(s));
    listens && (interrupted || subcommand)
}

/// Whether block `index` is the second terminal of the server block right before it.
fn is_client_of_previous(blocks: &[Block], index: usize) -> bool {
    let (Some(block), Some(previous)) =
        (blocks.get(index), index.checked_sub(1).map(|i| &blocks[i]))
    else {
        return false;
    };
    previous.page == block.page
        && !previous.marked
        && !block.marked
        && serves(previous)
        && previous.steps.len() == 1
        && !block.steps.iter().any(is_server)
        && !block.is_recipe()
        && (block.binary().is_some() || block.steps.iter().all(|s| s.command.starts_with("curl ")))
}

/// Where and how commands run.
struct Shell<'a> {
    dir: &'a Path,
    path_var: &'a std::ffi::OsStr,
}

impl Shell<'_> {
    /// Starts `command` with stderr joined to stdout, as a terminal shows them; `exec` makes
    /// the PID the program's own, so SIGINT reaches it, not a shell.
    ///
    /// `setsid` gives the command a process group of its own (its id is the PID), so that
    /// [`end_group`] also ends what it started (a pipeline, `strace`'s child).
    fn spawn(&self, command: &str, exec: bool) -> Proc {
        let script = format!("exec 2>&1; {}{command}", if exec { "exec " } else { "" });
        Proc::spawn(
            Command::new("setsid")
                .arg("sh")
                .arg("-c")
                .arg(script)
                .current_dir(self.dir)
                .env("PATH", self.path_var)
                .env("NO_COLOR", "1")
                .env("TERM", "dumb")
                .stdin(Stdio::null()),
        )
    }
}

impl Shell<'_> {
    /// Runs a command that should end by itself; its exit code and output, or why not.
    fn run(&self, command: &str) -> Result<(i32, String), String> {
        let simple = !command.contains(|c: char| "|;&<>".contains(c));
        let proc = self.spawn(command, simple);
        let deadline = Instant::now() + ONE_SHOT_LIMIT;
        while proc.next_line(deadline.saturating_duration_since(Instant::now())).is_some() {}
        if Instant::now() >= deadline {
            crate::kill_group(proc.pid());
            return Err(format!(
                "`{command}` still ran after {ONE_SHOT_LIMIT:?}: the page shows it ending"
            ));
        }
        let done = proc.finish();
        Ok((done.status.code().unwrap_or(-1), done.stdout))
    }
}

/// A command with no server of the page's to talk to: a server subcommand binds port 0, and a
/// client's `--port N` (or a URL's `127.0.0.1:N`) becomes `closed_port`.
fn lone_command(command: &str, shown: &[(usize, String)], closed_port: &str) -> String {
    let words = words(command);
    if ["server", "serve", "hello"].iter().any(|s| words.contains(s)) {
        return server_command(command);
    }
    // Every client gets a port, never the chapter's fixed default, except in a usage error,
    // whose `Usage:` line would show the added flag.
    let usage_error = shown.iter().any(|(_, l)| l.starts_with("Usage:"));
    let mut out = if !usage_error || command.contains("--port") {
        set_port(command, closed_port, &["client"])
    } else {
        command.to_owned()
    };
    for host in ["127.0.0.1:", "localhost:", "[::1]:"] {
        let mut pieces = out.split(host);
        let mut rebuilt = pieces.next().unwrap_or_default().to_owned();
        for piece in pieces {
            let digits = piece.find(|c: char| !c.is_ascii_digit()).unwrap_or(piece.len());
            // A number that is no port (`:99999`) is the lesson of its block: kept.
            let is_port = piece[..digits].parse::<u16>().is_ok();
            let port = if is_port { closed_port } else { &piece[..digits] };
            rebuilt.push_str(&format!("{host}{port}{}", &piece[digits..]));
        }
        out = rebuilt;
    }
    out
}

/// Replays one block (and its second terminal) and returns what is stale.
fn replay(shell: &Shell<'_>, block: &Block, client: Option<&Block>) -> Vec<String> {
    let mut problems = Vec::new();
    let helper = block.with_server.as_deref().map(|command| {
        let server = shell.spawn(&server_command(command), true);
        let port = std::iter::from_fn(|| server.next_line(PATIENCE)).find_map(|line| {
            line.strip_prefix("listening on ")
                .and_then(|addr| addr.trim().rsplit(':').next())
                .map(str::to_owned)
        });
        (server, port)
    });
    // A client shown without its server connects to a port nobody listens on (refused), never
    // to the page's fixed port, where another program may be listening.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port().to_string())
        .unwrap_or_else(|_| "1".to_owned());
    let mut status = 0;
    for (n, step) in block.steps.iter().enumerate() {
        let command = rewrite_cargo_run(&step.command);
        if command.trim() == "echo $?" {
            compare(block, step, &format!("{status}\n"), None, &mut problems);
            continue;
        }
        if !is_server(step) {
            let command = match &helper {
                Some((_, Some(port))) => client_command(&command, port, None),
                _ => lone_command(&command, &step.output, &closed_port),
            };
            match shell.run(&command) {
                Ok((code, printed)) => {
                    status = code;
                    compare(block, step, &printed, None, &mut problems);
                }
                Err(late) => {
                    problems.push(format!("docs/src/{}:{}: {late}", block.page, step.line))
                }
            }
            continue;
        }
        if n > 0 {
            problems.push(format!(
                "{}: a server command after the first one in a block cannot be replayed; \
                 split the block or mark it",
                block.where_()
            ));
            return problems;
        }
        let page_port = step.output.iter().find_map(|(_, l)| {
            l.strip_prefix("listening on ")
                .and_then(|addr| addr.trim().rsplit(':').next())
                .map(str::to_owned)
        });
        let server = shell.spawn(&server_command(&command), true);
        let mut seen = Vec::new();
        let deadline = Instant::now() + PATIENCE;
        let port = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(line) = server.next_line(left) else { break None };
            let port = line
                .strip_prefix("listening on ")
                .and_then(|addr| addr.trim().rsplit(':').next())
                .map(str::to_owned);
            seen.push(line);
            if port.is_some() {
                break port;
            }
        };
        let Some(port) = port else {
            crate::kill_group(server.pid());
            let done = server.finish();
            compare(block, step, &done.stdout, None, &mut problems);
            return problems;
        };
        let unport = page_port.as_deref().map(|page| (port.as_str(), page));
        if let Some(client) = client {
            let mut status = 0;
            for client_step in &client.steps {
                let command = rewrite_cargo_run(&client_step.command);
                if command.trim() == "echo $?" {
                    compare(client, client_step, &format!("{status}\n"), None, &mut problems);
                    continue;
                }
                let command = client_command(&command, &port, page_port.as_deref());
                match shell.run(&command) {
                    Ok((code, printed)) => {
                        status = code;
                        compare(client, client_step, &printed, unport, &mut problems);
                    }
                    Err(late) => problems
                        .push(format!("docs/src/{}:{}: {late}", client.page, client_step.line)),
                }
            }
        }
        let shown: Vec<&String> = step.output.iter().map(|(_, l)| l).collect();
        let interrupt_at = shown.iter().position(|l| l.starts_with("^C"));
        let wait_for = interrupt_at.unwrap_or(shown.len());
        // With lines left out (`...`), a count of lines says nothing about how far the server
        // got: Ctrl-C then waits until the last line the page shows before it has been printed
        // as often as the page shows it (two connections' `close(fd N)` look alike).
        let before_ctrl_c = &shown[..wait_for];
        let last = before_ctrl_c
            .iter()
            .any(|l| is_elision(l))
            .then(|| before_ctrl_c.iter().rev().find(|l| !is_elision(l) && !l.trim().is_empty()))
            .flatten()
            .map(|l| normalise(l));
        let count = |lines: &[&String]| {
            last.as_deref().map_or(0, |want| lines.iter().filter(|l| normalise(l) == want).count())
        };
        let shown_times = count(before_ctrl_c);
        let settle = Instant::now() + SETTLE;
        while seen.len() < wait_for || count(&seen.iter().collect::<Vec<_>>()) < shown_times {
            let left = settle.saturating_duration_since(Instant::now());
            match server.next_line(left) {
                Some(line) => seen.push(line),
                None => break,
            }
        }
        let printed = if interrupt_at.is_some() {
            server.interrupt();
            server.finish().stdout
        } else {
            seen.iter().map(|l| format!("{l}\n")).collect()
        };
        compare(block, step, &printed, unport, &mut problems);
    }
    problems
}

/// The server command on port 0: `--port N` becomes `--port 0`, or `--port 0` is added after
/// the subcommand.
fn server_command(command: &str) -> String {
    set_port(command, "0", &["server", "serve", "hello"])
}

/// The client command against `port`: `--port N` and `:PAGE_PORT` in URLs become the real
/// port; a `client` subcommand without `--port` gets one.
fn client_command(command: &str, port: &str, page_port: Option<&str>) -> String {
    // A terminal shows curl no progress meter, and neither does this replay.
    let mut out = match command.strip_prefix("curl ") {
        Some(args) => format!("curl --no-progress-meter {args}"),
        None => set_port(command, port, &["client"]),
    };
    if let Some(page) = page_port {
        out = out.replace(&format!(":{page}/"), &format!(":{port}/"));
    }
    out
}

fn set_port(command: &str, port: &str, after: &[&str]) -> String {
    let mut tokens: Vec<String> = command.split(' ').map(str::to_owned).collect();
    if let Some(i) = tokens.iter().position(|t| t == "--port") {
        // A value that is no port (`--port 70000`) or a privileged one (`--port 80`, which only
        // root may bind) is the lesson of its block: kept.
        let ordinary = |v: &&mut String| v.parse::<u16>().is_ok_and(|p| p >= 1024 || p == 0);
        if let Some(value) = tokens.get_mut(i + 1).filter(ordinary) {
            *value = port.to_owned();
        }
        return tokens.join(" ");
    }
    if tokens.iter().any(|t| t == "--unix") {
        return tokens.join(" ");
    }
    let binary_at = tokens.iter().position(|t| BINARIES.iter().any(|(_, b)| b == t));
    let sub = binary_at.and_then(|b| {
        tokens.iter().skip(b + 1).position(|t| after.contains(&t.as_str())).map(|p| p + b + 1)
    });
    if let Some(i) = sub {
        tokens.insert(i + 1, port.to_owned());
        tokens.insert(i + 1, "--port".to_owned());
    }
    tokens.join(" ")
}

/// Compares what a command printed with what the page shows under it, and records a readable
/// difference naming the page line. `unport` maps the real port back to the page's, so the
/// printed output can be pasted into the page as it is.
fn compare(
    block: &Block,
    step: &Step,
    printed: &str,
    unport: Option<(&str, &str)>,
    problems: &mut Vec<String>,
) {
    let expected: Vec<(usize, String)> = {
        let mut lines: Vec<(usize, String)> =
            // `^C` is the terminal echoing Ctrl-C, sometimes with the next line right after it.
            step.output
                .iter()
                .filter(|(_, l)| l.trim() != "^C")
                .map(|(n, l)| (*n, l.strip_prefix("^C").unwrap_or(l).to_owned()))
                .collect();
        while lines.last().is_some_and(|(_, l)| l.trim().is_empty()) {
            lines.pop();
        }
        lines
    };
    let mut actual: Vec<&str> = printed.lines().collect();
    while actual.last().is_some_and(|l| l.trim().is_empty()) {
        actual.pop();
    }
    let sources: BTreeSet<Option<String>> = expected.iter().map(|(_, l)| source(l)).collect();
    let per_source = sources.iter().filter(|s| s.is_some()).count() >= 2;
    let groups: Vec<Option<String>> =
        if per_source { sources.into_iter().collect() } else { vec![None] };
    let elided = expected.iter().any(|(_, l)| is_elision(l));
    let mut differences = Vec::new();
    for group in &groups {
        let keep = |line: &str| !per_source || source(line) == *group;
        let mut want: Vec<&(usize, String)> =
            expected.iter().filter(|(_, l)| keep(l) && !is_elision(l)).collect();
        let mut got: Vec<&str> = actual.iter().copied().filter(|l| keep(l)).collect();
        if per_source && group.is_none() {
            // The lines with no source come from several threads too (a server's access log, a
            // client's result): compared as a set, each page line printed once.
            want.sort_by_key(|(_, l)| normalise(l));
            got.sort_by_key(|l| normalise(l));
        }
        if elided {
            let mut from = 0;
            for (n, line) in &want {
                let wanted = normalise(line);
                match got[from..].iter().position(|g| normalise(g) == wanted) {
                    Some(k) => from += k + 1,
                    None => {
                        differences.push(format!(
                            "docs/src/{}:{n}: `{}`: this line is not printed (or not in this \
                             order)\n    page:   {line}",
                            block.page, step.command
                        ));
                        break;
                    }
                }
            }
            continue;
        }
        for k in 0..want.len().max(got.len()) {
            let w = want.get(k).map(|(_, l)| normalise(l));
            let g = got.get(k).map(|l| normalise(l));
            if w != g {
                let at = want.get(k).or(want.last()).map_or(step.line, |(n, _)| *n);
                let name = match group {
                    Some(tag) => format!(" (the [{tag}] lines, compared in their own order)"),
                    None if per_source => " (the lines with no [source])".to_owned(),
                    None => String::new(),
                };
                differences.push(format!(
                    "docs/src/{}:{at}: `{}`{name}\n    page:   {}\n    binary: {}",
                    block.page,
                    step.command,
                    want.get(k).map_or("(no more lines)", |(_, l)| l.as_str()),
                    got.get(k).copied().unwrap_or("(no more lines)"),
                ));
                break;
            }
        }
    }
    if differences.is_empty() {
        return;
    }
    let mut shown = printed.trim_end().to_owned();
    if let Some((real, page)) = unport {
        shown = shown.replace(&format!(":{real}"), &format!(":{page}"));
    }
    problems.push(format!(
        "{}\n  today's binary, for the command at docs/src/{}:{}, printed (ports as on the \
         page):\n{}",
        differences.join("\n"),
        block.page,
        step.line,
        shown.lines().map(|l| format!("    {l}\n")).collect::<String>().trim_end()
    ));
}

/// The `[source]` a narrated line starts with (`[server]`, `[client A]`), if any.
fn source(line: &str) -> Option<String> {
    let rest = line.strip_prefix('[')?;
    let tag = &rest[..rest.find(']')?];
    let first = tag.chars().next()?;
    let plain = tag.chars().all(|c| c.is_alphanumeric() || " -_".contains(c));
    (first.is_alphabetic() && plain).then(|| tag.to_owned())
}

/// Replaces what changes from run to run with a placeholder: ports, descriptors, PIDs, times,
/// durations and rates; and runs of blanks with one space.
pub fn normalise(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let after_word = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if !c.is_ascii_digit() || after_word {
            out.push(c);
            i += 1;
            continue;
        }
        let mut end = i;
        while end < chars.len() && chars[end].is_ascii_digit() {
            end += 1;
        }
        if end + 1 < chars.len() && chars[end] == '.' && chars[end + 1].is_ascii_digit() {
            end += 1;
            while end < chars.len() && chars[end].is_ascii_digit() {
                end += 1;
            }
        }
        let rest: String = chars[end..].iter().collect();
        match placeholder(&out, &rest) {
            Some((mark, unit_len)) => {
                out.push_str(mark);
                end += unit_len;
            }
            None => out.extend(&chars[i..end]),
        }
        i = end;
    }
    // HTTP's dates (`Tue, 24 Nov 2026`) and the access log's (`[24/Nov/2026:…]`): the day's
    // name is the one word that changes from run to run.
    const DAYS: [&str; 7] = ["Mon,", "Tue,", "Wed,", "Thu,", "Fri,", "Sat,", "Sun,"];
    out.split_whitespace()
        .map(|word| if DAYS.contains(&word) { "<day>," } else { word })
        .collect::<Vec<_>>()
        .join(" ")
}

const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// What the number between `before` and `rest` stands for, if it changes from run to run, and
/// how many characters of `rest` go with it (a time's unit: `950 ms` and `1.02 s` are alike).
fn placeholder(before: &str, rest: &str) -> Option<(&'static str, usize)> {
    let port_colon = before
        .strip_suffix(':')
        .and_then(|b| b.chars().last())
        .is_some_and(|c| c.is_alphanumeric() || c == ']' || c == '>');
    // `recv(…) x 3151`: how many calls a bulk transfer took depends on the scheduler.
    let labelled = ["fd ", "fd=", "pid=", "pid ", "PID ", "port ", "port=", "pid:", ") x "]
        .iter()
        .any(|label| before.ends_with(label));
    // `rtt min/avg/max/mdev = 0.095/0.095/0.095/0.000 ms`: all four are times.
    if rest.starts_with('/') && rest[1..].starts_with(|c: char| c.is_ascii_digit()) {
        return Some(("<time>", 0));
    }
    let clock = rest.starts_with(':') && rest[1..].starts_with(|c: char| c.is_ascii_digit());
    let day_of_month =
        MONTHS.iter().any(|m| rest.strip_prefix([' ', '/']).is_some_and(|r| r.starts_with(m)));
    if day_of_month {
        return Some(("<date>", 4));
    }
    let year = before.strip_suffix([' ', '/']).is_some_and(|b| b.ends_with("<date>"));
    if port_colon || labelled || year || (clock && before.ends_with([' ', ':'])) {
        return Some(("<n>", 0));
    }
    let unit = rest.strip_prefix(' ').unwrap_or(rest);
    let token: String =
        unit.chars().take_while(|c| !c.is_whitespace() && !",;)]".contains(*c)).collect();
    if token.ends_with("/s") && token.len() > 2 {
        return Some(("<rate>", 0));
    }
    let space = rest.len() - unit.len();
    ["ns", "µs", "us", "ms", "s", "min", "h"]
        .iter()
        .find(|u| {
            unit.strip_prefix(**u)
                .is_some_and(|tail| !tail.starts_with(|c: char| c.is_alphanumeric()))
        })
        .map(|u| ("<time>", space + u.chars().count()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising_keeps_words_and_counts_and_drops_ports_fds_times_and_rates() {
        assert_eq!(
            normalise("[server] accept() -> fd 4, peer 127.0.0.1:37970"),
            "[server] accept() -> fd <n>, peer 127.0.0.1:<n>"
        );
        assert_eq!(
            normalise("sent 100.0 MiB in 0.41 s (243.9 MB/s), 12 ms,  pid=15948"),
            "sent 100.0 MiB in <time> (<rate> MB/s), <time>, pid=<n>"
        );
        assert_eq!(
            normalise("served 2 connections, echoed 20 B"),
            "served 2 connections, echoed 20 B"
        );
        assert_eq!(normalise("listening on [::1]:65432"), "listening on [::1]:<n>");
        assert_eq!(
            normalise("Date: Tue, 24 Nov 2026 08:35:04 GMT [24/Nov/2026:08:35:04 +0000]"),
            "Date: <day>, <date> <n> <n>:<n>:<n> GMT [<date>/<n>:<n>:<n>:<n> +0000]"
        );
    }

    #[test]
    fn blocks_commands_outputs_and_marks_are_read() {
        let page = concat!(
            "text\n\n*Not replayed: a person typing.*\n\n",
            "```console,not-replayed\n$ 03-long-chat client\n> hi\n```\n\n",
            "```console\n$ cargo run -p ch01-echo -- server\nlistening on 127.0.0.1:65432\n^C\n```\n",
        );
        let blocks = console_blocks("p.md", page);
        assert_eq!(blocks.len(), 2);
        assert!(blocks[0].marked && blocks[0].noted);
        assert_eq!(blocks[1].binary(), Some("01-echo"));
        assert!(serves(&blocks[1]));
        assert_eq!(rewrite_cargo_run(&blocks[1].steps[0].command), "01-echo server");
        let wrapped =
            "*Not replayed: a note\nthat wraps.*\n\n```console,not-replayed\n$ 01-echo x\n```\n";
        assert!(console_blocks("p.md", wrapped)[0].noted);
        let unnoted =
            "Some text\n*Not replayed: not the first line.*\n\n```console\n$ 01-echo x\n```\n";
        assert!(!console_blocks("p.md", unnoted)[0].noted);
        let named = concat!(
            "<!-- with server: 04-udp server --drop 0.3 --seed 7 -->\n",
            "```console\n$ 04-udp client\nx\n```\n\n",
            "```console,with-server\n$ 04-udp client\nx\n```\n",
        );
        let blocks = console_blocks("p.md", named);
        assert_eq!(blocks[0].with_server.as_deref(), Some("04-udp server --drop 0.3 --seed 7"));
        assert_eq!(blocks[1].with_server.as_deref(), Some("04-udp server"));
        assert_eq!(
            server_command("04-udp server --drop 0.3 --seed 7"),
            "04-udp server --port 0 --drop 0.3 --seed 7"
        );
        assert_eq!(server_command("01-echo server --trace"), "01-echo server --port 0 --trace");
        assert_eq!(
            client_command("printf 'x' | 01-echo client --stdin", "4242", Some("65432")),
            "printf 'x' | 01-echo client --port 4242 --stdin"
        );
        assert_eq!(
            client_command("06-http-client http://127.0.0.1:8000/a", "4242", Some("8000")),
            "06-http-client http://127.0.0.1:4242/a"
        );
    }

    #[test]
    fn a_transcript_of_ours_in_a_text_block_is_an_error_and_a_figure_is_not() {
        let transcript = concat!(
            "Intro.\n\n```text\nlistening on 127.0.0.1:9998\n```\n\n",
            "```text\n$ 03-long-chat client --name alice\nconnected to 127.0.0.1:9998\n```\n",
        );
        let problems = text_transcripts("p.md", transcript);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("docs/src/p.md:7: a transcript of our program"));
        assert!(problems[0].contains("make it console"));
        let cargo_run = "```text\n$ cargo run -p ch01-echo -- server\nlistening on x\n```\n";
        assert_eq!(text_transcripts("p.md", cargo_run).len(), 1);

        let figures = concat!(
            "```text\n00 00 00 0c   length: 12\n01            kind: TEXT\n```\n\n",
            "```text\n$ python3 docs/src/python/07-address-notes.py 10.1.2.3\n```\n\n",
            "```text\n$ curl -sv http://127.0.0.1:9990/\n< HTTP/1.1 200 OK\n```\n\n",
            "```console\n$ 01-echo server\nlistening on 127.0.0.1:65432\n```\n\n",
            "```rust\n// $ 01-echo server\n```\n",
        );
        assert_eq!(text_transcripts("p.md", figures), Vec::<String>::new());
    }
}
