//! Building the program to grade with cargo, in the workspace's one target dir, so that the
//! student's crate, the references and the chapters share every compiled dependency.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::catalog::{Exercise, Variant};

/// The workspace root: two levels above this crate.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where cargo puts build output: `CARGO_TARGET_DIR` when set, else `target/` at the root.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The cargo package and binary target that hold `variant` of `exercise`.
pub fn package_and_bin(exercise: &Exercise, variant: &Variant) -> (String, String) {
    match variant {
        Variant::Student => (exercise.package(), exercise.package()),
        Variant::Reference => ("exercise".to_owned(), format!("ref-{}", exercise.id)),
        Variant::Wrong(name) => ("exercise".to_owned(), format!("wrong-{}-{name}", exercise.id)),
    }
}

/// Builds every student crate, reference and wrong answer in one cargo run, and returns each
/// binary's path by name: what the tests use, so that cargo runs once, not once per check.
///
/// # Errors
/// When cargo cannot run or a crate does not compile.
pub fn build_all() -> Result<std::collections::HashMap<String, PathBuf>, String> {
    let mut args: Vec<String> = vec!["-p".into(), "exercise".into(), "--bins".into()];
    for exercise in crate::catalog::EXERCISES {
        args.extend(["-p".into(), exercise.package()]);
    }
    cargo_build(&args, None).map(|(all, _)| all)
}

/// Builds `variant` of `exercise` and returns the executable's path. Compiler messages go to
/// the terminal as cargo prints them, so a student sees their own compile errors.
///
/// # Errors
/// When cargo cannot run, or the crate does not compile.
pub fn build(exercise: &Exercise, variant: &Variant) -> Result<PathBuf, String> {
    let (package, bin) = package_and_bin(exercise, variant);
    let args = ["-p".to_owned(), package.clone(), "--bin".to_owned(), bin.clone()];
    let (_, executable) = cargo_build(&args, Some(&bin))?;
    executable.ok_or_else(|| format!("cargo built {package} but named no executable `{bin}`"))
}

/// Runs `cargo build ARGS` and collects every executable it names; also returns the one
/// called `wanted`.
fn cargo_build(
    args: &[String],
    wanted: Option<&str>,
) -> Result<(std::collections::HashMap<String, PathBuf>, Option<PathBuf>), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(cargo)
        .current_dir(workspace_root())
        .args(["build", "--quiet", "--message-format=json-render-diagnostics"])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut all = std::collections::HashMap::new();
    // One JSON object per line; each compiler-artifact line of a binary names its executable.
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        if let (Some(name), Some(path)) =
            (message["target"]["name"].as_str(), message["executable"].as_str())
        {
            all.insert(name.to_owned(), PathBuf::from(path));
        }
    }
    let status = child.wait().map_err(|e| format!("cargo did not finish: {e}"))?;
    if !status.success() {
        return Err(format!(
            "`cargo build {}` failed: fix the compile errors above",
            args.join(" ")
        ));
    }
    let executable = wanted.and_then(|w| all.get(w).cloned());
    Ok((all, executable))
}
