#!/usr/bin/env bash
# run-compare.sh - Mailroom against the shared SMTP benchmark harness in one command.
#
# Builds Mailroom (Release), writes a benchmark configuration into a temporary data_dir (under
# $TMPDIR, the file system the harness puts Postfix's queue on, so both pay the same fsync cost),
# starts Mailroom on 127.0.0.2:2500 relaying example.test to the harness's sink 127.0.0.1:2626,
# runs smtp-compare.sh with the options given, then stops Mailroom by PID and removes the folder.
#
#   sudo bench/run-compare.sh                      # harness defaults: 10,000 x 1 KiB, 10 sessions, 3 rounds
#   sudo bench/run-compare.sh -m 3000 -r 3 -s 50 -e
#
# Options passed to the harness: -m N -s N -l B -r N -w N -d -e (see the harness's README).
# -q turns off the harness's memory sampling (by default it samples Mailroom's PID, -p).
# Environment:
#   MAILROOM_BENCH_HARNESS  the harness script [../shared/bench/smtp-compare.sh beside the repo]
#   MAILROOM_LOG_LEVEL      Mailroom's minimum log level [Information]; e.g. Warning to measure logging
#   MAILROOM_BENCH_KEEP=1   keep the temporary folder (config, spool, mailroom.log)
#   MAILROOM_ADDRESS, MAILROOM_PORT  where Mailroom listens [127.0.0.2, 2500]; TMPDIR as for the harness.
#   MAILROOM_BIN            a prebuilt mailroom executable to run instead of building this tree
#                           (A/B runs: copy bin/Release/net10.0 of the "before" build aside first)
# Only loopback (127.0.0.0/8) is contacted. Needs root (the harness starts a private Postfix).
set -uo pipefail
. "$(dirname "$0")/bench-config.sh"

REPO=$(cd "$(dirname "$0")/.." && pwd)
PROG=$(basename "$0")
HARNESS=${MAILROOM_BENCH_HARNESS:-$REPO/../shared/bench/smtp-compare.sh}
# 127.0.0.2, not 127.0.0.1: Mailroom's MX loop check compares addresses without ports, so a
# listener on 127.0.0.1 makes the route "[127.0.0.1]:2626" look like itself ("mail for example.test
# loops back to myself") and nothing would be delivered. All of 127.0.0.0/8 is loopback on Linux.
ADDR=${MAILROOM_ADDRESS:-127.0.0.2}
PORT=${MAILROOM_PORT:-2500}
SINK_PORT=${SINK_PORT:-2626}

die() { echo "$PROG: error: $*" >&2; exit 2; }

if [ ! -f "$HARNESS" ]; then
    die "benchmark harness not found at $HARNESS.
It is not part of this repository (a clone has no ../shared); point MAILROOM_BENCH_HARNESS at smtp-compare.sh."
fi

PASS=(); MEMSAMPLE=1
while getopts "m:s:l:r:w:deqh" opt; do
    case $opt in
        m|s|l|r|w) PASS+=("-$opt" "$OPTARG") ;;
        d|e) PASS+=("-$opt") ;;
        q) MEMSAMPLE=0 ;;
        h) sed -n '2,20p' "$0"; exit 0 ;;
        *) die "unknown option (see -h)" ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || die "unexpected arguments: $*"
[ "$(id -u)" = 0 ] || die "must run as root (the harness starts a private Postfix)"

if [ -n "${MAILROOM_BIN:-}" ]; then
    BIN=$MAILROOM_BIN
    echo "# using $BIN (not built)" >&2
else
    echo "# building Mailroom (Release)" >&2
    dotnet build "$REPO/src/Mailroom/Mailroom.csproj" -c Release -nologo -v quiet -clp:ErrorsOnly >&2 || die "build failed"
    BIN="$REPO/src/Mailroom/bin/Release/net10.0/mailroom"
fi
[ -x "$BIN" ] || die "no executable at $BIN"

(exec 3<>"/dev/tcp/$ADDR/$PORT") 2>/dev/null && die "$ADDR:$PORT is already in use (set MAILROOM_PORT)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mailroom-bench.XXXXXX") || die "mktemp failed"
MR_PID=""
cleanup() {
    set +e
    if [ -n "$MR_PID" ] && kill -0 "$MR_PID" 2>/dev/null; then
        kill -TERM "$MR_PID"
        for _ in $(seq 100); do kill -0 "$MR_PID" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$MR_PID" 2>/dev/null && kill -KILL "$MR_PID"
        wait "$MR_PID" 2>/dev/null
    fi
    if [ "${MAILROOM_BENCH_KEEP:-0}" = 1 ]; then echo "# kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_config "$WORK/data" "$ADDR" "$PORT" "$SINK_PORT" >"$WORK/mailroom.toml"

echo "# starting Mailroom: $WORK (fs $(stat -f -c %T "$WORK")), log level ${MAILROOM_LOG_LEVEL:-Information}" >&2
MAILROOM_Logging__LogLevel__Default=${MAILROOM_LOG_LEVEL:-Information} \
    "$BIN" serve --config "$WORK/mailroom.toml" >"$WORK/mailroom.log" 2>&1 &
MR_PID=$!
up=0
for _ in $(seq 300); do
    kill -0 "$MR_PID" 2>/dev/null || break
    if (exec 3<>"/dev/tcp/$ADDR/$PORT") 2>/dev/null; then up=1; break; fi
    sleep 0.1
done
[ "$up" = 1 ] || die "Mailroom did not start listening on $ADDR:$PORT: $(tail -5 "$WORK/mailroom.log")"

[ "$MEMSAMPLE" = 1 ] && PASS+=(-p "$MR_PID") || PASS+=(-q)
TMPDIR=${TMPDIR:-/tmp} bash "$HARNESS" "${PASS[@]}" "mailroom=$ADDR:$PORT"
status=$?
echo "# mailroom: log $(wc -l <"$WORK/mailroom.log") lines, $(grep -c -E ' (error|fatal) ' "$WORK/mailroom.log") error lines" >&2
grep -m3 -E ' (error|fatal) ' "$WORK/mailroom.log" >&2
exit $status
