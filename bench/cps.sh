#!/usr/bin/env bash
# Calls-per-second benchmark: sipp UAC -> proxy -> sipp UAS on loopback, UDP, no media, the same
# sipp scenarios for both proxies (../shared/bench/kamailio/uac.xml, uas.xml: INVITE, 100, 180,
# 200, ACK, 100 ms hold, BYE, 200; ACK and BYE follow Record-Route through the proxy).
#
# For each proxy (causeway, then Kamailio from Debian with ../shared/bench/kamailio/kamailio.cfg,
# a tm + rr transaction-stateful record-routing relay) it reports:
#   (a) the highest rate of RATES sustained for DUR seconds with <= 0.1 % failed calls and
#       >= 95 % of the target rate achieved;
#   (b) the proxy's CPU microseconds per completed call at FIXED calls/s (utime+stime from /proc),
#       and its split into user and kernel (stime) time.
# Each step's line also gives the mean time from the UAC's INVITE to its 200 (sipp's rtd: the
# proxy's latency four times, the UAS's own answer time included).
# then prints both and their ratio. causeway routes by registration, so the UAS contact is
# registered first (REGISTER service@example.com); Kamailio relays to the UAS by $du. Same
# scenarios, same machine, one after the other in the same run.
#
# Usage: bench/cps.sh [causeway|kamailio|both|twohop|history]      (default both)
#   twohop: UAC -> E -> traversal link (TLS) -> C -> UAS on loopback, CPU of E + C together
#   history: causeway with its call and search histories off ([admin] call_history = 0,
#       search_history = 0), then on (the defaults, or HISTORY="call_history = ...": extra
#       [admin] lines), side by side: HCALLS calls (default 100000) at HRATE calls/s (default
#       2000), the process RSS before and 35 s after (finished transactions gone), the CPU per
#       call, and the history's own figures (GET /calls: calls kept, bytes, budget, dropped).
# Knobs: RATES="500 1000 ..." DUR=30 FIXED=500 FIXED_DUR=30 CHILDREN=1 (Kamailio workers)
#        WARM=0: seconds at FIXED calls/s before the fixed-rate figure is taken (tables and
#        timers at their steady state: timer C lives 180 s, finished transactions 32 s)
#        CW_BIN=path: run that causeway binary instead of building one (A/B comparisons)
#        SYSCALLS=1: also count the proxy's system calls, context switches and page faults
#        over each step (perf stat on the syscall tracepoints of all its PIDs; the tracepoints
#        cost a little CPU, so take the CPU figures from a run without it), per completed call
#        CW_UDP_IO=auto|io_uring|epoll ([sip] udp_io of causeway)
#        CW_THREADS=1|2 ([sip] threads of causeway: 2 puts the UDP ring on a thread of its own)
#        Every step also prints the CPU per call of each of the proxy's threads that used
#        any ("threads:"; from schedstat): the busiest one bounds the rate the proxy carries.
#        KAM_ARGS="-x tlsf -X tlsf": more kamailio options (here its TLSF allocator for shared
#        and private memory instead of the default q_malloc, which the profile of a steady-state
#        run found at 62 % of Kamailio's CPU: BENCHMARKS.md)
#        PROXY_PORT=5070 UAS_PORT=5090 UAC_PORT=5080 REG_PORT=5085 KEEP=1
# Needs: apt-get install -y sip-tester kamailio python3; cargo. Honours CARGO_TARGET_DIR.
set -u
MODE="${1:-both}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="$ROOT/../shared/bench/kamailio"
RATES="${RATES:-1000 2000 3000 4000 5000}"
DUR="${DUR:-30}"
FIXED="${FIXED:-500}"
FIXED_DUR="${FIXED_DUR:-30}"
CHILDREN="${CHILDREN:-1}"
PROXY_PORT="${PROXY_PORT:-5070}"
UAS_PORT="${UAS_PORT:-5090}"
UAC_PORT="${UAC_PORT:-5080}"
REG_PORT="${REG_PORT:-5085}"
IP=127.0.0.1

for bin in sipp python3; do
    command -v "$bin" >/dev/null || { echo "missing $bin: apt-get install -y sip-tester python3" >&2; exit 2; }
done
if [ "$MODE" != causeway ] && [ "$MODE" != history ] && ! command -v kamailio >/dev/null; then
    echo "missing kamailio: apt-get install -y kamailio" >&2; exit 2
fi
for p in "$PROXY_PORT" "$UAS_PORT" "$UAC_PORT" "$REG_PORT"; do
    if ss -Hlun "sport = :$p" | grep -q .; then echo "UDP port $p is busy" >&2; exit 2; fi
