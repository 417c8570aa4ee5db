#!/usr/bin/env bash
# Chapter 05 benchmark: our static-file server next to `python3 -m http.server` and nginx with
# one worker, on the same files, the same load generator and the same machine. Prints markdown
# tables (stdout) ready for the book's benchmark page.
#
#     scripts/bench/05-http-server.sh           # full run: wrk for 10 s per figure, 3 runs
#     QUICK=1 scripts/bench/05-http-server.sh   # smoke test: 2 s, 1 run
#
# Knobs (environment): RUNS (3), SECS (10; seconds of wrk per run, 1..60), QUICK=1 (small values).
#
# The loads: a 1 KiB file with `wrk -t1 -c50 -d10s` (50 connections kept alive, requests/s) and
# with `-c1` (one connection, so requests/s is 1 / latency), and a 10 MiB file downloaded 20 times
# by one curl (one connection where the server keeps it; the sizes are checked, the times are
# curl's own per transfer, summed). Every server
# is pinned to CPU 0, wrk and curl to CPU 1 (taskset), all on 127.0.0.1.
#
# The peers, as they come: nginx from Debian with a minimal config written below (one worker
# process, `sendfile on`, `access_log off`, everything else nginx's defaults, keep-alive
# included), and `python3 -m http.server` exactly as a student runs it (HTTP/1.0, a thread per
# connection, a log line per request on stderr: it has no switch to turn that off). Ours runs with
# `--quiet` (no access log), as nginx does.
set -euo pipefail
shopt -s inherit_errexit

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The knobs the caller set, captured before defaults fill them in, to print the exact command.
COMMAND=$(bench_command scripts/bench/05-http-server.sh QUICK RUNS SECS)

if [[ ${QUICK:-0} == 1 ]]; then
    RUNS=${RUNS:-1} SECS=${SECS:-2}
fi
RUNS=${RUNS:-3}
SECS=${SECS:-10}
DOWNLOADS=20
DOWNLOAD_SAMPLES=5 # 10 MiB x20 timed this many times per run; the median of all runs is reported
SERVER_CPU=0
CLIENT_CPU=1

bench_usage "$@"
need_count RUNS 1 99
need_count SECS 1 60
ON_SERVER_CPU=(taskset -c "$SERVER_CPU")
ON_CLIENT_CPU=(taskset -c "$CLIENT_CPU")
BIN="" WWW="" PORT="" CLK_TCK=""

setup() {
    bench_init
    need_cpus 2
    need_apt python3 curl wrk nginx
    CLK_TCK=$(getconf CLK_TCK)
    note "building 05-http-server (release)"
    cargo build --release --quiet -p ch05-http-server
    BIN="${CARGO_TARGET_DIR:-target}/release/05-http-server"
    [[ -x $BIN ]] || die "no binary at $BIN after the build"
    WWW="$BENCH_TMP/www"
    mkdir -p "$WWW"
    head -c 1024 /dev/zero | tr '\0' 'a' >"$WWW/1k.txt"
    head -c $((10 << 20)) /dev/urandom >"$WWW/10m.bin"
}

# --- the servers -----------------------------------------------------------------------------
# Each start_* leaves the server's PID in BG_PID and its port in PORT.

start_ours() {
    start_announced ours '^listening on ' "${ON_SERVER_CPU[@]}" "$BIN" serve --quiet --port 0 "$WWW"
    PORT=${READY_LINE##*:}
}

start_python() {
    PORT=$(free_port)
    # -u: its "Serving HTTP on ..." line must not wait in a pipe buffer.
    start_announced python '^Serving HTTP on ' "${ON_SERVER_CPU[@]}" \
        python3 -u -m http.server --bind 127.0.0.1 --directory "$WWW" "$PORT"
}

start_nginx() {
    PORT=$(free_port)
    local conf="$BENCH_TMP/nginx.conf"
    # master_process off: the one process is the worker (no master forking it), so the PID we
    # pin and stop is the one that serves. Temp paths go to our scratch folder, as nginx would
    # otherwise want to write under /var/lib/nginx.
    cat >"$conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $BENCH_TMP/nginx.pid;
error_log $BENCH_TMP/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    types { text/plain txt; application/octet-stream bin; }
    client_body_temp_path $BENCH_TMP/nginx-body;
    proxy_temp_path $BENCH_TMP/nginx-proxy;
    fastcgi_temp_path $BENCH_TMP/nginx-fastcgi;
    uwsgi_temp_path $BENCH_TMP/nginx-uwsgi;
    scgi_temp_path $BENCH_TMP/nginx-scgi;
    server {
        listen 127.0.0.1:$PORT;
        root $WWW;
    }
}
EOF
    start_bg nginx "${ON_SERVER_CPU[@]}" nginx -e "$BENCH_TMP/nginx-error.log" -p "$BENCH_TMP" -c "$conf"
    wait_for_port "$PORT"
}

