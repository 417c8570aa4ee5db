#!/usr/bin/env bash
# Chapter 01 benchmark: how fast is our echo server, next to other echo servers and to the
# loopback itself? Prints markdown tables (stdout) ready for the book's benchmark page.
#
#     scripts/bench/01-echo.sh                 # full run: 1 GiB bulk, 20000 round trips, 3 runs
#     QUICK=1 scripts/bench/01-echo.sh         # smoke test: 64 MiB, 2000 round trips, 1 run
#
# Knobs (environment): RUNS (3), BYTES (1G), PY_BYTES (= BYTES; bytes sent to the Python
# server), ROUND_TRIPS (20000), IPERF_SECS (5), QUICK=1 (small values for all of these).
#
# Every server runs on CPU 0 and every client on CPU 1 (taskset), loopback only. All servers
# are driven by our own client (`01-echo client`), which verifies every echoed byte, so the
# client costs the same in every row and only the server changes.
set -euo pipefail
shopt -s inherit_errexit

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The knobs the caller set, captured before defaults fill them in, to print the exact command.
COMMAND=$(bench_command scripts/bench/01-echo.sh QUICK RUNS BYTES PY_BYTES ROUND_TRIPS IPERF_SECS)

if [[ ${QUICK:-0} == 1 ]]; then
    RUNS=${RUNS:-1} BYTES=${BYTES:-64M} ROUND_TRIPS=${ROUND_TRIPS:-2000} IPERF_SECS=${IPERF_SECS:-1}
fi
RUNS=${RUNS:-3}
BYTES=${BYTES:-1G}
PY_BYTES=${PY_BYTES:-$BYTES}
ROUND_TRIPS=${ROUND_TRIPS:-20000}
IPERF_SECS=${IPERF_SECS:-5}
MSG_SIZE=16
SERVER_CPU=0
CLIENT_CPU=1
BUF_SIZES=(1K 4K 16K 64K 256K) # the --buf-size sweep; 64K is the "ours" of the other tables
OURS_BUF=64K

bench_usage "$@"
need_count RUNS 1 99


ECHO_BIN=""

# Command prefixes, not functions: a background function would run in a subshell, and the PID we
# keep would be that subshell's instead of the server's.
ON_SERVER_CPU=(taskset -c "$SERVER_CPU")
ON_CLIENT_CPU=(taskset -c "$CLIENT_CPU")

setup() {
    bench_init
    need_cpus 2
    need_apt socat iperf3 python3
    note "building 01-echo (release)"
    cargo build --release --quiet -p ch01-echo
    ECHO_BIN="${CARGO_TARGET_DIR:-target}/release/01-echo"
    [[ -x $ECHO_BIN ]] || die "no binary at $ECHO_BIN after the build"
}

# --- the servers -----------------------------------------------------------------------------
# Each start_* function leaves the server's PID in BG_PID and its port in PORT.

