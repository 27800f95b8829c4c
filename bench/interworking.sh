#!/usr/bin/env bash
# Interworking benchmark: SIP calls to an H.323 endpoint through one node's SIP <-> H.323
# gateway, beside SIP-to-SIP calls through the same node, in the same run.
#
#   sipp UAC -> node (proxy -> gateway -> gatekeeper) -> h323-endpoint (registered, answering
#   with fastStart)                                        ... "interworked"
#   sipp UAC -> node (proxy) -> sipp UAS (registered)      ... "sip"
#
# Each call: INVITE with SDP, 100/180, 200 with SDP, ACK, HOLD ms, BYE, 200 (no RTP). For each
# RATE it reports achieved rate, completed/failed calls and the node's CPU microseconds per
# completed call (utime+stime from /proc), then both figures at FIXED calls/s and the ratio.
#
# Usage: bench/interworking.sh
# Knobs: RATES="50 100 200" DUR=10 HOLD=100 FIXED=100 (must be one of RATES) BASE=47000 KEEP=1
# Needs: cargo, sip-tester, python3.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RATES="${RATES:-50 100 200}"
DUR="${DUR:-10}"
HOLD="${HOLD:-100}"
FIXED="${FIXED:-100}"
BASE="${BASE:-47000}"
IP=127.0.0.1
HZ=$(getconf CLK_TCK)
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
for p in $(seq "$BASE" $((BASE + 8))); do
    if ss -Hltun "sport = :$p" | grep -q .; then echo "port $p is busy" >&2; exit 2; fi
done
(cd "$ROOT" && cargo build --release -q -p causeway && cargo build --release -q -p causeway-tests --bin h323-endpoint) || exit 2
CAUSEWAY="$TARGET/release/causeway"; EP="$TARGET/release/h323-endpoint"
SIP=$BASE; RAS=$((BASE + 1)); Q931=$((BASE + 2)); ADMIN=$((BASE + 3)); UAS=$((BASE + 4))
UAC=$((BASE + 5)); REG=$((BASE + 6))

