#!/usr/bin/env bash
# transport-floor.sh - what the transport alone costs: a bare SMTP responder (stores and relays
# nothing) on .NET sockets with async/await, on an epoll loop of its own (one or two loop
# threads), and Postfix's smtp-sink (C) for scale; smtp-source drives each with -s sessions.
#
#   bench/transport-floor.sh [-m N] [-s N] [-r N] [-d]
#
# Prints messages/s and the responder's CPU per message (user+system from /proc/PID/stat).
# Loopback only (127.0.0.3:2700); every process it starts is stopped by PID. Needs smtp-source and
# smtp-sink (Debian: postfix). docs/performance.md, "Sixth pass", has the figures.
set -uo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
M=20000; S=10; R=2; REUSE=()
while getopts "m:s:r:d" opt; do
    case $opt in
        m) M=$OPTARG ;; s) S=$OPTARG ;; r) R=$OPTARG ;; d) REUSE=(-d) ;;
        *) sed -n '2,11p' "$0"; exit 2 ;;
    esac
done
dotnet build "$REPO/bench/TransportFloor/TransportFloor.csproj" -c Release -nologo -v quiet -clp:ErrorsOnly >&2 || exit 2
BIN="$REPO/bench/TransportFloor/bin/Release/net10.0/transport-floor"
ADDR=127.0.0.3; PORT=${FLOOR_PORT:-2700}
P=""
cleanup() { [ -n "$P" ] && { kill -TERM "$P" 2>/dev/null; wait "$P" 2>/dev/null; }; }
trap cleanup EXIT
SINKUSER=(); [ "$(id -u)" = 0 ] && SINKUSER=(-u nobody)
SRC=(smtp-source "${REUSE[@]}" -s "$S" -l 1024 -f sender@client.example.test -t rcpt@example.test)

measure() { # label, then the responder's command line
    local label=$1; shift
    "$@" >/dev/null 2>&1 & P=$!
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/$ADDR/$PORT") 2>/dev/null && break; sleep 0.1; done
    timeout 120 "${SRC[@]}" -m 2000 "$ADDR:$PORT"                     # warm-up
    local c0 t0 t1 c1
    c0=$(awk '{print $14+$15}' "/proc/$P/stat"); t0=$(date +%s.%N)
    timeout 600 "${SRC[@]}" -m "$M" "$ADDR:$PORT"
    t1=$(date +%s.%N); c1=$(awk '{print $14+$15}' "/proc/$P/stat")
    kill -TERM "$P" 2>/dev/null; wait "$P" 2>/dev/null; P=""
    awk -v l="$label" -v m="$M" -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%-22s %8.0f msgs/s  %.3f ms CPU/msg\n", l, m/(t1-t0), (c1-c0)/hz*1000/m }'
}

for round in $(seq "$R"); do
    echo "round $round (${S} sessions${REUSE:+, -d}, $M messages)"
    measure ".NET sockets" "$BIN" net "$ADDR:$PORT"
    measure "epoll, 1 loop" "$BIN" epoll "$ADDR:$PORT" 1
    measure "epoll, 2 loops" "$BIN" epoll "$ADDR:$PORT" 2
    measure "smtp-sink (C)" smtp-sink "${SINKUSER[@]}" "$ADDR:$PORT" 512
done
