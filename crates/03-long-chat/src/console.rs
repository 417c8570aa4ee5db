//! The keyboard and the screen: a prompt you can type at while messages arrive.
//!
//! A chat is full duplex: lines arrive from the network while you are half-way through typing
//! your own. Printing them with `println!` would write into the middle of your line. A line
//! editor solves it: rustyline's **external printer** hands a message to the thread that owns
//! the terminal, which erases the prompt line, prints the message, and draws the prompt again
//! with what you had typed, cursor and all.
//!
//! When stdin or stdout is not a terminal (a pipe, a file, a test), there is no prompt to
//! protect: lines are read plainly from stdin and messages printed plainly to stdout, with no
//! prompt in the output.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use anyhow::{Context, Result};
use rustyline::error::ReadlineError;
use rustyline::{DefaultEditor, ExternalPrinter};

/// What the keyboard produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A line, without its newline.
    Line(String),
    /// Ctrl-D, or the end of piped input.
    End,
    /// Ctrl-C at the prompt.
    Interrupted,
}

/// Where the history of typed lines is kept.
#[derive(Debug, Clone)]
pub enum History {
    /// No history file.
    Off,
    /// This file.
    File(PathBuf),
}

impl History {
    /// The default file: `03-long-chat-history.txt` in the platform's state folder
    /// (`$XDG_STATE_HOME` or `~/.local/state` on Linux), else its data folder (macOS, Windows).
    pub fn default_file() -> History {
        match dirs::state_dir().or_else(dirs::data_dir) {
            Some(dir) => {
                History::File(dir.join("sockets-by-example").join("03-long-chat-history.txt"))
            }
            None => History::Off,
        }
    }
}

/// Prints incoming messages: above the prompt on a terminal, plainly on a pipe. Clone it into
/// every thread that prints.
#[derive(Clone)]
pub struct Printer {
    external: Option<Arc<Mutex<Box<dyn ExternalPrinter + Send>>>>,
}

impl Printer {
    /// A printer for plain stdout.
    pub fn plain() -> Self {
        Self { external: None }
    }

    /// Prints one line above the prompt; `false` when there is no prompt (or it has gone).
    fn above_prompt(&self, text: &str) -> bool {
        let Some(external) = &self.external else { return false };
        let mut printer = external.lock().unwrap_or_else(PoisonError::into_inner);
        printer.print(format!("{text}\n")).is_ok()
    }

    /// Prints one line.
    pub fn line(&self, text: &str) {
        // The editor's thread erases the prompt, prints this, and redraws the prompt. With no
        // prompt: one write per line, so two threads' lines never mix; a closed pipe is ignored.
        if !self.above_prompt(text) {
            let _ = writeln!(io::stdout().lock(), "{text}");
        }
    }
}

/// The terminal's mode before rustyline changed it, to give it back if we must exit while
/// another thread is inside `readline` (in raw mode).
pub struct TerminalGuard {
    #[cfg(unix)]
    saved: Option<nix::sys::termios::Termios>,
}

impl TerminalGuard {
    /// Puts the terminal back the way it was (echo, line mode), and narration back on stderr.
    /// Harmless if it already is.
    pub fn restore(&self) {
        common::narrate::route_through(None);
        #[cfg(unix)]
        if let Some(saved) = &self.saved {
            let _ = nix::sys::termios::tcsetattr(
                io::stdin(),
                nix::sys::termios::SetArg::TCSANOW,
                saved,
            );
        }
    }
}

/// Is this an interactive session (stdin and stdout both terminals)?
pub fn interactive() -> bool {
    io::stdin().is_terminal() && io::stdout().is_terminal()
}

// ANCHOR: start
/// Starts reading the keyboard on a thread of its own, passing each [`Input`] to `on_input`
/// until it returns `false` (or input ends). Returns the printer to use for incoming lines.
///
/// # Errors
/// When the terminal cannot be set up for line editing.
pub fn start(
    prompt: &str,
    history: &History,
    on_input: impl FnMut(Input) -> bool + Send + 'static,
) -> Result<(Printer, TerminalGuard)> {
    if !interactive() {
        thread::Builder::new().name("stdin".into()).spawn(move || read_plain(on_input))?;
        #[cfg(unix)]
        return Ok((Printer::plain(), TerminalGuard { saved: None }));
        #[cfg(not(unix))]
        return Ok((Printer::plain(), TerminalGuard {}));
    }
    let guard = TerminalGuard {
        #[cfg(unix)]
        saved: nix::sys::termios::tcgetattr(io::stdin()).ok(),
    };
    let mut editor = DefaultEditor::new().context("could not set up the line editor")?;
    if let History::File(path) = history {
        // A missing file is the first run, not an error.
        let _ = editor.load_history(path);
    }
    let external = editor.create_external_printer().context("could not set up the printer")?;
    let printer = Printer { external: Some(Arc::new(Mutex::new(Box::new(external)))) };
    // `--trace` narration too goes above the prompt while the editor owns the terminal (not
    // when stderr is redirected: then it is not on the terminal and stays where it was sent).
    if io::stderr().is_terminal() {
        let narration = printer.clone();
        common::narrate::route_through(Some(Box::new(move |line| narration.above_prompt(line))));
    }
    let (prompt, history) = (prompt.to_owned(), history.clone());
    thread::Builder::new()
        .name("keyboard".into())
        .spawn(move || read_edited(editor, &prompt, &history, on_input))?;
    Ok((printer, guard))
}
// ANCHOR_END: start

/// The terminal: rustyline's prompt, line editing and history (Up recalls earlier lines).
fn read_edited(
    mut editor: DefaultEditor,
    prompt: &str,
    history: &History,
    mut on_input: impl FnMut(Input) -> bool,
) {
    loop {
        let input = match editor.readline(prompt) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                    if let History::File(path) = history {
                        save_history(&mut editor, path);
                    }
                }
                Input::Line(line)
            }
            Err(ReadlineError::Interrupted) => Input::Interrupted,
            Err(_) => Input::End, // Ctrl-D, or the terminal went away.
        };
        let more = matches!(input, Input::Line(_));
        if !on_input(input) || !more {
            return;
        }
    }
}

/// Saves the history after every line, so nothing is lost however the program ends.
///
/// It *appends* this session's new lines (rustyline's `append_history`, under a lock on the
/// file, merging with what other sessions wrote since we loaded it) rather than rewriting the
/// file from our copy: two clients on one machine share the file, and a rewrite by one would
/// erase every line the other typed.
fn save_history(editor: &mut DefaultEditor, path: &std::path::Path) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = editor.append_history(path);
}

/// A pipe or a file: plain lines, no prompt, no editing.
fn read_plain(mut on_input: impl FnMut(Input) -> bool) {
    let mut stdin = io::stdin().lock();
    let mut line = String::new();
    loop {
        line.clear();
        match stdin.read_line(&mut line) {
            Ok(0) | Err(_) => {
                on_input(Input::End);
                return;
            }
            Ok(_) => {
                let text = line.trim_end_matches(['\n', '\r']).to_owned();
                if !on_input(Input::Line(text)) {
                    return;
                }
            }
        }
    }
}