WORK="$(mktemp -d /tmp/iwbench.XXXXXX)"
PIDS=""
cleanup() {
    for pid in $PIDS; do kill "$pid" 2>/dev/null; done
    sleep 0.5
    for pid in $PIDS; do kill -9 "$pid" 2>/dev/null; done
    if [ "${KEEP:-0}" = 1 ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ticks() {   # utime+stime of a PID (all threads)
    local f
    f=$(sed 's/^.*) //' "/proc/$1/stat"); set -- $f
    echo $(( ${12} + ${13} ))
}

cat >"$WORK/node.toml" <<TOML
[system]
name = "bench-iw"
role = "control"
domain = "example.com"
[sip]
udp = { enabled = true, listen = "$IP:$SIP" }
tcp = { enabled = false }
tls = { enabled = false }
[admin]
listen = "$IP:$ADMIN"
[media]
anchor = "none"
address = "$IP"
[h323]
enabled = true
ras_listen = "$IP:$RAS"
q931_listen = "$IP:$Q931"
max_calls = 100000
[[search_rule]]
name = "numbers"
priority = 10
pattern_type = "regex"
pattern = '^(\d+)@example\.com$'
pattern_behavior = "replace"
replace = '\1'
target = "LocalZone"
[log]
level = "warn"
[protection]
# the load generators share one address: a budget no run reaches (the guard still counts)
messages_per_second = 1000000
TOML
"$CAUSEWAY" run --config "$WORK/node.toml" >"$WORK/node.log" 2>&1 &
NODE=$!; PIDS="$PIDS $NODE"
sleep 1
kill -0 "$NODE" 2>/dev/null || { echo "causeway failed:"; cat "$WORK/node.log"; exit 1; }
"$EP" --gk "$IP:$RAS" --alias e164:2001 --fast-start --ignore-stdin >"$WORK/callee.log" 2>&1 &
CALLEE=$!; PIDS="$PIDS $CALLEE"
for _ in $(seq 50); do grep -q '"registered"' "$WORK/callee.log" && break; sleep 0.1; done
grep -q '"registered"' "$WORK/callee.log" || { echo "the callee did not register:"; cat "$WORK/callee.log"; exit 1; }
sipp -sf "$ROOT/../shared/bench/kamailio/uas.xml" -i $IP -p "$UAS" -nostdin -buff_size 4194304 >"$WORK/uas.out" 2>&1 &
PIDS="$PIDS $!"
python3 - "$IP" "$SIP" "$UAS" "$REG" <<'PY' || { echo "REGISTER failed"; exit 1; }
import socket, sys
ip, proxy, uas, reg = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((ip, reg)); s.settimeout(3)
s.sendto((f"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {ip}:{reg};branch=z9hG4bKiwreg\r\n"
          f"Max-Forwards: 70\r\nFrom: <sip:service@example.com>;tag=b\r\nTo: <sip:service@example.com>\r\n"
          f"Call-ID: iw-register\r\nCSeq: 1 REGISTER\r\nContact: <sip:service@{ip}:{uas}>\r\n"
          f"Expires: 3600\r\nContent-Length: 0\r\n\r\n").encode(), (ip, proxy))
sys.exit(0 if s.recv(65536).startswith(b"SIP/2.0 200") else 1)
PY

# one step: $1=label $2=service $3=rate; prints a line; sets US
step() {
    local label=$1 service=$2 rate=$3 calls=$(( $3 * DUR )) stat="$WORK/uac_$1_$3.csv" k0 k1 t0 t1 rc
    k0=$(ticks "$NODE"); t0=$(date +%s.%N)
    sipp "$IP:$SIP" -sf "$ROOT/bench/sipp/iw_uac.xml" -s "$service" -i $IP -p "$UAC" -r "$rate" -m "$calls" \
        -d "$HOLD" -nostdin -buff_size 4194304 -recv_timeout 10000 -timeout $(( DUR + 60 ))s \
        -trace_stat -stf "$stat" -fd 1 >"$WORK/uac_${label}_${rate}.out" 2>&1
    rc=$?
    t1=$(date +%s.%N); k1=$(ticks "$NODE")
    local line
    line=$(python3 - "$stat" "$label" "$rate" "$calls" "$rc" "$t0" "$t1" "$HZ" "$k0" "$k1" <<'PY'
import sys
stat, label, rate, calls, rc, t0, t1, hz, k0, k1 = sys.argv[1:]
rate, calls, hz = int(rate), int(calls), int(hz)
wall = float(t1) - float(t0)
rows = [l.rstrip("\n").split(";") for l in open(stat, encoding="latin-1") if l.strip()]
v = dict(zip(rows[0], rows[-1]))
ok = int(v["SuccessfulCall(C)"]); bad = int(v["FailedCall(C)"]); cr = float(v["CallRate(C)"])
cpu_s = (int(k1) - int(k0)) / hz
us = 1e6 * cpu_s / ok if ok else float("nan")
res = "PASS" if (bad <= 0.001 * calls and cr >= 0.95 * rate and ok + bad >= calls) else "FAIL"
print(f"{label:11s} target={rate:4d}/s achieved={cr:7.1f}/s ok={ok} failed={bad} node_cpu={100*cpu_s/wall:5.1f}% "
      f"cpu_per_call={us:7.1f}us sipp_rc={rc} {res}")
PY
)
    echo "$line"
    US=$(echo "$line" | sed -n 's/.*cpu_per_call= *\([0-9.na]*\)us.*/\1/p')
}

echo "# $(date -u +%FT%TZ) causeway $("$CAUSEWAY" --version | awk '{print $2}'), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), DUR=$DUR s HOLD=$HOLD ms"
IW_US=""; SIP_US=""
for r in $RATES; do
    step interworked 2001 "$r"; [ "$r" = "$FIXED" ] && IW_US=$US
    step sip service "$r"; [ "$r" = "$FIXED" ] && SIP_US=$US
done
echo "# summary at $FIXED calls/s: interworked ${IW_US:-?} us/call, SIP-to-SIP ${SIP_US:-?} us/call, ratio $(awk -v a="${IW_US:-0}" -v b="${SIP_US:-0}" 'BEGIN{printf "%.2f", (b>0 ? a/b : 0)}')"
