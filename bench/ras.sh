#!/usr/bin/env bash
# Gatekeeper benchmark: RAS transactions per second and CPU per transaction of causeway's
# gatekeeper (UDP 1719 role, on loopback), driven by `h323-endpoint bench` (tests/src/h323ep,
# one UDP socket, requests at a fixed rate, confirms matched by requestSeqNum).
#
#   rrq: N endpoints register in full, then keep sending lightweight re-registrations
#        (keepAlive, endpointIdentifier): one RRQ/RCF per request.
#   arq: N endpoints register first; then ARQ (caller -> another endpoint's E.164 alias,
#        routed through the search rules and the registration table) answered by ACF, each
#        followed by its DRQ/DCF: two RAS transactions per admitted call.
#
# For each kind and each rate of RATES it prints the achieved rate, confirmed/rejected/timeouts,
# latency p50/p99 and causeway's CPU microseconds per request (utime+stime from /proc, whole
# process, over the load window), and the highest rate sustained with every request confirmed.
# No peer runs side by side: GNU Gatekeeper, the obvious one, is not packaged in Debian 13 and
# nothing else is reachable here (recorded in BENCHMARKS.md).
#
# Usage: bench/ras.sh [rrq|arq|both]     (default both)
# Knobs: RATES="1000 5000 10000 20000" DUR=10 ALIASES=1000 RAS_PORT=11719 Q931_PORT=11720 KEEP=1
set -u
MODE="${1:-both}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RATES="${RATES:-1000 5000 10000 20000}"
DUR="${DUR:-10}"
ALIASES="${ALIASES:-1000}"
RAS_PORT="${RAS_PORT:-11719}"
Q931_PORT="${Q931_PORT:-11720}"
SIP_PORT="${SIP_PORT:-11760}"
HZ=$(getconf CLK_TCK)

for p in "$RAS_PORT" "$SIP_PORT"; do
    if ss -Hlun "sport = :$p" | grep -q .; then echo "UDP port $p is busy" >&2; exit 2; fi
done
(cd "$ROOT" && cargo build --release -q -p causeway -p causeway-tests --bin causeway --bin h323-endpoint) || exit 2
CAUSEWAY="$ROOT/target/release/causeway"
EP="$ROOT/target/release/h323-endpoint"

WORK="$(mktemp -d /tmp/rasbench.XXXXXX)"
PID=""
cleanup() {
    [ -n "$PID" ] && [ "$(cat /proc/$PID/comm 2>/dev/null)" = causeway ] && kill "$PID" 2>/dev/null
    if [ "${KEEP:-0}" = 1 ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT INT TERM

cat > "$WORK/gk.toml" <<TOML
[system]
name = "ras-bench"
role = "control"
domain = "example.com"
[sip]
udp = { enabled = true, listen = "127.0.0.1:$SIP_PORT" }
tcp = { enabled = false }
tls = { enabled = false }
[admin]
enabled = false
[media]
anchor = "none"
[h323]
enabled = true
ras_listen = "127.0.0.1:$RAS_PORT"
q931_listen = "127.0.0.1:$Q931_PORT"
max_registrations = 1000000
max_calls = 1000000
[log]
level = "warn"
[protection]
# the load generators share one address: a budget no run reaches (the guard still counts)
messages_per_second = 1000000
TOML

cpu() { # utime+stime ticks of causeway, all threads
    sed 's/^.*) //' "/proc/$PID/stat" | awk '{print $12 + $13}'
}

start_node() {
    "$CAUSEWAY" run --config "$WORK/gk.toml" 2>"$WORK/node.log" &
    PID=$!
    for _ in $(seq 100); do grep -q running "$WORK/node.log" && break; sleep 0.05; done
}

stop_node() {
    kill "$PID"; wait "$PID" 2>/dev/null; PID=""
}

# Each rate gets a fresh node: the same aliases register again from a new socket, which a
# running gatekeeper would (rightly) refuse as duplicates.
run_kind() {
    local kind=$1 best=0
    for rate in $RATES; do
        local c0 t0 c1 t1 line result
        start_node
        c0=$(cpu); t0=$(date +%s.%N)
        line=$("$EP" bench --gk "127.0.0.1:$RAS_PORT" --kind "$kind" --rate "$rate" --duration "$DUR" \
               --aliases "$ALIASES" 2>>"$WORK/ep.log" | tail -1)
        c1=$(cpu); t1=$(date +%s.%N)
        stop_node
        result=$(python3 - "$kind" "$rate" "$c0" "$c1" "$t0" "$t1" "$HZ" "$line" <<'PY'
import json, sys
kind, rate, c0, c1, t0, t1, hz, line = sys.argv[1:]
try:
    r = json.loads(line)
    r["confirmed"]
except (ValueError, KeyError):
    print(f"{kind} target={int(rate):6d}/s bench failed: {line} FAIL")
    sys.exit(0)
cpu_s = (int(c1) - int(c0)) / int(hz)
n = r["confirmed"] + r["rejected"]
# the window covers the load only (the endpoints of an arq run register before it starts,
# inside the same window: a few hundred RRQs against tens of thousands of ARQs+DRQs)
per = 1e6 * cpu_s / n if n else float("nan")
ok = r["confirmed"] == r["sent"] and r["timeouts"] == 0
print(f"{kind} target={int(rate):6d}/s achieved={r['sent']/r['elapsed_s']:9.1f}/s sent={r['sent']} "
      f"confirmed={r['confirmed']} rejected={r['rejected']} timeouts={r['timeouts']} "
      f"p50={r['p50_us']}us p99={r['p99_us']}us cpu={100*cpu_s/(float(t1)-float(t0)):5.1f}% "
      f"cpu_per_request={per:6.1f}us {'OK' if ok else 'LOSS'}")
PY
)
        echo "$result" | tee -a "$WORK/results"
        case "$result" in *" OK") best=$rate ;; esac
    done
    echo "$kind: highest rate with every request confirmed: $best/s"
}

echo "causeway $("$CAUSEWAY" --version | awk '{print $2}'), $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(date -u +%F)"
case "$MODE" in
    rrq) run_kind rrq ;;
    arq) run_kind arq ;;
    both) run_kind rrq; run_kind arq ;;
    *) echo "usage: $0 [rrq|arq|both]" >&2; exit 2 ;;
esac
