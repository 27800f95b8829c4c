#!/usr/bin/env bash
# Registration memory, side by side: one causeway node (release build, UDP, no digest), then
# Kamailio's registrar (bench/kamailio-registrar.cfg: usrloc in memory, no digest), each given
# N REGISTERs of N distinct AORs at RATE/s (one contact each, Expires 3600), every one answered
# 200. Memory before, right after and 40 s after (causeway keeps finished transactions 32 s,
# RFC 3261 timer J; Kamailio's registrar answers statelessly and keeps none): RSS (VmRSS summed
# over the processes) and PSS (smaps_rollup, shared pages counted once: Kamailio keeps its
# contacts in shared memory across its processes).
#
# Usage: bench/registrations.sh [causeway|kamailio|both] [BIN]   (default both; BIN: a causeway
#        binary, default a release build of this checkout; `bench/registrations.sh BIN` is
#        causeway alone, as before)
# Knobs: N=100000 RATE=5000 PORT=46100 (and PORT+1 for the admin listener; Kamailio PORT+100)
# Needs: python3; kamailio (apt-get install -y kamailio) for its side.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N="${N:-100000}"; RATE="${RATE:-5000}"; PORT="${PORT:-46100}"
MODE=both
case "${1:-}" in causeway|kamailio|both) MODE=$1; shift ;; "") ;; *) MODE=causeway ;; esac
BIN="${1:-}"
if [ "$MODE" != causeway ] && ! command -v kamailio >/dev/null; then
    echo "missing kamailio: apt-get install -y kamailio" >&2; exit 2
fi
if [ -z "$BIN" ] && [ "$MODE" != kamailio ]; then
    (cd "$ROOT" && cargo build --release -q -p causeway) || exit 2
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/causeway"
fi
WORK="$(mktemp -d /tmp/regbench.XXXXXX)"
cat >"$WORK/node.toml" <<TOML
[system]
name = "reg-bench"
role = "control"
domain = "example.com"
[sip]
udp = { enabled = true, listen = "127.0.0.1:$PORT" }
tcp = { enabled = false }
tls = { enabled = false }
[admin]
listen = "127.0.0.1:$((PORT + 1))"
[media]
anchor = "none"
[log]
level = "warn"
[protection]
# the load generators share one address: a budget no run reaches (the guard still counts)
messages_per_second = 1000000
TOML
P=""
PIDS=""
stop_all() { [ -n "$PIDS" ] && kill $PIDS 2>/dev/null; [ -n "$P" ] && wait "$P" 2>/dev/null; P=""; PIDS=""; }
trap 'stop_all; rm -rf "$WORK"' EXIT
sum() {   # $1 = VmRSS|Pss: that figure summed over $PIDS, in kB
    local t=0 pid v
    for pid in $PIDS; do
        if [ "$1" = Pss ]; then v=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null)
        else v=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null); fi
        t=$(( t + ${v:-0} ))
    done
    echo "$t"
}
mem() { echo "$(sum VmRSS)/$(sum Pss)"; }
load() {   # $1 = destination port: N REGISTERs at RATE/s from one socket; prints what came back
python3 - "$N" "$RATE" "$1" <<'PY'
import socket, sys, time
n, rate, dport = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); s.setblocking(False)
port = s.getsockname()[1]; dst = ("127.0.0.1", dport); ok = 0; t0 = time.time()
def drain():
    global ok
    while True:
        try:
            if s.recv(4096).startswith(b"SIP/2.0 200"): ok += 1
        except BlockingIOError:
            return
for i in range(n):
    s.sendto((f"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKr{i}\r\n"
              f"Max-Forwards: 70\r\nFrom: <sip:u{i}@example.com>;tag=t{i}\r\nTo: <sip:u{i}@example.com>\r\n"
              f"Call-ID: reg-{i}@bench\r\nCSeq: 1 REGISTER\r\nContact: <sip:u{i}@127.0.0.1:{30000 + i % 5000}>\r\n"
              f"Expires: 3600\r\nContent-Length: 0\r\n\r\n").encode(), dst)
    drain()
    d = t0 + (i + 1) / rate - time.time()
    if d > 0: time.sleep(d)
end = time.time() + 3
while time.time() < end:
    drain(); time.sleep(0.01)
print(f"sent {n} ok {ok} in {time.time() - t0:.1f}s")
PY
}
measure() {   # $1 = label, $2 = port: the load, memory before / after / 40 s later
    local m0 m1 m2 out
    m0=$(mem); out=$(load "$2"); m1=$(mem); sleep 40; m2=$(mem)
    echo "$1 registrations $out; RSS/PSS start ${m0} kB, after ${m1} kB, 40 s later ${m2} kB"
}
echo "# $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u)"
if [ "$MODE" != kamailio ]; then
    "$BIN" run --config "$WORK/node.toml" >"$WORK/node.log" 2>&1 &
    P=$!; PIDS=$P
    sleep 2
    kill -0 "$P" 2>/dev/null || { echo "causeway failed:"; cat "$WORK/node.log"; exit 1; }
    measure "causeway $("$BIN" --version | awk '{print $2}')" "$PORT"
    stop_all
fi
if [ "$MODE" != causeway ]; then
    KPORT=$((PORT + 100))
    kamailio -f "$ROOT/bench/kamailio-registrar.cfg" -DD -E -Y "$WORK" -P "$WORK/kam.pid" -m 256 -M 16 \
        -A "KAM_LISTEN=udp:127.0.0.1:$KPORT" >"$WORK/kam.log" 2>&1 &
    P=$!
    sleep 2
    kill -0 "$P" 2>/dev/null || { echo "kamailio failed:"; cat "$WORK/kam.log"; exit 1; }
    PIDS="$P $(ps -o pid= --ppid "$P" | tr '\n' ' ')"
    measure "kamailio $(kamailio -v 2>/dev/null | awk 'NR==1{print $3}')" "$KPORT"
    stop_all
fi