# Ours: the chapter's server, with the recv size under test. It binds port 0 and announces the
# port it got, so there is nothing to guess.
start_ours() {
    start_announced "ours-$1" '^listening on ' \
        "${ON_SERVER_CPU[@]}" "$ECHO_BIN" server --port 0 --buf-size "$1"
    PORT=${READY_LINE##*:}
}

# Python: the tutorial's echo server, what a reader writes first (recv(1024), sendall), made to
# serve one connection after another until killed. The floor we should be far above. It binds
# port 0 and prints the port, like ours.
PY_ECHO='
import socket

HOST = "127.0.0.1"
with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((HOST, 0))
    s.listen()
    print(f"listening on {HOST}:{s.getsockname()[1]}", flush=True)
    while True:
        conn, addr = s.accept()
        with conn:
            print(f"Connected by {addr}", flush=True)
            while True:
                data = conn.recv(1024)
                if not data:
                    break
                conn.sendall(data)
'
start_python() {
    start_announced python '^listening on ' "${ON_SERVER_CPU[@]}" python3 -c "$PY_ECHO"
    PORT=${READY_LINE##*:}
}

# socat: a widely used, C-written relay (TCP in, pipe back out), forking per connection. The
# "good general-purpose tool" a dedicated server should beat. It cannot report a port 0 choice
# simply, so we pick a free port and poll until it accepts.
start_socat() {
    PORT=$(free_port)
    start_bg socat "${ON_SERVER_CPU[@]}" socat "TCP-LISTEN:$PORT,bind=127.0.0.1,reuseaddr,fork" PIPE
    wait_for_port "$PORT"
}

# --- the clients -----------------------------------------------------------------------------


# bulk PORT BYTES : one run of `client --bytes`; prints MiB/s.
bulk() {
    local out
    out=$("${ON_CLIENT_CPU[@]}" "$ECHO_BIN" client --port "$1" --bytes "$2")
    parse "$out" 's/.* \([0-9.][0-9.]*\) MiB\/s$/\1/p'
}

# latency PORT : one run of `client --round-trips`; prints "P50 P99" in µs.
latency() {
    local out
    out=$("${ON_CLIENT_CPU[@]}" "$ECHO_BIN" client --port "$1" --round-trips "$ROUND_TRIPS" --size "$MSG_SIZE")
    parse "$out" 's/.* p50 \([0-9.]*\) µs, p99 \([0-9.]*\) µs.*/\1 \2/p'
}

# bulk_median NAME PORT BYTES : RUNS runs; prints the median MiB/s.
bulk_median() {
    local i v all=()
    for ((i = 1; i <= RUNS; i++)); do
        v=$(bulk "$2" "$3")
        note "  $1 bulk $3, run $i/$RUNS: $v MiB/s"
        all+=("$v")
    done
    median "${all[@]}"
}

# latency_median NAME PORT : RUNS runs; prints "median-P50 median-P99".
latency_median() {
    local i one p50 p99 p50s=() p99s=()
    for ((i = 1; i <= RUNS; i++)); do
        one=$(latency "$2") # not inside <<<: that would hide a failure
        read -r p50 p99 <<<"$one"
        note "  $1 $ROUND_TRIPS round trips, run $i/$RUNS: p50 $p50 µs, p99 $p99 µs"
        p50s+=("$p50")
        p99s+=("$p99")
    done
    echo "$(median "${p50s[@]}") $(median "${p99s[@]}")"
}

# iperf3: one-way TCP over loopback with the same CPU pinning, the ceiling. An echo moves every
# byte twice (there and back) through one server, so iperf3's one-way rate bounds what any echo
# server can show. It announces readiness on stdout; -1 makes it exit after one test.
# Sets IPERF_RUN (MiB/s). Not called in $(...): the server it starts must be known to clean-up.
iperf_run() {
    local port json bps server
    port=$(free_port)
    start_announced iperf3 'Server listening' "${ON_SERVER_CPU[@]}" iperf3 -s -1 -p "$port" --forceflush
    server=$BG_PID
    json=$("${ON_CLIENT_CPU[@]}" iperf3 -c 127.0.0.1 -p "$port" -t "$IPERF_SECS" -J)
    wait_exit "$server"
    bps=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])' <<<"$json") ||
        die "could not read iperf3's JSON: $json"
    IPERF_RUN=$(awk -v b="$bps" 'BEGIN { printf "%.1f\n", b / 8 / 1048576 }')
}

# --- measurements ----------------------------------------------------------------------------

declare -A SWEEP # --buf-size -> median MiB/s
OURS_BULK="" OURS_LAT="" PY_BULK="" PY_LAT="" SOCAT_BULK="" SOCAT_LAT="" IPERF=""

measure_ours() {
    local buf
    for buf in "${BUF_SIZES[@]}"; do
        note "ours, --buf-size $buf"
        start_ours "$buf"
        SWEEP[$buf]=$(bulk_median "ours" "$PORT" "$BYTES")
        [[ $buf != "$OURS_BUF" ]] || OURS_LAT=$(latency_median ours "$PORT")
        stop "$BG_PID" INT # SIGINT: the clean Ctrl-C stop the chapter teaches
    done
    OURS_BULK=${SWEEP[$OURS_BUF]}
}

measure_python() {
    note "python tutorial server"
    start_python
    PY_BULK=$(bulk_median python "$PORT" "$PY_BYTES")
    PY_LAT=$(latency_median python "$PORT")
    stop "$BG_PID"
}

