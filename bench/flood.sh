#!/usr/bin/env bash
# What a flood from one source costs the proxy's protection, causeway's guard ([protection],
# defaults) against Kamailio with pike and an htable ban (bench/kamailio-pike.cfg, tuned to the
# same budget: 10000 requests/s, blocked 60 s), same generator, same machine, one run.
#
# For each proxy: legitimate calls, sipp UAC -> proxy -> sipp UAS at LEGIT_RATE calls/s from
# 127.0.0.1 (the scenarios of ../shared/bench/kamailio, started as bench/cps.sh starts them:
# bench/sip-common.sh), run LEAD s before and after each flood. The flood comes from another
# loopback address (127.0.0.10, .11, ...: a fresh one per step, so no block of an earlier step
# counts) at each rate of FLOOD_RATES datagrams/s for DUR s, one step per KIND:
#   garbage   180-byte datagrams that are not SIP
#   options   a scanner's OPTIONS to the proxy itself, each a new transaction
#   invite    INVITEs for a user nobody registered (causeway 404; Kamailio 404 stateful)
#   register  REGISTERs answering a digest challenge wrongly (causeway: [registrar]
#             authenticate = true; Kamailio: auth's pv_www_authenticate, no database)
# The generator (bench/flood.c, gcc) counts what comes back to the flooding socket during the
# flood and DRAIN s after it. Per step it prints:
#   legit ok/failed/retransmissions: the sipp UAC's calls over the whole step
#   cpu: the proxy's utime+stime (/proc, all processes and threads) over the flood and the
#        drain, less what the legitimate calls alone cost over as long (the step "none", no
#        flood, measured first), per flooded datagram in microseconds; raw % beside it
#   back: datagrams and bytes the flooder received, and their ratio to what it sent
#   answered: how many of its requests got an answer (by Via branch); repeats: the other
#        answers (retransmissions of final answers, provisionals)
#   quiet: seconds from the flood's start to the last request answered for the first time:
#        after it the proxy handled nothing new from the flooder ("never" when requests were
#        answered until the flood ended, "-" when none was); last_answer: the last datagram
#        of any kind it received (retransmissions go on after a block)
#   mem: RSS (VmRSS summed) and PSS (smaps_rollup Pss summed, shared pages counted once) before
#        the step and after its drain, in kB
#   blocked (causeway): the reason the flooder is in the block list, from `causeway status`
# then a summary with the ratios causeway/Kamailio.
#
# Usage: flock /work/bench.lock bash bench/flood.sh [causeway|kamailio|both]   (default both)
# Knobs: FLOOD_RATES="20000 50000" KINDS="garbage options invite register" DUR=10 DRAIN=3
#        LEGIT_RATE=300 LEAD=2 CHILDREN=1 (Kamailio UDP workers; causeway runs one thread)
#        PROXY_PORT=5270 UAS_PORT=5290 UAC_PORT=5280 REG_PORT=5285 FIRST_SOURCE=10 KEEP=1
# Needs: apt-get install -y sip-tester kamailio gcc python3; cargo. Honours CARGO_TARGET_DIR.
set -u
MODE="${1:-both}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="$ROOT/../shared/bench/kamailio"
FLOOD_RATES="${FLOOD_RATES:-20000 50000}"
KINDS="${KINDS:-garbage options invite register}"
DUR="${DUR:-10}"
DRAIN="${DRAIN:-3}"
LEGIT_RATE="${LEGIT_RATE:-300}"
LEAD="${LEAD:-2}"
CHILDREN="${CHILDREN:-1}"
PROXY_PORT="${PROXY_PORT:-5270}"
UAS_PORT="${UAS_PORT:-5290}"
UAC_PORT="${UAC_PORT:-5280}"
REG_PORT="${REG_PORT:-5285}"
NEXT_SOURCE="${FIRST_SOURCE:-10}"
IP=127.0.0.1

for bin in sipp python3 gcc; do
    command -v "$bin" >/dev/null || { echo "missing $bin: apt-get install -y sip-tester gcc python3" >&2; exit 2; }
done
if [ "$MODE" != causeway ] && ! command -v kamailio >/dev/null; then
    echo "missing kamailio: apt-get install -y kamailio" >&2; exit 2
fi
for p in "$PROXY_PORT" "$((PROXY_PORT + 3))" "$UAS_PORT" "$UAC_PORT" "$REG_PORT"; do
    if ss -Hlun "sport = :$p" | grep -q .; then echo "UDP port $p is busy" >&2; exit 2; fi
done

