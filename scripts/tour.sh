#!/usr/bin/env bash
# The chapter tour: builds the workspace, then runs each chapter's `demo` in turn, a server and
# its clients in one process on a free port, every socket call narrated.
#
#   ./scripts/tour.sh            every chapter that exists
#   ./scripts/tour.sh 01         only the chapters whose folder starts with 01
set -euo pipefail
cd "$(dirname "$0")/.."

# Cargo's own progress (a line per crate compiled, a bar on a terminal) shows the first build,
# which takes minutes, is moving; later runs print one "Finished" line.
printf 'Building the chapters (cargo build --workspace)...\n'
cargo build --workspace

# Bold headings on a terminal only, so a log file gets plain text.
if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi

for dir in crates/[0-9][0-9]-*/; do
    chapter=$(basename "$dir")
    # shellcheck disable=SC2076 # quoted on purpose: a literal "is NN among the arguments?"
    if [[ $# -gt 0 && ! " $* " =~ " ${chapter:0:2} " ]]; then
        continue
    fi
    # The crate's description reads "Chapter NN: what it teaches."; the heading shows the rest.
    title=$(sed -n 's/^description = "Chapter [0-9]*: \(.*\)"/\1/p' "$dir/Cargo.toml")
    printf '\n%s== %s: %s%s\n' "$bold" "$chapter" "$title" "$plain"
    printf '   (cargo run -p ch%s -- demo; narration on stderr, results on stdout)\n\n' "$chapter"
    "target/debug/$chapter" demo
done
printf '\nTour done. Each chapter has its page in docs/ (mdbook serve docs).\n'
