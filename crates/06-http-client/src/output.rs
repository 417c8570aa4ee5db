//! Where a response goes: standard output or an `-o` file, with a progress bar for large
//! downloads to a file. Nothing here touches the network.

use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

use crate::error::{Kind, fail_because};
use crate::response::{Framing, Head};

/// 1 MiB: downloads to a file larger than this (or of unknown size) get a progress bar.
const PROGRESS_MIN: u64 = 1024 * 1024;

/// Where a response body goes.
#[derive(Debug, Clone)]
pub enum Output {
    /// Standard output, unless it is a terminal and the body is binary (curl's rule).
    Stdout,
    /// Standard output whatever the body is (`-o -`).
    StdoutAnyway,
    /// A file (`-o FILE`), created when the response arrives.
    File(PathBuf),
}

impl Output {
    /// The output for the URL whose `-o` argument is `path` (`None`: no `-o` for it).
    pub fn for_url(path: Option<&PathBuf>) -> Self {
        match path {
            Some(path) if path.as_os_str() == "-" => Output::StdoutAnyway,
            Some(path) => Output::File(path.clone()),
            None => Output::Stdout,
        }
    }

    /// Opens the output for writing: locks stdout, or creates the file.
    ///
    /// # Errors
    /// A file that cannot be created (23).
    pub fn open(&self) -> anyhow::Result<Box<dyn Write>> {
        Ok(match self {
            Output::Stdout | Output::StdoutAnyway => Box::new(io::stdout().lock()),
            Output::File(path) => Box::new(File::create(path).map_err(|e| {
                fail_because(Kind::Write, format!("could not create {}", path.display()), e)
            })?),
        })
    }

    /// Binary bytes are refused only on a terminal, and only when `-o -` did not ask for them.
    pub fn refuses_binary(&self) -> bool {
        matches!(self, Output::Stdout) && io::stdout().is_terminal()
    }

    /// A progress bar on stderr for a download to a file, sized by the body's framing; none
    /// for stdout, small bodies, `-s`, or a stderr that is not a terminal.
    pub fn progress_bar(&self, framing: Framing, silent: bool) -> Option<indicatif::ProgressBar> {
        let to_file = matches!(self, Output::File(_));
        if silent || !to_file || !io::stderr().is_terminal() {
            return None;
        }
        let style = |template: &str| {
            indicatif::ProgressStyle::with_template(template)
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        };
        match framing {
            Framing::Length(len) if len >= PROGRESS_MIN => {
                let bar = indicatif::ProgressBar::new(len);
                bar.set_style(style(
                    "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
                ));
                Some(bar)
            }
            Framing::Chunked | Framing::UntilClose => {
                let bar = indicatif::ProgressBar::new_spinner();
                bar.set_style(style("{spinner} {bytes} {binary_bytes_per_sec}"));
                Some(bar)
            }
            _ => None,
        }
    }
}

/// `-i` and `-I`: the response head, exactly as received, on stdout before the body.
///
/// # Errors
/// A write error (23).
pub fn write_head(head: &Head) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(&head.raw)
        .and_then(|()| out.flush())
        .map_err(|e| fail_because(Kind::Write, "could not write the head", e))
}
