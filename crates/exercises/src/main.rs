//! `cargo exercise`: practise each chapter with feedback, offline, over real sockets.
//!
//! ```text
//! cargo exercise list                    # every exercise, its chapter, done or not yet
//! cargo exercise check 01-line-echo      # build my crate, grade it, say what failed and why
//! cargo exercise hint 01-line-echo       # the next hint, each more specific
//! cargo exercise solution 01-line-echo   # the reference, and where the book explains it
//! ```
//!
//! This file is only the command line; the grading is in the library (`exercise::catalog`).

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use exercise::catalog::{self, EXERCISES, Exercise, Variant};
use exercise::progress::Progress;

/// Graded exercises: you edit a small crate, the grader runs it against real and hostile peers.
#[derive(Parser)]
#[command(
    name = "cargo exercise",
    bin_name = "cargo exercise",
    version,
    long_about = "Graded exercises for every chapter. Each exercise is a small crate in \
                  crates/exercises/ID/ that you edit in place: write the socket calls of a \
                  skeleton, fix a bug people really write, or extend a small program.\n\n\
                  `check` builds your crate, starts it on a free port on loopback, and talks \
                  to it with Python's socket module and with an adversarial peer: one byte per \
                  write, two messages in one write, a silent connection, a slow drip, a \
                  half-close, a reset, a flood. When a step fails it shows what was sent, what \
                  was expected, what came back, a command to see it yourself, and the book \
                  section that explains it. Nothing leaves your machine, and `check` never \
                  writes to your files.",
    after_help = "Examples:\n  \
                  cargo exercise list\n  \
                  cargo exercise check 01-echo-server\n  \
                  cargo exercise hint 01-echo-server           (again for the next hint)\n  \
                  cargo exercise check 01-echo-server --solution   grade the reference"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Every exercise with its chapter and kind, done or not yet.
    List,
    /// Build the exercise's crate and grade it: exit 0 when it passes, 1 when it does not.
    Check {
        /// The exercise, as `list` shows it (e.g. 01-echo-server).
        id: String,
        /// Grade the reference solution instead of your crate, to see what passing looks like.
        #[arg(long)]
        solution: bool,
        /// Grade one of the wrong answers kept beside the reference (for maintainers).
        #[arg(long, value_name = "NAME", hide = true, conflicts_with = "solution")]
        wrong: Option<String>,
    },
    /// Show the next hint for an exercise (each one more specific than the last).
    Hint {
        /// The exercise.
        id: String,
    },
    /// Print the reference solution and the book section that explains it.
    Solution {
        /// The exercise.
        id: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Ctrl-C during a check: end every program the grader started, then leave.
    let _ = ctrlc::set_handler(|| {
        exercise::run::kill_all_started();
        std::process::exit(130);
    });
    match cli.command {
        Command::List => list(),
        Command::Check { id, solution, wrong } => {
            let variant = match (solution, wrong) {
                (true, _) => Variant::Reference,
                (false, Some(name)) => Variant::Wrong(name),
                (false, None) => Variant::Student,
            };
            with_exercise(&id, |e| check(e, &variant))
        }
        Command::Hint { id } => with_exercise(&id, hint),
        Command::Solution { id } => with_exercise(&id, solution),
    }
}