measure_socat() {
    note "socat"
    start_socat
    SOCAT_BULK=$(bulk_median socat "$PORT" "$BYTES")
    SOCAT_LAT=$(latency_median socat "$PORT")
    stop "$BG_PID"
}

measure_iperf() {
    local i all=()
    note "iperf3"
    for ((i = 1; i <= RUNS; i++)); do
        iperf_run
        note "  iperf3 one way for ${IPERF_SECS}s, run $i/$RUNS: $IPERF_RUN MiB/s"
        all+=("$IPERF_RUN")
    done
    IPERF=$(median "${all[@]}")
}

# --- report ----------------------------------------------------------------------------------

print_header() {
    echo "## Chapter 01 echo benchmark"
    echo
    machine_header
    echo "- command: \`$COMMAND\`"
    echo "- runs: median of $RUNS; servers on CPU $SERVER_CPU, clients on CPU $CLIENT_CPU (taskset), 127.0.0.1"
    echo "- versions: $(rustc --version | cut -d' ' -f1-2), $(python3 --version)," \
        "socat $(socat -V | awk '/socat version/ { print $3; exit }'), $(iperf3 --version | head -n1 | cut -d' ' -f1-2)"
    echo
}

print_bulk() {
    local py_note=""
    [[ $PY_BYTES == "$BYTES" ]] || py_note=" (sends $PY_BYTES, not $BYTES)"
    echo "### Bulk echo: \`01-echo client --bytes $BYTES\`, MiB/s echoed and verified"
    echo
    header program "MiB/s (median of $RUNS)" "ratio to ours"
    row "ours (01-echo server --buf-size $OURS_BUF)" "$OURS_BULK" "1.00"
    row "python tutorial server, recv(1024)$py_note" "$PY_BULK" "$(ratio "$PY_BULK" "$OURS_BULK")"
    row "socat TCP-LISTEN,fork PIPE" "$SOCAT_BULK" "$(ratio "$SOCAT_BULK" "$OURS_BULK")"
    row "iperf3, one way (ceiling, not an echo)" "$IPERF" "$(ratio "$IPERF" "$OURS_BULK")"
    echo
    echo "An echo figure counts each byte once, though it crosses loopback twice (there and back)."
    echo
}

print_latency() {
    local o50 o99 p50 p99 s50 s99
    read -r o50 o99 <<<"$OURS_LAT"
    read -r p50 p99 <<<"$PY_LAT"
    read -r s50 s99 <<<"$SOCAT_LAT"
    echo "### Latency: \`01-echo client --round-trips $ROUND_TRIPS --size $MSG_SIZE\`, µs per round trip"
    echo
    header program "p50 µs" "p50 ratio to ours" "p99 µs" "p99 ratio to ours"
    row "ours (--buf-size $OURS_BUF)" "$o50" "1.00" "$o99" "1.00"
    row "python tutorial server" "$p50" "$(ratio "$p50" "$o50")" "$p99" "$(ratio "$p99" "$o99")"
    row "socat" "$s50" "$(ratio "$s50" "$o50")" "$s99" "$(ratio "$s99" "$o99")"
    echo
}

print_sweep() {
    local buf
    echo "### Our server's recv size: \`01-echo server --buf-size N\`, \`client --bytes $BYTES\`"
    echo
    header "--buf-size" "MiB/s (median of $RUNS)" "ratio to ours ($OURS_BUF)"
    for buf in "${BUF_SIZES[@]}"; do
        row "$buf" "${SWEEP[$buf]}" "$(ratio "${SWEEP[$buf]}" "$OURS_BULK")"
    done
    echo
}


print_targets() {
    local o50 s50
    read -r o50 _ <<<"$OURS_LAT"
    read -r s50 _ <<<"$SOCAT_LAT"
    echo "### Targets"
    echo
    header target measured required met
    target "bulk: ours / socat" "$(ratio "$OURS_BULK" "$SOCAT_BULK")" ">=" 4
    target "bulk: ours / iperf3 one-way" "$(ratio "$OURS_BULK" "$IPERF")" ">=" 0.5
    target "p50 round trip: ours / socat" "$(ratio "$o50" "$s50")" "<=" 1.05
}

main() {
    setup
    measure_ours
    measure_python
    measure_socat
    measure_iperf
    print_header
    print_bulk
    print_latency
    print_sweep
    print_targets
}

main
