#!/usr/bin/env bash
# The chapter tour: builds the workspace, then runs each chapter's `demo` in turn, a server and
# its clients in one process on a free port, every socket call narrated.
#
#   ./scripts/tour.sh            every chapter that exists
#   ./scripts/tour.sh 01         only the chapters whose folder starts with 01
set -euo pipefail
cd "$(dirname "$0")/.."

# Bold headings on a terminal only, so a log file gets plain text.
if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi

# The chapters to show: every one, or those named on the command line.
chapters=()
for dir in crates/[0-9][0-9]-*/; do
    chapter=$(basename "$dir")
    # shellcheck disable=SC2076 # quoted on purpose: a literal "is NN among the arguments?"
    if [[ $# -eq 0 || " $* " =~ " ${chapter:0:2} " ]]; then
        chapters+=("$chapter")
    fi
done
total=${#chapters[@]}
((total > 0)) || { echo "tour: no chapter matches: $*" >&2; exit 2; }

# Cargo's own progress stays visible: on a fresh clone this first build takes a few minutes, and
# a silent terminal looks like a hang.
echo "tour: building every chapter (the first time takes a few minutes; later runs, seconds)" >&2
cargo build --workspace

count=0
for chapter in "${chapters[@]}"; do
    dir="crates/$chapter"
    # The crate's description reads "Chapter NN: what it teaches."; the heading shows the rest.
    title=$(sed -n 's/^description = "Chapter [0-9]*: \(.*\)"/\1/p' "$dir/Cargo.toml")
    count=$((count + 1))
    printf '\n%s== %s: %s%s  (%d of %d)\n' "$bold" "$chapter" "$title" "$plain" "$count" "$total"
    printf '   (cargo run -p ch%s -- demo; narration on stderr, results on stdout)\n\n' "$chapter"
    "target/debug/$chapter" demo
done
printf '\nTour done. Each chapter has its page in docs/ (mdbook serve docs).\n'
