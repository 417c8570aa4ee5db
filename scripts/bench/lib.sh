# shellcheck shell=bash
# Shared helpers for the benchmark scripts in scripts/bench/. Source it, do not run it:
#
#     source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#     bench_init            # cd to the repo root, scratch dir, clean-up traps
#
# Conventions (see /work/shared/DESIGN.md, "Benchmarks"): results go to stdout as markdown that
# can be pasted into the book; progress and errors go to stderr. Every process started through
# these helpers is remembered by PID and is stopped and reaped on exit, on error and on Ctrl-C.
# Every wait is bounded.

# PIDs of the processes we started and have not reaped yet, in start order.
BENCH_PIDS=()
# Scratch directory for FIFOs and server logs; removed on exit.
BENCH_TMP=""
# How long a server may take to say it is ready, in seconds.
READY_TIMEOUT=${READY_TIMEOUT:-10}

note() { printf '%s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# --- set-up ----------------------------------------------------------------------------------

# bench_command SCRIPT KNOB...: the command that reproduces this run: the knobs set in the
# environment, in front of SCRIPT. Call it before the defaults fill the knobs in.
bench_command() {
    local script=$1 knob line=""
    shift
    for knob; do
        [[ -z ${!knob+set} ]] || line+="$knob=${!knob} "
    done
    printf '%s
' "$line$script"
}

# bench_usage "$@": a benchmark takes no arguments (its knobs are environment variables), so
# any argument prints the script's header comment as help: exit 0 for -h/--help, else 2.
bench_usage() {
    (($#)) || return 0
    sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    [[ $* == -h || $* == --help ]] && exit 0 || exit 2
}

# need_count KNOB MIN MAX: the knob must be a whole number from MIN to MAX, or the script stops
# with a usage error (exit 2) before it starts anything.
need_count() {
    local value=${!1}
    if [[ ! $value =~ ^[0-9]{1,9}$ ]] || ((10#$value < $2 || 10#$value > $3)); then
        echo "error: $1 must be $2..$3, got '$value'" >&2
        exit 2
    fi
}

# cd to the repository root (two levels above this file), create the scratch directory and arm
# the clean-up traps.
bench_init() {
    cd "$(dirname "${BASH_SOURCE[0]}")/../.." || die "cannot cd to the repository root"
    BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/bench.XXXXXX")
    trap bench_cleanup EXIT
    trap 'exit 130' INT # exit runs the EXIT trap, which cleans up
    trap 'exit 143' TERM
}

# Install the Debian packages whose command is missing (command name = package name). Runs
# apt-get update only when the install fails without it (a fresh container has no lists).
need_apt() {
    local missing=() cmd sudo=()
    for cmd in "$@"; do
        command -v "$cmd" >/dev/null || missing+=("$cmd")
    done
    ((${#missing[@]})) || return 0
    ((EUID == 0)) || sudo=(sudo)
    note "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >&2; then
        "${sudo[@]}" apt-get update -qq >&2
        "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >&2
    fi
}

# The benchmark pins servers to one CPU and clients to another, so it needs two.
need_cpus() {
    local have
    have=$(nproc)
    ((have >= $1)) || die "this benchmark pins server and client to separate CPUs: needs $1, have $have"
}

# --- processes -------------------------------------------------------------------------------

# start_bg NAME CMD... : run CMD in the background, stdout and stderr to $BENCH_TMP/NAME.log.
# Sets BG_PID. (A global, not a $(...) result: a subshell could not remember the PID for us.)
start_bg() {
    local name=$1
    shift
    "$@" >>"$BENCH_TMP/$name.log" 2>&1 &
    BG_PID=$!
    BENCH_PIDS+=("$BG_PID")
}

# start_announced NAME REGEX CMD... : run CMD in the background and wait until it prints a stdout
# line matching REGEX (e.g. "listening on ADDR"), the project's readiness signal: no sleeping.
# Sets BG_PID and READY_LINE. The rest of its stdout keeps being drained into the log, so a
# server that prints a line per connection never blocks on a full pipe.
start_announced() {
    local name=$1 regex=$2
    shift 2
    local fifo="$BENCH_TMP/$name.fifo" log="$BENCH_TMP/$name.log" fd line i
    mkfifo "$fifo"
    "$@" >"$fifo" 2>>"$log" &
    BG_PID=$!
    BENCH_PIDS+=("$BG_PID")
    exec {fd}<"$fifo" # meets the child's open for writing
    rm -f "$fifo"
    READY_LINE=""
    for ((i = 0; i < 100; i++)); do # a server prints a few lines before it is ready, not 100
        IFS= read -r -t "$READY_TIMEOUT" -u "$fd" line || break
        printf '%s\n' "$line" >>"$log"
        if [[ $line =~ $regex ]]; then
            READY_LINE=$line
            break
        fi
    done
    cat <&"$fd" >>"$log" & # ends by itself at EOF, when the server exits
    # shellcheck disable=SC2034 # read by the scripts that source this file
    READY_DRAIN=$! # the cat above: wait for it before reading the log's last lines
    BENCH_PIDS+=("$!")
    exec {fd}<&-
    [[ -n $READY_LINE ]] || die "$name did not print /$regex/ within ${READY_TIMEOUT}s; log: $(tail -n 5 "$log")"
}

# A TCP port that was free a moment ago, for programs that cannot bind port 0 and tell us the
# port they got. (Small race: another process could take it before our server does.)
free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# Wait until 127.0.0.1:PORT accepts a connection: at most 200 tries, 25 ms apart (5 s).
# For servers that do not announce readiness. The probe connects and closes at once.
wait_for_port() {
    python3 - "$1" <<'EOF' || die "nothing accepted connections on 127.0.0.1:$1 within 5 s"
import socket, sys, time
port = int(sys.argv[1])
for _ in range(200):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.025)
sys.exit(1)
EOF
}

# Is PID still running? (A zombie, dead but not yet reaped, counts as gone.)
alive() {
    local stat
    { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
    stat=${stat##*) } # the fields after "(command name) "; the first is the state
    [[ ${stat%% *} != Z ]]
}

# gone_within TENTHS PID... : wait until every PID has ended, at most TENTHS x 0.1 s.
gone_within() {
    local tenths=$1 i p busy
    shift
    for ((i = 0; i <= tenths; i++)); do
        busy=0
        for p in "$@"; do
            if alive "$p"; then busy=1 && break; fi
        done
        ((busy)) || return 0
        ((i == tenths)) || sleep 0.1
    done
    return 1
}

# stop PID [SIGNAL] : stop a process we started and reap it. Its direct children go first (socat
# forks one per connection), so that it is still there to reap them; then PID gets SIGNAL
# (default TERM); whatever is left after 2 s gets SIGKILL.
stop() {
    local pid=$1 sig=${2:-TERM} kids p
    kids=$(pgrep -P "$pid" 2>/dev/null || true) # by parent PID: only what PID itself started
    for p in $kids; do kill -TERM "$p" 2>/dev/null || true; done
    # shellcheck disable=SC2086 # $kids is a list of PIDs
    gone_within 20 $kids || true
    kill "-$sig" "$pid" 2>/dev/null || true
    if ! gone_within 20 "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    for p in $kids; do
        if alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
    done
    wait "$pid" 2>/dev/null || true
    forget "$pid"
}

# Drop PID from BENCH_PIDS (after it was reaped, e.g. by wait_exit).
forget() {
    local keep=() p
    for p in "${BENCH_PIDS[@]}"; do
        [[ $p == "$1" ]] || keep+=("$p")
    done
    BENCH_PIDS=("${keep[@]}")
}

# wait_exit PID : reap a process that ends on its own (iperf3 -s -1), allowing it 10 s.
wait_exit() {
    gone_within 100 "$1" || true
    stop "$1"
}

# finish PID SECS : wait up to SECS seconds for a process we started (start_bg, start_announced)
# to end by itself, reap it and return its exit status. One still running then is stopped as by
# `stop`, and returns 124 (as timeout(1) does).
finish() {
    local pid=$1 status=0
    if ! gone_within $(($2 * 10)) "$pid"; then
        stop "$pid"
        return 124
    fi
    wait "$pid" || status=$?
    forget "$pid"
    return "$status"
}

# --- what a process costs (Linux /proc) ------------------------------------------------------

# cpu_ticks PID : the CPU time PID has used so far, all its threads, user + system, in clock
# ticks (getconf CLK_TCK per second): fields 14 and 15 of /proc/PID/stat.
cpu_ticks() {
    local stat fields
    stat=$(<"/proc/$1/stat") || return 1
    read -r -a fields <<<"${stat##*) }" # the fields after "(command name) "; the first is field 3
    echo $((fields[11] + fields[12]))
}

# proc_status PID FIELD : a number from /proc/PID/status, e.g. VmRSS (KiB) or Threads.
proc_status() {
    local value
    value=$(awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status") || return 1
    [[ -n $value ]] || return 1
    echo "$value"
}

# EXIT trap: stop everything still running, newest first, and remove the scratch directory.
bench_cleanup() {
    local status=$? i
    trap - EXIT INT TERM
    for ((i = ${#BENCH_PIDS[@]} - 1; i >= 0; i--)); do
        stop "${BENCH_PIDS[i]}"
    done
    [[ -z $BENCH_TMP ]] || rm -rf "$BENCH_TMP"
    exit "$status"
}

# --- numbers and tables ----------------------------------------------------------------------

# median NUMBER... : the middle value (the mean of the two middle ones for an even count).
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
        END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio A B : A / B to two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", a / b }'; }

# holds A OP B : exit status of the comparison A OP B (OP one of >= <= > <), for targets.
holds() { awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN {
    ok = (op == ">=") ? a >= b : (op == "<=") ? a <= b : (op == ">") ? a > b : a < b
    exit !ok }'; }

# row CELL... : one markdown table row. header CELL... : the header row and its rule.
row() {
    local out="|" cell
    for cell in "$@"; do out+=" $cell |"; done
    printf '%s\n' "$out"
}
header() {
    row "$@"
    local rule=() cell
    for cell in "$@"; do rule+=("---"); done
    row "${rule[@]}"
}

# The machine and the command, for the top of the report.
machine_header() {
    local mem_kib
    mem_kib=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
    printf -- '- date: %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf -- '- machine: %s CPUs (nproc), %s GiB memory, %s, Linux %s\n' "$(nproc)" \
        "$(awk -v k="$mem_kib" 'BEGIN { printf "%.1f", k / 1048576 }')" \
        "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)" "$(uname -r)"
}

# parse TEXT SED_SCRIPT : the first match of a `sed -n` script in a program's output line, or
# die showing the line.
parse() {
    local value
    value=$(sed -n "$2" <<<"$1")
    [[ -n $value ]] || die "could not parse: $1"
    printf '%s\n' "$value"
}

# target DESCRIPTION VALUE OP LIMIT : one row of a targets table, with "yes" or "no".
target() {
    local verdict="no"
    if holds "$2" "$3" "$4"; then verdict="yes"; fi
    row "$1" "$2" "$3 $4" "$verdict"
}
