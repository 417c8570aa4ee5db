#!/usr/bin/env bash
# Chapter 03 benchmark: a busy chat room. 100 clients in one room, each sending 10 lines a second
# for 10 s, every line relayed to the 99 others (about 99,000 deliveries a second): delivered
# lines/s, sender-to-receiver latency p50/p99, and per-sender loss and reordering. Then the same
# room plus one client that never reads a byte: the others must not notice. Prints markdown
# tables (stdout) ready for the book's benchmark page.
#
#     scripts/bench/03-long-chat.sh           # full run: 10 s per room, 3 runs
#     QUICK=1 scripts/bench/03-long-chat.sh   # smoke test: 3 s, 1 run
#
# Knobs (environment): RUNS (3), SECS (10; 1..60), CLIENTS (100), RATE (10 lines/s per client),
# QUICK=1 (small values).
#
# The server runs on CPU 0 and the load generator on CPU 1 (taskset), loopback only. The load
# generator is `03-long-chat bench`, a hidden subcommand: one thread and one event loop for all
# the clients (a thread per client would wake 99 threads per line and measure the scheduler).
# Senders and receivers share one process, so one monotonic clock times sender -> server ->
# receiver. It prints its own CPU use: well under 100 % of its core means it kept up, and the
# latency is the server's and the kernel's.
set -euo pipefail
shopt -s inherit_errexit

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The knobs the caller set, captured before defaults fill them in, to print the exact command.
COMMAND=$(bench_command scripts/bench/03-long-chat.sh QUICK RUNS SECS CLIENTS RATE)

if [[ ${QUICK:-0} == 1 ]]; then
    RUNS=${RUNS:-1} SECS=${SECS:-3}
fi
RUNS=${RUNS:-3}
SECS=${SECS:-10}
CLIENTS=${CLIENTS:-100}
RATE=${RATE:-10}
SERVER_CPU=0
CLIENT_CPU=1

bench_usage "$@"
need_count RUNS 1 99
need_count SECS 1 60
need_count CLIENTS 2 1000
need_count RATE 1 100
BIN="" CLK_TCK=""
ON_SERVER_CPU=(taskset -c "$SERVER_CPU")
ON_CLIENT_CPU=(taskset -c "$CLIENT_CPU")

setup() {
    bench_init
    need_cpus 2
    CLK_TCK=$(getconf CLK_TCK)
    note "building 03-long-chat (release)"
    cargo build --release --quiet -p ch03-long-chat
    BIN="${CARGO_TARGET_DIR:-target}/release/03-long-chat"
    [[ -x $BIN ]] || die "no binary at $BIN after the build"
}

# room NAME NEVER_READ : one run. Sets LINE (the generator's result line), SERVER_US (server CPU
# per delivery, µs) and DROPPED (clients the server dropped as too slow).
room() {
    local name=$1 never=$2 port before after log
    start_announced "$name" '^listening on ' "${ON_SERVER_CPU[@]}" "$BIN" server --port 0
    local server=$BG_PID
    port=${READY_LINE##*:}
    log="$BENCH_TMP/$name.log"
    before=$(cpu_ticks "$server")
    LINE=$("${ON_CLIENT_CPU[@]}" "$BIN" bench --port "$port" --clients "$CLIENTS" --rate "$RATE" \
        --duration "$SECS" --never-read "$never")
    after=$(cpu_ticks "$server")
    note "  $name: $LINE"
    stop "$server" INT
    wait "$READY_DRAIN" 2>/dev/null || true
    grep -q '^server stopped: ' "$log" || die "the server did not stop cleanly on SIGINT; log: $(tail -n 5 "$log")"
    local delivered
    delivered=$(parse "$LINE" 's/.*delivered \([0-9]*\) .*/\1/p')
    SERVER_US=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v d="$delivered" \
        'BEGIN { printf "%.2f", t / hz * 1e6 / d }')
    DROPPED=$(sed -n 's/.*, \([0-9]*\) dropped as too slow.*/\1/p' "$log")
    DROPPED=${DROPPED:-0}
}