done
WORK="$(mktemp -d /tmp/cpsbench.XXXXXX)"
. "$ROOT/bench/sip-common.sh"
build_causeway
cleanup() {
    kill_ours TERM "$UAC_PID" sipp; kill_ours TERM "$UAS_PID" sipp; stop_proxy
    if [ "${KEEP:-0}" = 1 ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT INT TERM

# Two hops: UAC -> E (UDP) -> traversal link (TLS, opened by C) -> C -> UAS (UDP). E rewrites
# the dialled service@<E> to service@example.com (a search rule with replace) and sends it down
# the link; C routes it to the UAS's registration. CPU is E's plus C's.
start_twohop() {
    local lp=$((PROXY_PORT + 2)) cu=$((PROXY_PORT + 30))
    cat >"$WORK/edge.toml" <<TOML
[system]
name = "bench-edge"
role = "edge"
domain = "edge.bench"
[sip]
udp = { enabled = true, listen = "$IP:$PROXY_PORT" }
tls = { enabled = true, listen = "$IP:$((PROXY_PORT + 1))" }
[admin]
listen = "127.0.0.1:$((PROXY_PORT + 3))"
[routing]
local_domain_rule = false
[[credential]]
username = "control-1"
password = "secret"
[[zone]]
name = "from-control"
type = "traversal-server"
sip_port = $lp
username = "control-1"
listen_ip = "$IP"
[[search_rule]]
name = "to C"
pattern_type = "suffix"
pattern = "@edge.bench"
pattern_behavior = "replace"
replace = "@example.com"
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
udp = { enabled = true, listen = "$IP:$cu" }
tcp = { enabled = false }
tls = { enabled = true, listen = "$IP:$((cu + 1))" }
[admin]
listen = "127.0.0.1:$((cu + 2))"
[[zone]]
name = "to-edge"
type = "traversal-client"
peer = "$IP"
sip_port = $lp
username = "control-1"
password = "secret"
[log]
level = "warn,causeway_traversal=info"
[protection]
# the load generators share one address: a budget no run reaches (the guard still counts)
messages_per_second = 1000000
TOML
    "$CAUSEWAY" run --config "$WORK/edge.toml" >"$WORK/edge.log" 2>&1 &
    local e=$!
    sleep 1
    "$CAUSEWAY" run --config "$WORK/control.toml" >"$WORK/control.log" 2>&1 &
    local c=$!
    PROXY_PID=$e; PROXY_ALL="$e $c"; PROXY_COMM=$(basename "$CAUSEWAY" | cut -c1-15)
    for _ in $(seq 50); do grep -q "traversal link up" "$WORK/control.log" && break; sleep 0.2; done
    grep -q "traversal link up" "$WORK/control.log" || { echo "the link did not come up:"; cat "$WORK/control.log"; exit 1; }
    register_service "$cu"
}

# one step: $1=label $2=rate $3=seconds; prints a line; returns 0 on PASS; sets CPU_US_PER_CALL
step() {
    local label=$1 rate=$2 dur=$3 calls=$(( $2 * $3 )) stat="$WORK/uac_${1}_$2.csv" k0 k1 s0 s1 t0 t1 rc
    thread_ns $PROXY_ALL >"$WORK/threads0"
    k0=$(ticks $PROXY_ALL); s0=$(stime_ticks $PROXY_ALL); t0=$(date +%s.%N)
    local perf_pid=""
    if [ "${SYSCALLS:-0}" = 1 ]; then
        perf stat -x, -e "$SC_EVENTS" -p "$(echo $PROXY_ALL | tr ' ' ,)" -o "$WORK/syscalls" &
        perf_pid=$!
    fi
    start_uac "$label" "$rate" "$calls"
    wait "$UAC_PID"; rc=$?; UAC_PID=""
    t1=$(date +%s.%N); k1=$(ticks $PROXY_ALL); s1=$(stime_ticks $PROXY_ALL)
    thread_ns $PROXY_ALL >"$WORK/threads1"
    if [ -n "$perf_pid" ]; then kill -INT "$perf_pid" 2>/dev/null; wait "$perf_pid" 2>/dev/null; fi
    local line
    line=$(python3 - "$stat" "$label" "$rate" "$calls" "$rc" "$t0" "$t1" "$HZ" "$k0" "$k1" "$s0" "$s1" <<'PY'
import sys
stat, label, rate, calls, rc, t0, t1, hz, k0, k1, s0, s1 = sys.argv[1:]
rate, calls, hz = int(rate), int(calls), int(hz)
wall = float(t1) - float(t0)
rows = [l.rstrip("\n").split(";") for l in open(stat, encoding="latin-1") if l.strip()]
v = dict(zip(rows[0], rows[-1]))
ok = int(v["SuccessfulCall(C)"]); bad = int(v["FailedCall(C)"]); cr = float(v["CallRate(C)"])
cpu_s = (int(k1) - int(k0)) / hz
us = 1e6 * cpu_s / ok if ok else float("nan")
# the kernel's part (stime): what a CPU's mitigations and the network stack cost, apart from
# the proxy's own code
sys_us = 1e6 * (int(s1) - int(s0)) / hz / ok if ok else float("nan")
res = "PASS" if (bad <= 0.001 * calls and cr >= 0.95 * rate and ok + bad >= calls) else "FAIL"
def ms(t):   # sipp's "HH:MM:SS:fraction" (microseconds, or milliseconds in older builds)
    try:
        h, m, sec, frac = t.split(":")
        return (int(h) * 3600 + int(m) * 60 + int(sec)) * 1e3 + int(frac) / (1e3 if len(frac) > 3 else 1)
    except ValueError:
        return float("nan")
rtd = ms(v.get("ResponseTime1(C)", ""))
print(f"{label:9s} target={rate:5d}/s achieved={cr:8.1f}/s ok={ok} failed={bad} proxy_cpu={100*cpu_s/wall:5.1f}% "
      f"cpu_per_call={us:7.1f}us (user={us - sys_us:.1f} kernel={sys_us:.1f}) invite_to_200={rtd:.2f}ms sipp_rc={rc} {res}")
PY
)
    echo "$line"
    threads_line "$stat"
    syscalls_line "$stat"
    CPU_US_PER_CALL=$(echo "$line" | sed -n 's/.*cpu_per_call= *\([0-9.na]*\)us.*/\1/p')
    echo "$line" | grep -q PASS
}

# the step's CPU per completed call of each proxy thread that ran, the busiest first
threads_line() {   # $1: the step's sipp statistics file
    python3 - "$1" "$WORK/threads0" "$WORK/threads1" <<'PY'
import sys
rows = [l.rstrip("\n").split(";") for l in open(sys.argv[1], encoding="latin-1") if l.strip()]
ok = int(dict(zip(rows[0], rows[-1]))["SuccessfulCall(C)"]) or 1
read = lambda p: {f[0]: (f[1], int(f[2])) for f in (l.split() for l in open(p)) if len(f) == 3}
a, b = read(sys.argv[2]), read(sys.argv[3])
used = sorted(((b[k][1] - a.get(k, ("", 0))[1]) / 1000 / ok, b[k][0]) for k in b)
print("          threads: " + " ".join(f"{n}={us:.1f}us" for us, n in reversed(used) if us >= 0.5))
PY
}

SC_EVENTS="task-clock,context-switches,page-faults,raw_syscalls:sys_enter,syscalls:sys_enter_recvfrom,syscalls:sys_enter_recvmsg,syscalls:sys_enter_recvmmsg,syscalls:sys_enter_sendto,syscalls:sys_enter_sendmsg,syscalls:sys_enter_sendmmsg,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_futex"

# with SYSCALLS=1: the step's system calls, context switches and page faults per completed call
syscalls_line() {   # $1: the step's sipp statistics file
    [ "${SYSCALLS:-0}" = 1 ] && [ -s "$WORK/syscalls" ] || return 0
    python3 - "$1" "$WORK/syscalls" <<'PY'
import sys
rows = [l.rstrip("\n").split(";") for l in open(sys.argv[1], encoding="latin-1") if l.strip()]
ok = int(dict(zip(rows[0], rows[-1]))["SuccessfulCall(C)"]) or 1
n = {}
for l in open(sys.argv[2]):
    f = l.strip().split(",")
    if len(f) > 2 and f[0].replace(".", "").isdigit():
        n[f[2]] = float(f[0])
g = lambda *k: sum(n.get(x, 0.0) for x in k) / ok
p = "syscalls:sys_enter_"
print(f"          per call: syscalls {g('raw_syscalls:sys_enter'):.2f} (recv {g(p+'recvfrom', p+'recvmsg', p+'recvmmsg'):.2f} "
      f"send {g(p+'sendto', p+'sendmsg', p+'sendmmsg'):.2f} epoll_wait {g(p+'epoll_wait', p+'epoll_pwait'):.2f} "
      f"futex {g(p+'futex'):.2f}) context switches {g('context-switches'):.2f} page faults {g('page-faults'):.2f} "
      f"task-clock {1000 * g('task-clock'):.1f} us")
PY
    rm -f "$WORK/syscalls"
}

measure() {   # $1=label: the fixed-rate CPU figure on a fresh proxy, then the ramp
    local best=0 r
    # WARM: the proxy's tables and timers reach their steady state (timer C runs 180 s)
    if [ "${WARM:-0}" -gt 0 ]; then step "$1-warm" "$FIXED" "$WARM" >/dev/null; fi
    step "$1" "$FIXED" "$FIXED_DUR"
    eval "CPU_$1=$CPU_US_PER_CALL"
    # finished transactions live 32 s (RFC 3261 64*T1): let them go before the ramp
    sleep 35
    for r in $RATES; do
        if step "$1" "$r" "$DUR"; then best=$r; else break; fi
        sleep 35
    done
    eval "BEST_$1=$best"
    echo "$1: highest passing rate = $best calls/s; CPU at $FIXED calls/s = $(eval echo \$CPU_$1) us/call"
}

history_run() {   # $1=off|on: HCALLS calls through a fresh causeway; prints RSS and figures
    local label="history_$1" r0 r1 figures
    if [ "$1" = off ]; then ADMIN_EXTRA=$'call_history = 0\nsearch_history = 0'; else ADMIN_EXTRA="${HISTORY:-}"; fi
    start_causeway
    r0=$(rss_kb "$PROXY_PID")
    step "$label" "$HRATE" $(( HCALLS / HRATE ))
    eval "CPU_$1=$CPU_US_PER_CALL"
    sleep 35
    r1=$(rss_kb "$PROXY_PID")
    eval "RSS_$1=$(( r1 - r0 ))"
    figures=$(python3 - "$((PROXY_PORT + 3))" <<'PY'
import json, sys, urllib.request
try:
    v = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/calls", timeout=5))
    print(f"kept={v['kept']} bytes={v['bytes']} budget={v['budget']} evicted={v['evicted']} dropped={v['dropped']}")
except Exception as e:
    print(f"no call history ({e})")
PY
)
    echo "$label: RSS ${r0} kB at start, ${r1} kB after $HCALLS calls + 35 s (+$(( r1 - r0 )) kB); $figures"
    stop_proxy; sleep 2
}

echo "causeway $("$CAUSEWAY" --version | awk '{print $2}'), kamailio $(kamailio -v 2>/dev/null | awk 'NR==1{print $3}'), sipp $(sipp -v 2>&1 | awk '/SIPp v/{print $2}'), $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"
echo "settings: RATES='$RATES' DUR=${DUR}s FIXED=$FIXED FIXED_DUR=${FIXED_DUR}s kamailio children=$CHILDREN KAM_ARGS='${KAM_ARGS:-}'"
BEST_causeway=-; BEST_kamailio=-; CPU_causeway=nan; CPU_kamailio=nan
start_uas; sleep 1
if [ "$MODE" = causeway ] || [ "$MODE" = both ]; then
    start_causeway; measure causeway; stop_proxy; sleep 3
fi
if [ "$MODE" = kamailio ] || [ "$MODE" = both ]; then
    start_kamailio; measure kamailio; stop_proxy
fi
if [ "$MODE" = history ]; then
    HCALLS="${HCALLS:-100000}"; HRATE="${HRATE:-2000}"
    history_run off; history_run on
    echo "SUMMARY history: RSS growth off=${RSS_off} kB on=${RSS_on} kB (difference $(( RSS_on - RSS_off )) kB); CPU per call off=$CPU_off us on=$CPU_on us"
    exit 0
fi
if [ "$MODE" = twohop ]; then
    start_twohop; measure twohop; stop_proxy
    echo "SUMMARY two hops (E + C): highest rate $BEST_twohop calls/s; CPU at $FIXED calls/s: E+C $CPU_twohop us/call"
    exit 0
fi
python3 - "$BEST_causeway" "$BEST_kamailio" "$CPU_causeway" "$CPU_kamailio" <<'PY'
import sys
bc, bk, cc, ck = sys.argv[1:]
f = lambda x: float(x) if x not in ("-", "") else float("nan")
print(f"SUMMARY highest rate: causeway={bc} kamailio={bk} calls/s; CPU per call at fixed rate: "
      f"causeway={f(cc):.1f} us, kamailio={f(ck):.1f} us, ratio causeway/kamailio={f(cc)/f(ck):.2f}")
PY
