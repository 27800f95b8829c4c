#!/usr/bin/env bash
# H.323 call-setup benchmark: gatekeeper-routed calls through two causeway nodes on loopback,
# the way a traversal call crosses E and C, beside the SIP two-hop figure of the same run.
#
#   caller (h323-endpoint bench --kind call) -> E :Q931 -> LRQ down the H.460.18 flow ->
#   SCI -> C's call-back -> C -> callee (an h323-endpoint registered on C, answering)
#
# Each call: Setup, CallProceeding/Alerting, Connect, HOLD ms, ReleaseComplete (H.245
# tunneled, no media). For each RATE it reports completed/failed calls, the achieved rate,
# Setup-to-Connect percentiles, and the CPU microseconds per completed call of E and C
# together (utime+stime of both processes from /proc over the run, as cps.sh measures). Then
# `bench/cps.sh twohop` runs the SIP two-hop at FIXED calls/s, and the summary prints both
# CPU-per-call figures and their ratio.
#
# Usage: bench/h323.sh [h323|both]                 (default both)
# Knobs: RATES="50 100 200" DUR=10 HOLD=100 FIXED=100 (the rate of the CPU comparison; it
#        must be one of RATES) BASE=46000 (E's and C's ports from there) KEEP=1
# Needs: cargo; for both: what bench/cps.sh needs (sip-tester, python3).
set -u
MODE="${1:-both}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RATES="${RATES:-50 100 200}"
DUR="${DUR:-10}"
HOLD="${HOLD:-100}"
FIXED="${FIXED:-100}"
BASE="${BASE:-46000}"
IP=127.0.0.1
HZ=$(getconf CLK_TCK)
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
case "$MODE" in h323|both) ;; *) echo "usage: $0 [h323|both]" >&2; exit 2 ;; esac
for p in $(seq "$BASE" $((BASE + 12))); do
    if ss -Hltun "sport = :$p" | grep -q .; then echo "port $p is busy" >&2; exit 2; fi
done
(cd "$ROOT" && cargo build --release -q -p causeway && cargo build --release -q -p causeway-tests --bin h323-endpoint) || exit 2
CAUSEWAY="$TARGET/release/causeway"; EP="$TARGET/release/h323-endpoint"

