#!/usr/bin/env bash
# Chapter 06 benchmark: our HTTP client next to curl and Python's urllib, against nginx on
# loopback. Prints markdown tables (stdout) ready for the book's benchmark page.
#
#     scripts/bench/06-http-client.sh           # full run: 100 MiB download, 200 small GETs, 5 runs
#     QUICK=1 scripts/bench/06-http-client.sh   # smoke test: 16 MiB, 50 GETs, 1 run
#
# Knobs (environment): RUNS (5), SIZE_MIB (100; 1..1024), GETS (200; 1..1000), QUICK=1.
#
# 1. Download: one file of SIZE_MIB from nginx (sendfile on, access_log off, one worker), each
#    client writing the body to /dev/null the same way (`-o /dev/null`, or a file object on
#    /dev/null for Python). Figure: MiB/s of wall time for the whole process, start to exit.
# 2. Small GETs: GETS requests for a 100-byte file. Ours with GETS URLs in one process (one
#    keep-alive connection), curl with the same GETS URLs in one process (curl reuses its
#    connection too), and GETS separate curl processes (a new process, connection and TCP
#    handshake each). Figure: requests/s.
#
# nginx runs on CPU 0 and every client on CPU 1 (taskset), loopback only; nginx's config, pid
# file and logs live in a scratch directory, and it is stopped on exit.
set -euo pipefail
shopt -s inherit_errexit

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The knobs the caller set, captured before defaults fill them in, to print the exact command.
COMMAND=$(bench_command scripts/bench/06-http-client.sh QUICK RUNS SIZE_MIB GETS)

if [[ ${QUICK:-0} == 1 ]]; then
    RUNS=${RUNS:-1} SIZE_MIB=${SIZE_MIB:-16} GETS=${GETS:-50}
fi
RUNS=${RUNS:-5}
SIZE_MIB=${SIZE_MIB:-100}
GETS=${GETS:-200}
SERVER_CPU=0
CLIENT_CPU=1

bench_usage "$@"
need_count RUNS 1 99
need_count SIZE_MIB 1 1024
need_count GETS 1 1000

bench_init
need_cpus 2
need_apt nginx curl python3 taskset

note "building chapter 06 in release"
cargo build --release --quiet -p ch06-http-client
OURS=$PWD/target/release/06-http-client