fn with_exercise(id: &str, action: impl FnOnce(&'static Exercise) -> ExitCode) -> ExitCode {
    match catalog::find(id) {
        Some(exercise) => action(exercise),
        None => {
            eprintln!("error: no exercise `{id}`");
            eprintln!("hint: `cargo exercise list` shows them all");
            ExitCode::from(2)
        }
    }
}

fn list() -> ExitCode {
    let progress = Progress::load();
    let terminal = std::io::stdout().is_terminal();
    if !terminal {
        // On a pipe: one line per exercise, tab-separated, for scripts.
        for e in EXERCISES {
            let done = if progress.passed(e.id) { "done" } else { "not yet" };
            println!("{}\t{}\t{}\t{done}\t{}", e.id, e.chapter(), e.kind, e.title);
        }
        return ExitCode::SUCCESS;
    }
    let mut chapters: Vec<&str> = EXERCISES.iter().map(|e| e.page).collect();
    chapters.dedup();
    for page in chapters {
        let here: Vec<&Exercise> = EXERCISES.iter().filter(|e| e.page == page).collect();
        let done = here.iter().filter(|e| progress.passed(e.id)).count();
        let bar: String =
            here.iter().map(|e| if progress.passed(e.id) { '#' } else { '.' }).collect();
        let chapter = &page[..2];
        println!(
            "\x1b[1mchapter {chapter}\x1b[0m  [{bar}] {done}/{} done   docs/src/{page}",
            here.len()
        );
        for e in here {
            let mark = if progress.passed(e.id) { "\x1b[32mdone\x1b[0m   " } else { "not yet" };
            println!("  {mark}  {:<16} {:<9}  {}", e.id, e.kind.to_string(), e.title);
        }
    }
    println!(
        "\nStart with `cargo exercise hint ID` (the task), edit crates/exercises/ID/, then `cargo exercise check ID`."
    );
    ExitCode::SUCCESS
}

fn check(exercise: &Exercise, variant: &Variant) -> ExitCode {
    if let Variant::Wrong(name) = variant {
        if !exercise.wrong.contains(&name.as_str()) {
            eprintln!(
                "error: {} has no wrong answer `{name}`; it has: {}",
                exercise.id,
                exercise.wrong.join(", ")
            );
            return ExitCode::from(2);
        }
    }
    let what = match variant {
        Variant::Student => exercise.folder(),
        Variant::Reference => format!("the reference solution of {}", exercise.id),
        Variant::Wrong(name) => format!("the wrong answer `{name}` of {}", exercise.id),
    };
    println!("checking {what} ({}: {})", exercise.kind, exercise.title);
    let started = std::time::Instant::now();
    let result = catalog::grade(exercise, variant, true);
    let took = started.elapsed();
    let passed = result.is_ok();
    match result {
        Ok(()) => println!("passed: {} ({:.1} s)", exercise.id, took.as_secs_f64()),
        Err(failure) => {
            print!("{failure}");
            if *variant == Variant::Student {
                println!("  stuck?    cargo exercise hint {}", exercise.id);
            }
        }
    }
    if *variant == Variant::Student {
        let mut progress = Progress::load();
        progress.set_passed(exercise.id, passed);
        if let Err(e) = progress.save() {
            eprintln!("warning: could not save progress under target/exercise/: {e}");
        }
    }
    if passed { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn hint(exercise: &Exercise) -> ExitCode {
    let mut progress = Progress::load();
    let shown = progress.hints_shown(exercise.id);
    println!("{} ({}): {}", exercise.id, exercise.kind, exercise.task);
    println!("Your crate: {}/src/main.rs\n", exercise.folder());
    for (i, text) in exercise.hints.iter().enumerate().take(shown + 1) {
        println!("hint {} of {}: {text}\n", i + 1, exercise.hints.len());
    }
    if shown + 1 >= exercise.hints.len() {
        println!(
            "That was the last hint; `cargo exercise solution {}` shows the reference.",
            exercise.id
        );
    }
    progress.set_hints_shown(exercise.id, (shown + 1).min(exercise.hints.len()));
    if let Err(e) = progress.save() {
        eprintln!("warning: could not save progress under target/exercise/: {e}");
    }
    ExitCode::SUCCESS
}

fn solution(exercise: &Exercise) -> ExitCode {
    let text = format!(
        "// The reference solution of {} ({}).\n// The book explains it in {}.\n// Grade it \
         yourself: cargo exercise check {} --solution\n\n{}",
        exercise.id, exercise.title, exercise.book, exercise.id, exercise.reference
    );
    // Written, not print!ed: `cargo exercise solution ID | head` closes the pipe early, and
    // that is no reason to panic.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes());
    ExitCode::SUCCESS
}
