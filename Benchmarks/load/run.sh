#!/usr/bin/env bash
# HTTP load on this machine with wrk (-t2 -c64), Roster's release build against nginx answering a
# constant 200 in the same run (absolute figures drift ±20 % between runs; the ratio is steadier).
#   Benchmarks/load/run.sh [seconds per run, default 10]
# Needs wrk and nginx (apt-get install -y wrk nginx-light); builds roster in release mode.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
duration="${1:-10}"
roster_port=18780
nginx_port=18790
for tool in wrk nginx curl; do
    command -v "$tool" >/dev/null || { echo "load: $tool is missing (apt-get install -y wrk nginx-light curl)" >&2; exit 1; }
done
(cd "$root" && swift build -c release --product roster >/dev/null)
roster="$root/.build/release/roster"
work="$(mktemp -d)"
cleanup() {
    [ -n "${roster_pid:-}" ] && kill "$roster_pid" 2>/dev/null || true
    [ -n "${nginx_pid:-}" ] && kill "$nginx_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$roster" serve --listen "127.0.0.1:$roster_port" --http-max-connections 4096 --log-level error >"$work/roster.log" 2>&1 &
roster_pid=$!
nginx -c "$here/nginx.conf" -p "$work" >"$work/nginx.log" 2>&1 &
nginx_pid=$!
for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$roster_port/services" >/dev/null 2>&1 && curl -fs "http://127.0.0.1:$nginx_port/" >/dev/null 2>&1 && break
    sleep 0.1
done

# Fixtures: 1,000 instances to heartbeat, a 1-instance and a 100-instance service to look up.
base="http://127.0.0.1:$roster_port"
for i in $(seq 1 1000); do
    printf '{"name":"beat","host":"10.1.%d.%d","port":8080,"ttl":3600}' $((i / 250)) $((i % 250)) |
        curl -fs -X POST -H 'Content-Type: application/json' --data-binary @- "$base/services" |
        sed 's/.*"id":"\([^"]*\)".*/\1/'
    echo  # the body has no final newline
done >"$work/ids.txt"
printf '{"name":"one","host":"10.2.0.1","port":8080,"ttl":3600}' | curl -fs -X POST --data-binary @- "$base/services" >/dev/null
for i in $(seq 1 100); do
    printf '{"name":"hundred","host":"10.3.0.%d","port":8080,"ttl":3600}' "$i" | curl -fs -X POST --data-binary @- "$base/services" >/dev/null
done

run() {
    local name="$1"; shift
    local out
    out="$(wrk -t2 -c64 -d"${duration}s" --latency "$@")"
    local rate p50 p99
    rate="$(echo "$out" | awk '/Requests\/sec/ {print $2}')"
    p50="$(echo "$out" | awk '$1 == "50%" {print $2}')"
    p99="$(echo "$out" | awk '$1 == "99%" {print $2}')"
    local errors
    errors="$(echo "$out" | awk '/Non-2xx/ {print $NF}')"
    printf '| %-28s | %10s | %8s | %8s | %s\n' "$name" "$rate" "$p50" "$p99" "${errors:+non-2xx: $errors}"
}

echo "wrk -t2 -c64 -d${duration}s on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
printf '| %-28s | %10s | %8s | %8s |\n' "target" "req/s" "p50" "p99"
run "nginx constant 200" "http://127.0.0.1:$nginx_port/"
run "roster register" -s "$here/register.lua" "$base"
export ROSTER_IDS="$work/ids.txt"
run "roster heartbeat" -s "$here/heartbeat.lua" "$base"
run "roster lookup, 1 instance" "$base/services/one"
run "roster lookup, 100 instances" "$base/services/hundred"
run "nginx constant 200 (again)" "http://127.0.0.1:$nginx_port/"
