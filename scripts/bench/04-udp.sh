#!/usr/bin/env bash
# Chapter 04 benchmark: how many sequential UDP round trips our server answers next to a plain C
# recvfrom/sendto server (the kernel-bound limit) and a Python one, and how much of a blast the
# kernel drops for each receive-buffer size. Prints markdown tables (stdout) for the book.
#
#     scripts/bench/04-udp.sh                  # full run: 5 s of round trips, 1000000-datagram blasts, 3 runs
#     QUICK=1 scripts/bench/04-udp.sh          # smoke test: 1 s, 20000 datagrams, 1 run
#
# Knobs (environment): RUNS (3), SECS (5; seconds of round trips per run, 1..60), BLAST_COUNT
# (1000000; datagrams per blast), QUICK=1 (small values for all of these).
#
# Every server runs on CPU 0 and every client on CPU 1 (taskset), loopback only. All servers are
# driven by our own client (`04-udp client rtt` / `blast`, release build), which checks that each
# reply is its own probe echoed back, so the client costs the same in every row and only the
# server changes. The sysctls net.core.rmem_max/rmem_default are read, never changed.
set -euo pipefail
shopt -s inherit_errexit

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The knobs the caller set, captured before defaults fill them in, to print the exact command.
COMMAND=$(bench_command scripts/bench/04-udp.sh QUICK RUNS SECS BLAST_COUNT)

if [[ ${QUICK:-0} == 1 ]]; then
    RUNS=${RUNS:-1} SECS=${SECS:-1} BLAST_COUNT=${BLAST_COUNT:-20000}
fi
RUNS=${RUNS:-3}
SECS=${SECS:-5}
BLAST_COUNT=${BLAST_COUNT:-1000000}
SIZE=64 # bytes per datagram, the 16-byte probe header included
SERVER_CPU=0
CLIENT_CPU=1
RCVBUFS=(default 1M 8M) # the --rcvbuf sweep of the loss table; "default" = no --rcvbuf

bench_usage "$@"
need_count RUNS 1 99
need_count SECS 1 60
need_count BLAST_COUNT 1 99999999


UDP_BIN=""
C_BIN=""

# Command prefixes, not functions: a background function would run in a subshell, and the PID we
# keep would be that subshell's instead of the server's.
ON_SERVER_CPU=(taskset -c "$SERVER_CPU")
ON_CLIENT_CPU=(taskset -c "$CLIENT_CPU")

# The C server: the smallest correct UDP echo, nothing between recvfrom() and sendto(). Whatever
# it reaches is what the kernel allows one thread on one CPU; ours cannot do better.
C_ECHO='/* udp_echo: recvfrom() a datagram, sendto() it back to its sender, forever. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) { perror("socket"); return 1; }
    if (argc > 1) { /* optional: the SO_RCVBUF to ask for, in bytes */
        int size = atoi(argv[1]);
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) < 0) { perror("setsockopt"); return 1; }
    }
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = 0 };
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("bind"); return 1; }
    if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0) { perror("getsockname"); return 1; }
    printf("listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));
    fflush(stdout);
    static char buf[65536];
    for (;;) {
        struct sockaddr_in peer;
        socklen_t peer_len = sizeof peer;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&peer, &peer_len);
        if (n < 0) { perror("recvfrom"); return 1; }
        if (sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&peer, peer_len) < 0) perror("sendto");
    }
}
'

# Python: the tutorial's UDP server, made to echo: what a reader writes first.
PY_ECHO='
import socket

HOST = "127.0.0.1"
sock = socket.socket(type=socket.SOCK_DGRAM)
sock.bind((HOST, 0))
print(f"listening on {HOST}:{sock.getsockname()[1]}", flush=True)
while True:
    data, addr = sock.recvfrom(65535)
    sock.sendto(data, addr)
'

setup() {
    bench_init
    need_cpus 2
    need_apt gcc python3
    note "building 04-udp (release)"
    cargo build --release --quiet -p ch04-udp
    UDP_BIN="${CARGO_TARGET_DIR:-target}/release/04-udp"
    [[ -x $UDP_BIN ]] || die "no binary at $UDP_BIN after the build"
    note "compiling the C echo server (gcc -O2)"
    printf '%s' "$C_ECHO" >"$BENCH_TMP/udp_echo.c"
    C_BIN="$BENCH_TMP/udp_echo"
    gcc -O2 -Wall -Wextra -o "$C_BIN" "$BENCH_TMP/udp_echo.c" >&2
}