start_server() {
    case $1 in
    ours) start_ours ;;
    python) start_python ;;
    nginx) start_nginx ;;
    *) die "unknown server $1" ;;
    esac
}

# Ours gets SIGINT, the clean stop the chapter teaches, and must say so; the peers get SIGTERM.
stop_server() {
    if [[ $1 == ours ]]; then
        stop "$2" INT
        grep -q '^server stopped: ' "$BENCH_TMP/ours.log" ||
            die "our server did not stop cleanly on SIGINT; log: $(tail -n 5 "$BENCH_TMP/ours.log")"
    else
        stop "$2"
    fi
}

# --- the loads -------------------------------------------------------------------------------

# wrk_run SERVER_PID CONNS : one wrk run on the 1 KiB file; sets W_RPS, W_US (the server's CPU
# time per request, user + system, all threads, from /proc/PID/stat) and W_ERRORS (socket errors
# and non-2xx responses, summed). Not called in $(...), so clean-up knows the process.
wrk_run() {
    local log="$BENCH_TMP/wrk.log" line before after requests
    before=$(cpu_ticks "$1") || die "the server is gone"
    start_bg wrk "${ON_CLIENT_CPU[@]}" wrk -t1 -c"$2" -d"${SECS}s" "http://127.0.0.1:$PORT/1k.txt"
    finish "$BG_PID" $((SECS + 30)) || die "wrk failed; log: $(tail -n 5 "$log")"
    after=$(cpu_ticks "$1") || die "the server died during the run"
    line=$(grep 'Requests/sec:' "$log") || die "no result from wrk; log: $(tail -n 5 "$log")"
    W_RPS=$(parse "$line" 's/^Requests\/sec: *\([0-9.]*\).*/\1/p')
    line=$(grep -E '^ *[0-9]+ requests in ' "$log") || die "no request count from wrk; log: $(tail -n 5 "$log")"
    requests=$(parse "$line" 's/^ *\([0-9]*\) requests in.*/\1/p')
    W_US=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v n="$requests" 'BEGIN { printf "%.1f\n", t * 1e6 / hz / n }')
    W_ERRORS=$(awk '/Socket errors:/ { gsub(",", ""); s += $4 + $6 + $8 + $10 }
        /Non-2xx or 3xx responses:/ { s += $5 } END { print s + 0 }' "$log")
    rm -f "$log"
}

# download_run : one curl fetching the 10 MiB file DOWNLOADS times, on one connection where the
# server keeps it; sets D_SECS, the sum of curl's own time for each transfer (%{time_total}: from
# the request to the last byte). Not the wall time around curl: `finish` polls every 0.1 s.
download_run() {
    local log="$BENCH_TMP/curl.log" args=() i total
    for ((i = 0; i < DOWNLOADS; i++)); do
        args+=(--output /dev/null "http://127.0.0.1:$PORT/10m.bin")
    done
    start_bg curl "${ON_CLIENT_CPU[@]}" curl --silent --show-error --max-time 60 \
        --write-out '%{size_download} %{time_total}\n' "${args[@]}"
    finish "$BG_PID" 90 || die "curl failed; log: $(tail -n 5 "$log")"
    total=$(awk '{ s += $1 } END { print s + 0 }' "$log")
    ((total == DOWNLOADS * (10 << 20))) || die "curl downloaded $total bytes, not $((DOWNLOADS * (10 << 20)))"
    D_SECS=$(awk '{ s += $2 } END { printf "%.3f\n", s }' "$log")
    rm -f "$log"
}

