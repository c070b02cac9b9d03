#!/usr/bin/env bash
# Runs every Mailroom test. Installs what the tests need first (Debian packages, NuGet restore),
# builds once, runs each test project, and ends with the line "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")"

# Debian packages the integration tests use as real peers and oracles.
packages=(swaks libnet-ssleay-perl libio-socket-ssl-perl dnsmasq-base postfix python3 python3-dkim python3-spf python3-aiosmtpd opendkim-tools opendkim openssl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || { echo "could not install: ${missing[*]}"; echo "0 passed, 1 failed"; exit 1; }
fi

results=artifacts/test-results
rm -rf "$results"; mkdir -p "$results"

if ! dotnet build Mailroom.slnx -c Release -nologo -v quiet -clp:ErrorsOnly; then
  echo "build failed"; echo "0 passed, 1 failed"; exit 1
fi

status=0
for project in tests/*/*.csproj; do
  name=$(basename "$project" .csproj)
  echo "== $name"
  dotnet test "$project" -c Release --no-build -nologo \
    --logger "trx;LogFileName=$PWD/$results/$name.trx" --logger "console;verbosity=minimal" || status=1
done

passed=0; failed=0; skipped=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx")
  get() { echo "$counters" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p"; }
  passed=$((passed + $(get passed)))
  failed=$((failed + $(get failed) + $(get error) + $(get timeout) + $(get aborted)))
  skipped=$((skipped + $(get notExecuted)))
done
# A test project that crashed before writing its results counts as a failure.
expected=$(ls tests/*/*.csproj | wc -l); written=$(ls "$results"/*.trx 2>/dev/null | wc -l)
[ "$written" -lt "$expected" ] && failed=$((failed + expected - written))
echo "$passed passed, $failed failed, $skipped skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