WORK="$(mktemp -d /tmp/h323bench.XXXXXX)"
PIDS=""
cleanup() {
    for pid in $PIDS; do kill "$pid" 2>/dev/null; done
    sleep 0.5
    for pid in $PIDS; do kill -9 "$pid" 2>/dev/null; done
    if [ "${KEEP:-0}" = 1 ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ticks() {   # utime+stime of the given PIDs (all threads)
    local t=0 pid f
    for pid in "$@"; do
        [ -r "/proc/$pid/stat" ] || continue
        f=$(sed 's/^.*) //' "/proc/$pid/stat"); set -- $f
        t=$(( t + ${12} + ${13} ))
    done
    echo "$t"
}

E_RAS=$BASE; E_Q931=$((BASE + 1)); ZONE=$((BASE + 2)); E_H245=$((BASE + 3)); E_ADMIN=$((BASE + 4))
E_SIP=$((BASE + 5)); ZONE_SIP=$((BASE + 6)); C_RAS=$((BASE + 7)); C_Q931=$((BASE + 8))
C_ADMIN=$((BASE + 9)); C_SIP=$((BASE + 10))
cat >"$WORK/edge.toml" <<TOML
[system]
name = "bench-edge"
role = "edge"
domain = "edge.bench"
[sip]
udp = { enabled = true, listen = "$IP:$E_SIP" }
tcp = { enabled = false }
tls = { enabled = false }
[admin]
listen = "$IP:$E_ADMIN"
[media]
anchor = "none"
[h323]
enabled = true
ras_listen = "$IP:$E_RAS"
q931_listen = "$IP:$E_Q931"
h46018_port = $E_H245
max_calls = 100000
[[credential]]
username = "control-1"
password = "secret"
[[zone]]
name = "from-control"
type = "traversal-server"
transport = "tcp"
sip_port = $ZONE_SIP
h323_port = $ZONE
username = "control-1"
listen_ip = "$IP"
[[search_rule]]
name = "2xxx to C"
pattern_type = "prefix"
pattern = "2"
target = "from-control"
[log]
level = "warn"
[protection]
# the load generators share one address: a budget no run reaches (the guard still counts)
messages_per_second = 1000000
TOML
cat >"$WORK/control.toml" <<TOML
[system]
name = "bench-control"
role = "control"
domain = "example.com"
[sip]
udp = { enabled = true, listen = "$IP:$C_SIP" }
tcp = { enabled = false }
tls = { enabled = false }
[admin]
listen = "$IP:$C_ADMIN"
[media]
anchor = "none"
[h323]
enabled = true
ras_listen = "$IP:$C_RAS"
q931_listen = "$IP:$C_Q931"
max_calls = 100000
[[zone]]
name = "to-edge"
type = "traversal-client"
peer = "$IP"
transport = "tcp"
sip_port = $ZONE_SIP
h323_port = $ZONE
username = "control-1"
password = "secret"
[log]
level = "warn,causeway_h323::driver::zones=info"
[protection]
# the load generators share one address: a budget no run reaches (the guard still counts)
messages_per_second = 1000000
TOML
"$CAUSEWAY" run --config "$WORK/edge.toml" >"$WORK/edge.log" 2>&1 &
E_PID=$!; PIDS="$PIDS $E_PID"
sleep 1
"$CAUSEWAY" run --config "$WORK/control.toml" >"$WORK/control.log" 2>&1 &
C_PID=$!; PIDS="$PIDS $C_PID"
for _ in $(seq 50); do grep -q "H.323 traversal flow up" "$WORK/control.log" && break; sleep 0.2; done
grep -q "H.323 traversal flow up" "$WORK/control.log" || { echo "the H.323 flow did not come up:"; cat "$WORK/control.log" "$WORK/edge.log"; exit 1; }
"$EP" --gk "$IP:$C_RAS" --alias e164:2001 --alias h323:bob --ignore-stdin >"$WORK/callee.log" 2>&1 &
CALLEE=$!; PIDS="$PIDS $CALLEE"
for _ in $(seq 50); do grep -q '"registered"' "$WORK/callee.log" && break; sleep 0.1; done
grep -q '"registered"' "$WORK/callee.log" || { echo "the callee did not register:"; cat "$WORK/callee.log"; exit 1; }

echo "# $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), DUR=$DUR HOLD=$HOLD ms"
H323_US=""; BEST=0
for r in $RATES; do
    t0=$(ticks "$E_PID" "$C_PID")
    "$EP" bench --gk "$IP:$E_Q931" --kind call --rate "$r" --duration "$DUR" --to e164:2001 \
        --hold-ms "$HOLD" >"$WORK/bench.out" 2>>"$WORK/bench.err"
    t1=$(ticks "$E_PID" "$C_PID")
    line=$(grep '"kind":"call"' "$WORK/bench.out" | tail -1)
    read -r done failed achieved p50 p99 < <(python3 -c '
import json,sys
v=json.loads(sys.argv[1])
s=v["setup_to_connect_ms"]
print(v["completed"], v["failed"], round(v["achieved_rate"],1), s["p50"], s["p99"])' "$line")
    us=$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v n="$done" 'BEGIN{printf "%.1f", (n>0 ? (b-a)*1e6/hz/n : 0)}')
    verdict=FAIL
    if awk -v d="$done" -v f="$failed" -v a="$achieved" -v r="$r" 'BEGIN{exit !(f*1000 <= d+f && a >= 0.95*r)}'; then
        verdict=PASS; BEST=$achieved
    fi
    printf 'h323-2hop %5d calls/s  achieved %6.1f/s  completed %6d  failed %4d  setup->connect p50 %6.2f ms p99 %6.2f ms  E+C %7.1f us/call  %s\n' \
        "$r" "$achieved" "$done" "$failed" "$p50" "$p99" "$us" "$verdict"
    [ "$r" = "$FIXED" ] && H323_US=$us
    [ "$verdict" = FAIL ] && { grep -o '"errors":\[[^]]*\]' "$WORK/bench.out"; break; }
done
echo "# H.323 two hops: highest passing rate $BEST calls/s"
for pid in $PIDS; do kill "$pid" 2>/dev/null; done; PIDS=""
if [ "$MODE" = both ]; then
    SIP_OUT=$(RATES="$FIXED" DUR="$DUR" FIXED="$FIXED" FIXED_DUR="$DUR" bash "$ROOT/bench/cps.sh" twohop 2>&1)
    echo "$SIP_OUT" | grep -E "^(twohop|SUMMARY)" 
    SIP_US=$(echo "$SIP_OUT" | sed -n 's/.*E+C \([0-9.]*\) us\/call.*/\1/p' | tail -1)
    echo "# summary at $FIXED calls/s: H.323 two hops E+C $H323_US us/call, SIP two hops E+C ${SIP_US:-?} us/call, ratio H.323/SIP $(awk -v h="$H323_US" -v s="${SIP_US:-0}" 'BEGIN{printf "%.2f", (s>0 ? h/s : 0)}')"
fi