declare -A RPS50 US50 ERR50 RPS1 DL
measure() {
    local kind=$1 server i j r50=() u50=() e50=() r1=() dl=()
    start_server "$kind"
    server=$BG_PID
    curl --silent --fail --output /dev/null "http://127.0.0.1:$PORT/1k.txt" || die "$kind does not serve the 1 KiB file"
    for ((i = 1; i <= RUNS; i++)); do
        wrk_run "$server" 50
        r50+=("$W_RPS") u50+=("$W_US") e50+=("$W_ERRORS")
        wrk_run "$server" 1
        r1+=("$W_RPS")
        # 20 downloads of 10 MiB take about 0.1 s, so one sample is mostly noise: take several
        # per run, and the median of them all.
        for ((j = 0; j < DOWNLOAD_SAMPLES; j++)); do
            download_run
            dl+=("$D_SECS")
        done
        note "  $kind run $i/$RUNS: -c50 ${r50[-1]} req/s (${u50[-1]} µs CPU each, ${e50[-1]} errors), -c1 ${r1[-1]} req/s, 10 MiB x$DOWNLOADS in ${dl[-1]} s (last of $DOWNLOAD_SAMPLES)"
    done
    stop_server "$kind" "$server"
    RPS50[$kind]=$(median "${r50[@]}")
    US50[$kind]=$(median "${u50[@]}")
    ERR50[$kind]=$(median "${e50[@]}")
    RPS1[$kind]=$(median "${r1[@]}")
    DL[$kind]=$(median "${dl[@]}")
}

# --- report ----------------------------------------------------------------------------------

print_report() {
    echo "## Chapter 05 static-file server benchmark"
    echo
    machine_header
    echo "- command: \`$COMMAND\`"
    echo "- runs: median of $RUNS; servers on CPU $SERVER_CPU, wrk and curl on CPU $CLIENT_CPU (taskset), 127.0.0.1"
    echo "- loads: \`wrk -t1 -c50 -d${SECS}s\` and \`wrk -t1 -c1 -d${SECS}s\` on a 1 KiB file;" \
        "one \`curl\` downloading a 10 MiB file $DOWNLOADS times (curl's time per transfer, summed; sizes checked), timed $DOWNLOAD_SAMPLES times per run"
    echo "- versions: $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(python3 --version)," \
        "$(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2), $(curl --version | head -n1 | cut -d' ' -f1-2), $(rustc --version | cut -d' ' -f1-2)"
    echo
    header server "1 KiB, -c50: req/s" "ours ÷ it" "server CPU µs/request (-c50)" "1 KiB, -c1: req/s" "ours ÷ it" "10 MiB ×$DOWNLOADS: s" "it ÷ ours" "wrk errors (-c50)"
    local kind label
    for kind in ours nginx python; do
        case $kind in
        ours) label="ours (\`05-http-server serve --quiet\`, a thread per connection)" ;;
        nginx) label="nginx, 1 worker (sendfile on, access_log off)" ;;
        python) label="\`python3 -m http.server\`" ;;
        esac
        row "$label" "${RPS50[$kind]}" "$(ratio "${RPS50[ours]}" "${RPS50[$kind]}")" "${US50[$kind]}" \
            "${RPS1[$kind]}" "$(ratio "${RPS1[ours]}" "${RPS1[$kind]}")" \
            "${DL[$kind]}" "$(ratio "${DL[$kind]}" "${DL[ours]}")" "${ERR50[$kind]}"
    done
    echo
    echo "### Targets"
    echo
    header target measured required met
    target "1 KiB at -c50: ours ÷ nginx (req/s)" "$(ratio "${RPS50[ours]}" "${RPS50[nginx]}")" ">=" 1.0
    target "1 KiB at -c50: ours ÷ python http.server (req/s)" "$(ratio "${RPS50[ours]}" "${RPS50[python]}")" ">=" 30
    target "10 MiB ×$DOWNLOADS: ours ÷ nginx (time)" "$(ratio "${DL[ours]}" "${DL[nginx]}")" "<=" 1.1
}

main() {
    setup
    local kind
    for kind in ours nginx python; do
        note "$kind"
        measure "$kind"
    done
    print_report
}

main