# --- the servers -----------------------------------------------------------------------------
# Each start_* function leaves the server's PID in BG_PID and its port in PORT. All three bind
# port 0 and announce the port they got, so there is nothing to guess.

# start_ours LOGNAME [RCVBUF] : our server, quiet (no line per datagram), with --rcvbuf RCVBUF
# unless RCVBUF is missing or "default".
start_ours() {
    local flags=(--port 0 --quiet)
    [[ ${2:-default} == default ]] || flags+=(--rcvbuf "$2")
    start_announced "$1" '^listening on ' "${ON_SERVER_CPU[@]}" "$UDP_BIN" server "${flags[@]}"
    PORT=${READY_LINE##*:}
}

start_c() {
    start_announced c '^listening on ' "${ON_SERVER_CPU[@]}" "$C_BIN"
    PORT=${READY_LINE##*:}
}

start_python() {
    start_announced python '^listening on ' "${ON_SERVER_CPU[@]}" python3 -c "$PY_ECHO"
    PORT=${READY_LINE##*:}
}

# --- the clients -----------------------------------------------------------------------------


# rtt PORT : one run of `client rtt`; prints "PER_SECOND P50 P99 LOST".
rtt() {
    local out
    out=$("${ON_CLIENT_CPU[@]}" "$UDP_BIN" client --port "$1" rtt --duration "$SECS" --size "$SIZE")
    parse "$out" 's/.*: \([0-9]*\)\/s, p50 \([0-9.]*\) µs, p99 \([0-9.]*\) µs, \([0-9]*\) lost.*/\1 \2 \3 \4/p'
}

# rtt_median NAME PORT : RUNS runs; prints "median-rate median-p50 median-p99 total-lost".
rtt_median() {
    local i one rate p50 p99 lost rates=() p50s=() p99s=() lost_sum=0
    for ((i = 1; i <= RUNS; i++)); do
        one=$(rtt "$2") # not inside <<<: that would hide a failure
        read -r rate p50 p99 lost <<<"$one"
        note "  $1 round trips for ${SECS}s, run $i/$RUNS: $rate/s, p50 $p50 µs, p99 $p99 µs, $lost lost"
        rates+=("$rate")
        p50s+=("$p50")
        p99s+=("$p99")
        lost_sum=$((lost_sum + lost))
    done
    echo "$(median "${rates[@]}") $(median "${p50s[@]}") $(median "${p99s[@]}") $lost_sum"
}

# blast PORT : one run of `client blast`; prints "LOST-PERCENT LOST-COUNT SENT-PER-SECOND".
blast() {
    local out
    out=$("${ON_CLIENT_CPU[@]}" "$UDP_BIN" client --port "$1" blast --count "$BLAST_COUNT" --size "$SIZE")
    parse "$out" 's/.* s (\([0-9]*\)\/s); [0-9]* came back, \([0-9]*\) lost (\([0-9.]*\)%).*/\3 \2 \1/p'
}

# --- measurements ----------------------------------------------------------------------------

OURS_RTT="" C_RTT="" PY_RTT=""
declare -A GRANTED LOSS SENT LOST1 DROPS1 # per --rcvbuf: SO_RCVBUF granted, medians, run 1 counts

measure_rtt() {
    note "ours: round trips"
    start_ours ours-rtt
    OURS_RTT=$(rtt_median ours "$PORT")
    stop "$BG_PID" INT # SIGINT: the clean Ctrl-C stop the chapter teaches

    note "C recvfrom/sendto server: round trips"
    start_c
    C_RTT=$(rtt_median C "$PORT")
    stop "$BG_PID"

    note "python server: round trips"
    start_python
    PY_RTT=$(rtt_median python "$PORT")
    stop "$BG_PID"
}

# One fresh server per blast, so each run starts with an empty receive buffer and the server's
# summary (printed on SIGINT) counts the kernel's drops for that blast alone.
measure_loss() {
    local rcvbuf i log one pct lost rate drops granted all rates
    for rcvbuf in "${RCVBUFS[@]}"; do
        note "ours, --rcvbuf $rcvbuf: blast of $BLAST_COUNT datagrams"
        all=() rates=()
        for ((i = 1; i <= RUNS; i++)); do
            log="$BENCH_TMP/ours-blast-$rcvbuf-$i.log"
            start_ours "ours-blast-$rcvbuf-$i" "$rcvbuf"
            granted=$(parse "$(grep '^SO_RCVBUF:' "$log")" \
                's/^SO_RCVBUF: \([0-9]*\) bytes.*/\1/p; s/.*the kernel granted \([0-9]*\).*/\1/p')
            one=$(blast "$PORT")
            stop "$BG_PID" INT
            read -r pct lost rate <<<"$one"
            drops=$(sed -n 's/.*receive buffer was full: \([0-9]*\).*/\1/p' "$log")
            grep -q '^server stopped: ' "$log" || die "our server did not stop cleanly on SIGINT; log: $(tail -n 5 "$log")"
            note "  run $i/$RUNS: SO_RCVBUF $granted, sent $rate/s, $lost lost ($pct%), kernel dropped ${drops:-?}"
            all+=("$pct")
            rates+=("$rate")
            if ((i == 1)); then
                GRANTED[$rcvbuf]=$granted
                LOST1[$rcvbuf]=$lost
                DROPS1[$rcvbuf]=${drops:-n/a}
            fi
        done
        LOSS[$rcvbuf]=$(median "${all[@]}")
        SENT[$rcvbuf]=$(median "${rates[@]}")
    done
}

# --- report ----------------------------------------------------------------------------------

print_header() {
    echo "## Chapter 04 UDP benchmark"
    echo
    machine_header
    echo "- command: \`$COMMAND\`"
    echo "- runs: median of $RUNS; servers on CPU $SERVER_CPU, clients on CPU $CLIENT_CPU (taskset), 127.0.0.1"
    echo "- receive buffers: net.core.rmem_default = $(</proc/sys/net/core/rmem_default)," \
        "net.core.rmem_max = $(</proc/sys/net/core/rmem_max) (unchanged by this script)"
    echo "- versions: $(rustc --version | cut -d' ' -f1-2), $(python3 --version), $(gcc --version | head -n1)"
    echo
}

print_rtt() {
    local o_rate o50 o99 o_lost c_rate c50 c99 c_lost p_rate p50 p99 p_lost
    read -r o_rate o50 o99 o_lost <<<"$OURS_RTT"
    read -r c_rate c50 c99 c_lost <<<"$C_RTT"
    read -r p_rate p50 p99 p_lost <<<"$PY_RTT"
    echo "### Round trips: \`04-udp client rtt --duration $SECS --size $SIZE\`, one datagram in flight"
    echo
    header program "round trips/s (median of $RUNS)" "ratio to ours" "p50 µs" "p99 µs" "lost (all runs)"
    row "ours (04-udp server --quiet)" "$o_rate" "1.00" "$o50" "$o99" "$o_lost"
    row "C recvfrom/sendto (gcc -O2)" "$c_rate" "$(ratio "$c_rate" "$o_rate")" "$c50" "$c99" "$c_lost"
    row "python recvfrom/sendto" "$p_rate" "$(ratio "$p_rate" "$o_rate")" "$p50" "$p99" "$p_lost"
    echo
}

print_loss() {
    local rcvbuf flag
    echo "### Loss vs receive buffer: \`04-udp client blast --count $BLAST_COUNT --size $SIZE\` against our server"
    echo
    header "server flag" "SO_RCVBUF granted (bytes)" "client sent/s (median)" "lost % (median of $RUNS)" \
        "run 1: lost (client)" "run 1: kernel dropped (server)"
    for rcvbuf in "${RCVBUFS[@]}"; do
        flag="--rcvbuf $rcvbuf"
        [[ $rcvbuf != default ]] || flag="(none: the default)"
        row "$flag" "${GRANTED[$rcvbuf]}" "${SENT[$rcvbuf]}" "${LOSS[$rcvbuf]}" "${LOST1[$rcvbuf]}" "${DROPS1[$rcvbuf]}"
    done
    echo
    echo "Linux caps a SO_RCVBUF request at net.core.rmem_max, then doubles it for its bookkeeping;" \
        "the buffer is charged for each datagram's kernel memory, well beyond its $SIZE bytes of payload."
    echo
}


print_targets() {
    local o_rate c_rate p_rate
    read -r o_rate _ <<<"$OURS_RTT"
    read -r c_rate _ <<<"$C_RTT"
    read -r p_rate _ <<<"$PY_RTT"
    echo "### Targets"
    echo
    header target measured required met
    target "round trips/s: ours / C" "$(ratio "$o_rate" "$c_rate")" ">=" 0.95
    target "round trips/s: ours / python" "$(ratio "$o_rate" "$p_rate")" ">=" 1.2
}

main() {
    setup
    measure_rtt
    measure_loss
    print_header
    print_rtt
    print_loss
    print_targets
}

main
