//! What a student has done so far: which exercises passed and how many hints each showed.
//!
//! Kept in `target/exercise/progress.txt`, never in the student's own files, so `cargo clean`
//! starts over and git never sees it. One line per fact: `passed ID` or `hints ID N`.
//! `EXERCISE_PROGRESS_FILE` names another file (the tests use a temporary one).

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use crate::build::target_dir;

/// Progress over every exercise.
#[derive(Default)]
pub struct Progress {
    passed: BTreeMap<String, bool>,
    hints: BTreeMap<String, usize>,
}

impl Progress {
    fn path() -> PathBuf {
        // The tests point this elsewhere, so running them leaves a student's progress alone.
        std::env::var_os("EXERCISE_PROGRESS_FILE")
            .map(PathBuf::from)
            .unwrap_or_else(|| target_dir().join("exercise").join("progress.txt"))
    }

    /// Reads the saved progress; a missing or unreadable file is a fresh start.
    pub fn load() -> Self {
        let mut progress = Self::default();
        let text = fs::read_to_string(Self::path()).unwrap_or_default();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some("passed"), Some(id), None) => {
                    progress.passed.insert(id.to_owned(), true);
                }
                (Some("hints"), Some(id), Some(n)) => {
                    progress.hints.insert(id.to_owned(), n.parse().unwrap_or(0));
                }
                _ => {}
            }
        }
        progress
    }

    /// Writes the progress back.
    ///
    /// # Errors
    /// When `target/exercise/` cannot be written.
    pub fn save(&self) -> std::io::Result<()> {
        let path = Self::path();
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let mut text = String::new();
        for (id, _) in self.passed.iter().filter(|(_, done)| **done) {
            text.push_str(&format!("passed {id}\n"));
        }
        for (id, n) in &self.hints {
            text.push_str(&format!("hints {id} {n}\n"));
        }
        fs::write(path, text)
    }

    /// Whether `id` has passed its check.
    pub fn passed(&self, id: &str) -> bool {
        self.passed.get(id).copied().unwrap_or(false)
    }

    /// Records a check's result: a later failure (after an edit) marks it not done again.
    pub fn set_passed(&mut self, id: &str, passed: bool) {
        self.passed.insert(id.to_owned(), passed);
    }

    /// How many hints of `id` were shown.
    pub fn hints_shown(&self, id: &str) -> usize {
        self.hints.get(id).copied().unwrap_or(0)
    }

    /// Records that `n` hints of `id` have been shown.
    pub fn set_hints_shown(&mut self, id: &str, n: usize) {
        self.hints.insert(id.to_owned(), n);
    }
}