main() {
    setup
    local clean_p50=() clean_p99=() clean_rate=() clean_cpu=() clean_gen=()
    local stuck_p50=() stuck_p99=() stuck_rate=() stuck_cpu=() stuck_gen=() stuck_dropped=()
    local lost=0 disorder=0 run
    for ((run = 1; run <= RUNS; run++)); do
        note "run $run of $RUNS"
        for never in 0 1; do
            room "room-$run-$never" "$never"
            lost=$((lost + $(parse "$LINE" 's/.*, lost \([0-9]*\),.*/\1/p')))
            disorder=$((disorder + $(parse "$LINE" 's/.*out of order \([0-9]*\),.*/\1/p')))
            local p50 p99 rate gen
            p50=$(parse "$LINE" 's/.*p50 \([0-9.]*\) ms.*/\1/p')
            p99=$(parse "$LINE" 's/.*p99 \([0-9.]*\) ms.*/\1/p')
            rate=$(parse "$LINE" 's/.*delivered [0-9]* (\([0-9]*\)\/s).*/\1/p')
            gen=$(parse "$LINE" 's/.*generator cpu \([0-9?]*\)%.*/\1/p')
            if ((never == 0)); then
                clean_p50+=("$p50") clean_p99+=("$p99") clean_rate+=("$rate") clean_cpu+=("$SERVER_US") clean_gen+=("$gen")
            else
                stuck_p50+=("$p50") stuck_p99+=("$p99") stuck_rate+=("$rate") stuck_cpu+=("$SERVER_US") stuck_gen+=("$gen")
                stuck_dropped+=("$DROPPED")
            fi
        done
    done

    local c50 c99 s50 s99
    c50=$(median "${clean_p50[@]}") c99=$(median "${clean_p99[@]}")
    s50=$(median "${stuck_p50[@]}") s99=$(median "${stuck_p99[@]}")
    echo "### Chapter 03: $CLIENTS clients × $RATE lines/s for $SECS s, one room"
    echo
    machine_header
    # shellcheck disable=SC2016 # the backquotes are markdown, not a command
    printf -- '- command: `%s` (medians of %s runs; server on CPU %s, generator on CPU %s)\n' \
        "$COMMAND" "$RUNS" "$SERVER_CPU" "$CLIENT_CPU"
    echo
    header "room" "delivered lines/s" "latency p50 (ms)" "latency p99 (ms)" "p99 ratio to clean" \
        "server CPU per delivery (µs)" "generator CPU (% of its core)"
    row "clean" "$(median "${clean_rate[@]}")" "$c50" "$c99" "1.00" "$(median "${clean_cpu[@]}")" \
        "$(median "${clean_gen[@]}")"
    row "+1 client that never reads" "$(median "${stuck_rate[@]}")" "$s50" "$s99" "$(ratio "$s99" "$c99")" \
        "$(median "${stuck_cpu[@]}")" "$(median "${stuck_gen[@]}")"
    echo
    echo "Lines lost over all runs: $lost; out of order: $disorder. The never-reading client was" \
        "dropped as too slow in $(printf '%s\n' "${stuck_dropped[@]}" | awk '$1 > 0' | wc -l) of $RUNS runs" \
        "(the kernel's socket buffers hold several seconds of this room's lines before the server's" \
        "256 KiB outbox even starts to fill)."
    echo
    echo "#### Targets"
    echo
    header "target" "measured" "limit" "met"
    target "p99 latency, clean room (ms)" "$c99" "<=" 5
    target "lines lost" "$lost" "<=" 0
    target "lines out of order" "$disorder" "<=" 0
    target "p99 with a never-reader / clean p99" "$(ratio "$s99" "$c99")" "<=" 2
}

main
