//! The open-files limit, which the server and the client both raise before opening thousands
//! of sockets. A leaf module, so the client does not depend on the server to use it.

use anyhow::{Context, Result};
use common::narrate;
use common::narrate::Narrator;

// ANCHOR: raise_nofile
/// Raises this process's soft limit on open files to its hard limit. Every socket is a file
/// descriptor, and the usual soft limit (1024) would stop us near a thousand clients.
///
/// # Errors
/// When the limits cannot be read or set.
pub fn raise_open_files_limit(n: Narrator) -> Result<u64> {
    let (soft, hard) =
        rlimit::getrlimit(rlimit::Resource::NOFILE).context("could not read RLIMIT_NOFILE")?;
    if soft >= hard {
        narrate!(
            n,
            "getrlimit(RLIMIT_NOFILE) -> soft {soft}, hard {hard} (already at the hard limit)"
        );
        return Ok(soft);
    }
    let raised = rlimit::increase_nofile_limit(hard).context("could not raise RLIMIT_NOFILE")?;
    narrate!(n, "getrlimit(RLIMIT_NOFILE) -> soft {soft}, hard {hard}; setrlimit(soft {raised})");
    Ok(raised)
}
// ANCHOR_END: raise_nofile
