#!/usr/bin/env bash
# Starts Mailroom (Release) on 127.0.0.2:2600 with a temporary data_dir, holds N idle connections
# (default 10,000) with bench/idle-connections.py, prints Mailroom's resident memory, stops it by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-10000}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
dotnet build src/Mailroom -c Release -nologo -v quiet >/dev/null
cat > "$work/mailroom.toml" <<TOML
hostname = "idle.example.test"
data_dir = "$work/data"
[[listen]]
role = "smtp"
address = "127.0.0.2:2600"
[limits]
connections = $((count + 100))
[policy]
listeners = []
[authentication]
spf_fail = "off"
verify_inbound = false
TOML
dotnet src/Mailroom/bin/Release/net10.0/mailroom.dll serve --config "$work/mailroom.toml" > "$work/mailroom.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do grep -q "listening: smtp" "$work/mailroom.log" && break; sleep 0.1; done
python3 bench/idle-connections.py "$pid" "$count" 127.0.0.2 2600