# --- nginx, minimal, in the scratch directory ---------------------------------------------
WWW=$BENCH_TMP/www
mkdir -p "$WWW" "$BENCH_TMP/nginx"
head -c "$((SIZE_MIB << 20))" /dev/urandom >"$WWW/big.bin"
head -c 100 /dev/urandom | base64 -w0 | head -c 100 >"$WWW/small.txt"
# nginx started as root serves files as an unprivileged user (nobody or www-data), who must be
# able to read them: mktemp made the scratch directory private.
chmod a+rx "$BENCH_TMP" "$WWW"
chmod a+r "$WWW"/*
PORT=$(free_port) # nginx cannot report a port 0 back: a free port, with the usual tiny race
cat >"$BENCH_TMP/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $BENCH_TMP/nginx/nginx.pid;
error_log $BENCH_TMP/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path $BENCH_TMP/nginx/body;
    proxy_temp_path $BENCH_TMP/nginx/proxy;
    fastcgi_temp_path $BENCH_TMP/nginx/fastcgi;
    uwsgi_temp_path $BENCH_TMP/nginx/uwsgi;
    scgi_temp_path $BENCH_TMP/nginx/scgi;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$PORT;
        root $WWW;
    }
}
EOF
start_bg nginx taskset -c "$SERVER_CPU" nginx -p "$BENCH_TMP/nginx" -c "$BENCH_TMP/nginx/nginx.conf"
NGINX_PID=$BG_PID
wait_for_port "$PORT"
BIG=http://127.0.0.1:$PORT/big.bin
SMALL=http://127.0.0.1:$PORT/small.txt

# Every client must have fetched the whole file, or its time means nothing.
"$OURS" -s --fail "$BIG" | cmp -s - "$WWW/big.bin" || die "06-http-client did not fetch big.bin intact"
curl -s --fail "$BIG" | cmp -s - "$WWW/big.bin" || die "curl did not fetch big.bin intact"

# seconds CMD... : wall time of one run of CMD on the client CPU, in seconds.
seconds() {
    local t0 t1
    t0=$EPOCHREALTIME
    taskset -c "$CLIENT_CPU" "$@" >/dev/null
    t1=$EPOCHREALTIME
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", b - a }'
}

PY_GET='import shutil, sys, urllib.request
with urllib.request.urlopen(sys.argv[1]) as r, open("/dev/null", "wb") as out:
    shutil.copyfileobj(r, out, 1 << 20)'

many_curls() {
    local i
    for ((i = 0; i < GETS; i++)); do curl -s -o /dev/null "$SMALL"; done
}

SMALL_URLS=()
for ((i = 0; i < GETS; i++)); do SMALL_URLS+=("$SMALL"); done

declare -A DL REQ
note "download: $SIZE_MIB MiB x $RUNS runs per client; small GETs: $GETS x $RUNS runs"
for ((run = 1; run <= RUNS; run++)); do
    # The three downloads take turns within each run, so a busy moment hits all of them, and
    # each run starts with a different one: the first download follows 200 curl processes
    # that just exited, and going first every time cost ours about 8 %.
    for ((k = 0; k < 3; k++)); do
        case $(((run + k) % 3)) in
            0) DL[ours]+="$(seconds "$OURS" -s -o /dev/null "$BIG") " ;;
            1) DL[curl]+="$(seconds curl -s -o /dev/null "$BIG") " ;;
            2) DL[python]+="$(seconds python3 -c "$PY_GET" "$BIG") " ;;
        esac
    done
    REQ[ours]+="$(seconds "$OURS" -s "${SMALL_URLS[@]}") "
    REQ[curl_one]+="$(seconds curl -s "${SMALL_URLS[@]}") "
    REQ[curl_many]+="$(seconds bash -c "$(declare -f many_curls); GETS=$GETS SMALL=$SMALL many_curls") "
    note "run $run/$RUNS done"
done

mibs() { awk -v s="$1" -v m="$SIZE_MIB" 'BEGIN { printf "%.0f\n", m / s }'; }
rps() { awk -v s="$1" -v n="$GETS" 'BEGIN { printf "%.0f\n", n / s }'; }

# shellcheck disable=SC2086 # the lists are space-separated numbers
{
    ours_dl=$(mibs "$(median ${DL[ours]})")
    curl_dl=$(mibs "$(median ${DL[curl]})")
    py_dl=$(mibs "$(median ${DL[python]})")
    ours_rq=$(rps "$(median ${REQ[ours]})")
    curl1_rq=$(rps "$(median ${REQ[curl_one]})")
    curlN_rq=$(rps "$(median ${REQ[curl_many]})")
}

echo "### Chapter 06: HTTP client"
echo
machine_header
echo "- command: \`$COMMAND\`"
echo "- server: nginx $(nginx -v 2>&1 | sed 's|.*/||') (1 worker, sendfile, CPU $SERVER_CPU); clients on CPU $CLIENT_CPU;" \
    "$(curl --version | head -1 | cut -d' ' -f1-2); $(python3 --version)"
echo "- medians of $RUNS runs; every download written to /dev/null"
echo
echo "Download of $SIZE_MIB MiB (wall time of the whole process):"
echo
header "client" "MiB/s" "ratio to ours"
row "06-http-client -o /dev/null" "$ours_dl" "1.00"
row "curl -o /dev/null" "$curl_dl" "$(ratio "$curl_dl" "$ours_dl")"
row "python3 urllib" "$py_dl" "$(ratio "$py_dl" "$ours_dl")"
echo
echo "$GETS GETs of a 100-byte file:"
echo
header "client" "requests/s" "ratio to ours"
row "06-http-client, $GETS URLs, one connection" "$ours_rq" "1.00"
row "curl, $GETS URLs in one process (reuses its connection)" "$curl1_rq" "$(ratio "$curl1_rq" "$ours_rq")"
row "curl, $GETS processes" "$curlN_rq" "$(ratio "$curlN_rq" "$ours_rq")"
echo
echo "Targets:"
echo
header "target" "value" "needed" "met"
target "download throughput, ours / curl" "$(ratio "$ours_dl" "$curl_dl")" ">=" "1.0"
stop "$NGINX_PID"
