#!/usr/bin/env bash
# cpu-per-message.sh - Mailroom alone: CPU time and (optionally) system calls per relayed message.
#
#   bench/cpu-per-message.sh [-b BIN] [-m N] [-s N] [-w N] [-l BYTES] [-d] [-t]
#
# Starts BIN (default: this tree's Release build, built first) on 127.0.0.2:2500 relaying
# example.test to an smtp-sink on 127.0.0.1:2626, sends -w warm-up messages, then -m messages
# with smtp-source -s sessions (-d: reusing connections), waits until the sink has them all, and prints Mailroom's
# user+system CPU per message (from /proc/PID/stat) and the elapsed rates. With -t it also runs
# strace -c -f on Mailroom during the measured messages and prints calls per message (strace
# slows everything down: use -t for counts, not for times). Loopback only; every process it
# starts is stopped by PID. Needs smtp-source and smtp-sink (Debian: postfix).
set -uo pipefail
. "$(dirname "$0")/bench-config.sh"
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=""; M=2000; S=10; W=300; TRACE=0; L=1024; REUSE=()
while getopts "b:m:s:w:l:dt" opt; do
    case $opt in
        b) BIN=$OPTARG ;; m) M=$OPTARG ;; s) S=$OPTARG ;; w) W=$OPTARG ;; l) L=$OPTARG ;; d) REUSE=(-d) ;; t) TRACE=1 ;;
        *) sed -n '2,12p' "$0"; exit 2 ;;
    esac
done
if [ -z "$BIN" ]; then
    dotnet build "$REPO/src/Mailroom/Mailroom.csproj" -c Release -nologo -v quiet -clp:ErrorsOnly >&2 || exit 2
    BIN="$REPO/src/Mailroom/bin/Release/net10.0/mailroom"
fi
ADDR=127.0.0.2; PORT=${MAILROOM_PORT:-2500}; SINK_PORT=${SINK_PORT:-2626}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mailroom-cpu.XXXXXX")
MR=""; SINK=""; ST=""
cleanup() {
    for p in $ST $MR $SINK; do kill -TERM "$p" 2>/dev/null; done
    for p in $ST $MR $SINK; do wait "$p" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
bench_config "$WORK/data" "$ADDR" "$PORT" "$SINK_PORT" >"$WORK/mailroom.toml"
SINKUSER=(); [ "$(id -u)" = 0 ] && SINKUSER=(-u nobody)
smtp-sink "${SINKUSER[@]}" -c 127.0.0.1:$SINK_PORT 1000 >"$WORK/sink.out" 2>&1 & SINK=$!
"$BIN" serve --config "$WORK/mailroom.toml" >"$WORK/mailroom.log" 2>&1 & MR=$!
for _ in $(seq 300); do (exec 3<>"/dev/tcp/$ADDR/$PORT") 2>/dev/null && break; sleep 0.1; done
delivered() { grep -c 'status=sent' "$WORK/mailroom.log"; }
wait_delivered() { for _ in $(seq 600); do [ "$(delivered)" -ge "$1" ] && return 0; sleep 0.1; done; return 1; }
SRC=(smtp-source "${REUSE[@]}" -s "$S" -l "$L" -f sender@client.example.test -t rcpt@example.test)
[ "$W" -gt 0 ] && { "${SRC[@]}" -m "$W" "$ADDR:$PORT"; wait_delivered "$W"; }
cpu() { awk '{print $14+$15}' "/proc/$MR/stat"; }
[ "$TRACE" = 1 ] && { strace -c -f -o "$WORK/strace.out" -p "$MR" 2>/dev/null & ST=$!; sleep 1; }
c0=$(cpu); t0=$(date +%s.%N)
"${SRC[@]}" -m "$M" "$ADDR:$PORT"; t1=$(date +%s.%N)
wait_delivered $((W + M)) || { echo "not all delivered: $(delivered)" >&2; grep -v " info " "$WORK/mailroom.log" | tail -3 >&2; grep "to=<" "$WORK/mailroom.log" | tail -2 >&2; }
t2=$(date +%s.%N); c1=$(cpu)
if [ -n "$ST" ]; then kill -INT "$ST"; wait "$ST" 2>/dev/null; ST=""; fi
tck=$(getconf CLK_TCK)
awk -v m="$M" -v c0="$c0" -v c1="$c1" -v hz="$tck" -v t0="$t0" -v t1="$t1" -v t2="$t2" 'BEGIN {
    printf "accept %.0f msgs/s, end-to-end %.0f msgs/s, mailroom CPU %.3f ms/msg\n", m/(t1-t0), m/(t2-t0), (c1-c0)/hz*1000/m }'
echo "log lines per message: $(awk -v m=$((W + M)) -v n="$(wc -l <"$WORK/mailroom.log")" 'BEGIN{printf "%.2f", n/m}')"
if [ "$TRACE" = 1 ]; then
    awk -v m="$M" '$1 ~ /^[0-9.]+$/ && NF >= 5 { n=$4; name=$NF; if (NF==6) {} ; printf "%-14s %7.2f\n", name, n/m }' "$WORK/strace.out" | sort -k2 -nr | head -25
fi
