#!/bin/sh
# Creates the Python virtual environment with httpbin and gunicorn that the chapter 06 tests
# (tests/peers.rs) run as an outside HTTP server. Used by the tests themselves and by .ci/run,
# so both install the same thing. Usage: httpbin-venv.sh VENV_DIR
#
# flock serialises concurrent callers (parallel test binaries, CI): the second waits for the
# first and then finds the venv ready. Versions are pinned so every machine tests the same.
set -eu
venv=$1
mkdir -p "$(dirname "$venv")"
# shellcheck disable=SC2016 # the inner sh expands them, from its own "$1"
exec flock "$venv.lock" sh -c '
    venv=$1
    [ -x "$venv/bin/gunicorn" ] && exit 0
    echo "creating $venv (pip install httpbin gunicorn)" >&2
    python3 -m venv "$venv" || { echo "python3 -m venv failed: install python3-venv" >&2; exit 1; }
    "$venv/bin/pip" install --quiet --disable-pip-version-check httpbin==0.10.4 gunicorn==27.0.1 || {
        echo "pip install httpbin gunicorn failed: is PyPI reachable?" >&2
        exit 1
    }
' sh "$venv"
