//! What a failed check tells the student: what was sent, what was expected, what came back,
//! one command that reproduces it, and the book section that explains it.

use std::fmt;

/// One failed step of a check.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The step that failed, in a few words ("one byte per write").
    pub step: String,
    /// What the grader did, bytes shown as `b'...'` (the way `--trace` shows them).
    pub sent: String,
    /// What a correct program does.
    pub expected: String,
    /// What this program did instead.
    pub got: String,
    /// A one-line command that shows the same thing by hand.
    pub repro: String,
    /// The book section that explains it: `docs/src/NN-name.md#anchor`.
    pub book: String,
}

impl Failure {
    /// A failure of `step`; fill in the rest with the builder methods.
    pub fn new(step: &str) -> Self {
        Self {
            step: step.to_owned(),
            sent: String::new(),
            expected: String::new(),
            got: String::new(),
            repro: String::new(),
            book: String::new(),
        }
    }

    /// What the grader sent or did.
    pub fn sent(mut self, text: impl Into<String>) -> Self {
        self.sent = text.into();
        self
    }

    /// What a correct program does.
    pub fn expected(mut self, text: impl Into<String>) -> Self {
        self.expected = text.into();
        self
    }

    /// What came back instead.
    pub fn got(mut self, text: impl Into<String>) -> Self {
        self.got = text.into();
        self
    }

    /// The command that reproduces it.
    pub fn repro(mut self, text: impl Into<String>) -> Self {
        self.repro = text.into();
        self
    }

    /// The book section, unless one is set already (the step's own link wins over the
    /// exercise's).
    pub fn book(mut self, link: &str) -> Self {
        if self.book.is_empty() {
            self.book = link.to_owned();
        }
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "failed: {}", self.step)?;
        for (label, text) in [
            ("sent", &self.sent),
            ("expected", &self.expected),
            ("got", &self.got),
            ("try it", &self.repro),
            ("read", &self.book),
        ] {
            if text.is_empty() {
                continue;
            }
            // Continuation lines line up under the first, so long byte strings stay readable.
            let mut lines = text.lines();
            writeln!(f, "  {label:<9} {}", lines.next().unwrap_or(""))?;
            for line in lines {
                writeln!(f, "  {:<9} {line}", "")?;
            }
        }
        Ok(())
    }
}