WORK="$(mktemp -d /tmp/floodbench.XXXXXX)"
. "$ROOT/bench/sip-common.sh"
FLOOD_PID=""
cleanup() {
    kill_ours TERM "$FLOOD_PID" flood; kill_ours TERM "$UAC_PID" sipp; kill_ours TERM "$UAS_PID" sipp
    stop_proxy
    if [ "${KEEP:-0}" = 1 ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT INT TERM
build_causeway
gcc -O2 -Wall -pthread -o "$WORK/flood" "$ROOT/bench/flood.c" || exit 2

# causeway with [protection] at its defaults, and a registrar that authenticates (the UAS's
# own REGISTER answers the challenge; the flooder guesses alice's password)
CW_PROTECTION="[protection]"
CW_EXTRA=$'[registrar]\nauthenticate = true\n[[credential]]\nusername = "service"\npassword = "secret"\n[[credential]]\nusername = "alice"\npassword = "secret"'
REG_PASSWORD=secret
KAM_CFG="$ROOT/bench/kamailio-pike.cfg"
RESULTS="$WORK/results"

mem() {   # "RSS/PSS" of the proxy's processes together, kB
    local r=0 p v
    for p in $PROXY_ALL; do v=$(rss_kb "$p" 2>/dev/null); r=$(( r + ${v:-0} )); done
    echo "$r/$(pss_kb $PROXY_ALL)"
}

blocked_reason() {   # $1: source address; causeway's block list entry for it
    [ "$PROXY_COMM" = causeway ] || { echo "n/a"; return; }
    "$CAUSEWAY" status --json --admin "127.0.0.1:$((PROXY_PORT + 3))" 2>/dev/null | python3 -c '
import json, sys
try:
    p = json.load(sys.stdin)["protection"]
except Exception:
    print("status?"); sys.exit()
r = [b["reason"] for b in p.get("blocked", []) if b.get("source") == sys.argv[1]]
print(r[0] if r else "no")' "$1"
}

# one step: $1=proxy $2=kind (none: no flood) $3=flood rate; appends a RESULT line
step() {
    local proxy=$1 kind=$2 rate=$3 label="$1_$2_$3" src="127.0.0.$NEXT_SOURCE" calls m0 m1 k0 k1 t0 t1 out="-" rc
    NEXT_SOURCE=$((NEXT_SOURCE + 1))
    calls=$(( LEGIT_RATE * (DUR + DRAIN + 2 * LEAD) ))
    start_uac "$label" "$LEGIT_RATE" "$calls"
    sleep "$LEAD"
    m0=$(mem); k0=$(ticks $PROXY_ALL); t0=$(date +%s.%N)
    if [ "$kind" = none ]; then
        sleep "$((DUR + DRAIN))"
    else
        "$WORK/flood" "$kind" "$src" "$IP" "$PROXY_PORT" "$rate" "$DUR" "$DRAIN" >"$WORK/flood_$label.out" 2>&1 &
        FLOOD_PID=$!; wait "$FLOOD_PID"; FLOOD_PID=""
        out=$(cat "$WORK/flood_$label.out")
    fi
    t1=$(date +%s.%N); k1=$(ticks $PROXY_ALL); m1=$(mem)
    local blocked; blocked=$([ "$kind" = none ] && echo - || blocked_reason "$src")
    local legit_blocked; legit_blocked=$(blocked_reason "$IP")
    wait "$UAC_PID"; rc=$?; UAC_PID=""
    python3 - "$WORK/uac_${label}_$LEGIT_RATE.csv" "$proxy" "$kind" "$rate" "$calls" "$rc" "$t0" "$t1" "$HZ" \
        "$k0" "$k1" "$m0" "$m1" "$blocked" "$legit_blocked" "$DUR" "${BASE_CPU_S:-0}" "$out" <<'PY' | tee -a "$RESULTS"
import sys
(stat, proxy, kind, rate, calls, rc, t0, t1, hz, k0, k1, m0, m1, blocked, legit_blocked, dur,
 base, out) = sys.argv[1:]
wall = float(t1) - float(t0)
cpu_s = (int(k1) - int(k0)) / int(hz)
try:
    rows = [l.rstrip("\n").split(";") for l in open(stat, encoding="latin-1") if l.strip()]
    v = dict(zip(rows[0], rows[-1]))
    ok, bad, rt = int(v["SuccessfulCall(C)"]), int(v["FailedCall(C)"]), int(v["Retransmissions(C)"])
except Exception:
    ok, bad, rt = 0, int(calls), -1
f = dict(kv.split("=", 1) for kv in out.split() if "=" in kv)
sent = int(f.get("sent", 0))
extra = cpu_s - float(base) * wall
us = 1e6 * extra / sent if sent else float("nan")
last = float(f.get("last_new_answer", -1))
quiet = "-" if last < 0 else ("never" if last >= float(dur) - 0.2 else f"{last:.2f}s")
answered = int(f.get("answered_requests", 0))
print(f"RESULT proxy={proxy} kind={kind} rate={rate} sent={sent} achieved={f.get('rate', '0')}/s "
      f"legit_ok={ok} legit_failed={bad} legit_retrans={rt} legit_calls={calls} sipp_rc={rc} "
      f"cpu_pct={100 * cpu_s / wall:.1f} cpu_s={cpu_s:.2f} cpu_us_per_dgram={us:.2f} "
      f"back={f.get('answers', 0)} back_in_flood={f.get('answers_in_flood', 0)} back_bytes={f.get('answer_bytes', 0)} "
      f"sent_bytes={f.get('sent_bytes', 0)} bytes_ratio={f.get('bytes_ratio', '0')} answered={answered} "
      f"repeats={int(f.get('answers', 0)) - answered} quiet={quiet} last_answer={f.get('last_answer', '-')} "
      f"codes={f.get('codes', '-')} "
      f"mem_before={m0} mem_after={m1} blocked={blocked} legit_blocked={legit_blocked}"
      + (f" challenge={f['challenge']}" if "challenge" in f else ""))
PY
    if [ "$kind" = none ]; then
        BASE_CPU_S=$(awk -v c="$(( k1 - k0 ))" -v hz="$HZ" -v t0="$t0" -v t1="$t1" 'BEGIN {printf "%.6f", c / hz / (t1 - t0)}')
    fi
    sleep 1
}

run_proxy() {   # $1=causeway|kamailio
    BASE_CPU_S=0
    "start_$1"
    echo "# $1 started: mem rss/pss $(mem) kB"
    step "$1" none 0
    for kind in $KINDS; do
        for rate in $FLOOD_RATES; do step "$1" "$kind" "$rate"; done
    done
    echo "# $1 at the end: mem rss/pss $(mem) kB"
    stop_proxy; sleep 2
}

echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) CPUs $(sed -n 's/^model name\t*: //p' /proc/cpuinfo | head -1), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# causeway $("$CAUSEWAY" --version | awk '{print $2}') ($(cd "$ROOT" && git rev-parse --short HEAD)), kamailio $(kamailio -v 2>/dev/null | awk 'NR==1{print $3}') children=$CHILDREN, sipp $(sipp -v 2>&1 | awk '/SIPp v/{print $2}')"
echo "# legit $LEGIT_RATE calls/s from $IP; flood rates '$FLOOD_RATES' kinds '$KINDS' DUR=${DUR}s DRAIN=${DRAIN}s"
start_uas; sleep 1
if [ "$MODE" = causeway ] || [ "$MODE" = both ]; then run_proxy causeway; fi
if [ "$MODE" = kamailio ] || [ "$MODE" = both ]; then run_proxy kamailio; fi
python3 - "$RESULTS" <<'PY'
import sys
rows = [dict(kv.split("=", 1) for kv in l.split()[1:]) for l in open(sys.argv[1]) if l.startswith("RESULT")]
by = {(r["proxy"], r["kind"], r["rate"]): r for r in rows}
def num(x):
    try:
        return float(x)
    except ValueError:
        return float("nan")
def ratio(a, b):
    a, b = num(a), num(b)
    return f"{a / b:.2f}" if b else ("=" if a == b else "inf")
for (proxy, kind, rate), c in sorted(by.items()):
    if proxy != "causeway" or kind == "none" or ("kamailio", kind, rate) not in by:
        continue
    k = by[("kamailio", kind, rate)]
    print(f"SUMMARY {kind:8s} {rate:>5s}/s  cpu/dgram causeway={num(c['cpu_us_per_dgram']):.2f}us "
          f"kamailio={num(k['cpu_us_per_dgram']):.2f}us ratio={ratio(c['cpu_us_per_dgram'], k['cpu_us_per_dgram'])}  "
          f"bytes back {c['back_bytes']}/{k['back_bytes']} ratio={ratio(c['back_bytes'], k['back_bytes'])}  "
          f"answered {c['answered']}/{k['answered']} (+{c['repeats']}/+{k['repeats']} repeats)  "
          f"quiet {c['quiet']}/{k['quiet']}  legit failed {c['legit_failed']}/{k['legit_failed']}  "
          f"mem rss/pss {c['mem_before']}->{c['mem_after']} / {k['mem_before']}->{k['mem_after']} kB")
PY
