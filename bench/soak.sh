#!/usr/bin/env bash
# Soak: one causeway node (release build, UDP) carries RATE calls/s for DUR seconds (sipp UAC ->
# causeway -> sipp UAS, the cps.sh scenarios: INVITE, 100, 180, 200, ACK, 100 ms hold, BYE, 200)
# while REGS AORs keep their registrations alive (Expires REG_EXPIRES, each refreshed at half of
# it, so REGS / (REG_EXPIRES / 2) REGISTERs per second on top of the calls). Samples the node's
# RSS and CPU every SAMPLE seconds and ends with one summary line:
#
#   SOAK dur=1800s rate=1000/s calls ok=1800000 failed=0 registers ok=... failed=...
#        rss_kb start=... (after the first minute) end=... max=... growth_after_warmup=...
#
# The RSS figure that matters is the one after the first minute (transactions live 32 s, so the
# tables reach their steady size then) against the end.
#
# Usage: bench/soak.sh            Knobs: DUR=1800 RATE=1000 REGS=10000 REG_EXPIRES=120 SAMPLE=60
#        PROXY_PORT=47070 UAS_PORT=47090 UAC_PORT=47080 REG_PORT=47085
# Needs: apt-get install -y sip-tester python3; cargo.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="$ROOT/../shared/bench/kamailio"
DUR="${DUR:-1800}"; RATE="${RATE:-1000}"; REGS="${REGS:-10000}"; REG_EXPIRES="${REG_EXPIRES:-120}"
SAMPLE="${SAMPLE:-60}"
PROXY_PORT="${PROXY_PORT:-47070}"; UAS_PORT="${UAS_PORT:-47090}"; UAC_PORT="${UAC_PORT:-47080}"
REG_PORT="${REG_PORT:-47085}"
IP=127.0.0.1
HZ=$(getconf CLK_TCK)
for p in "$PROXY_PORT" "$UAS_PORT" "$UAC_PORT" "$REG_PORT"; do
    if ss -Hlun "sport = :$p" | grep -q .; then echo "UDP port $p is busy" >&2; exit 2; fi
done
(cd "$ROOT" && cargo build --release -q -p causeway) || exit 2
CAUSEWAY="${CARGO_TARGET_DIR:-$ROOT/target}/release/causeway"
WORK="$(mktemp -d /tmp/soak.XXXXXX)"
P=""; UAS=""; UAC=""; REG=""
cleanup() {
    for pid in $UAC $UAS $REG $P; do kill "$pid" 2>/dev/null; done
    wait 2>/dev/null
    if [ "${KEEP:-0}" = 1 ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT INT TERM

cat >"$WORK/node.toml" <<TOML
[system]
name = "soak"
role = "control"
domain = "example.com"
[sip]
udp = { enabled = true, listen = "$IP:$PROXY_PORT" }
tcp = { enabled = false }
tls = { enabled = false }
[admin]
listen = "127.0.0.1:$((PROXY_PORT + 3))"
[log]
level = "warn"
[protection]
# the load generators share one address: a budget no run reaches (the guard still counts)
messages_per_second = 1000000
TOML
"$CAUSEWAY" run --config "$WORK/node.toml" >"$WORK/node.log" 2>&1 &
P=$!
sleep 1
kill -0 "$P" 2>/dev/null || { echo "causeway failed:"; cat "$WORK/node.log"; exit 1; }
sipp -sf "$SHARED/uas.xml" -i $IP -p "$UAS_PORT" -nostdin -buff_size 4194304 >"$WORK/uas.out" 2>&1 &
UAS=$!

# The registrations: REGS AORs, each refreshed every REG_EXPIRES/2 seconds, spread evenly; the
# UAS's own AOR (service@example.com, the calls' target) is one of them. Counts 200s and others.
python3 - "$IP" "$PROXY_PORT" "$REG_PORT" "$UAS_PORT" "$REGS" "$REG_EXPIRES" "$WORK/regs.txt" <<'PY' &
import socket, sys, time
ip, proxy, reg, uas, n, exp, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((ip, reg)); s.setblocking(False)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
ok = bad = sent = 0; cseq = [0] * n; period = exp / 2; t0 = time.time(); last = 0.0
def drain():
    global ok, bad
    while True:
        try:
            r = s.recv(4096)
        except BlockingIOError:
            return
        if r.startswith(b"SIP/2.0 200"): ok += 1
        elif not r.startswith(b"SIP/2.0 1"): bad += 1
def register(i):
    cseq[i] += 1
    aor = "service" if i == 0 else f"soak{i}"
    contact = f"<sip:service@{ip}:{uas}>" if i == 0 else f"<sip:{aor}@{ip}:{30000 + i % 5000}>"
    s.sendto((f"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {ip}:{reg};branch=z9hG4bKs{i}x{cseq[i]}\r\n"
              f"Max-Forwards: 70\r\nFrom: <sip:{aor}@example.com>;tag=t{i}\r\nTo: <sip:{aor}@example.com>\r\n"
              f"Call-ID: soak-{i}@bench\r\nCSeq: {cseq[i]} REGISTER\r\nContact: {contact}\r\n"
              f"User-Agent: causeway-soak\r\nExpires: {exp}\r\nContent-Length: 0\r\n\r\n").encode(), (ip, proxy))
k = 0
while True:
    due = t0 + k * period / n
    d = due - time.time()
    if d > 0:
        time.sleep(min(d, 0.01)); drain()
        continue
    register(k % n); k += 1; sent += 1; drain()
    if time.time() - last > 1:
        last = time.time()
        with open(out, "w") as f: f.write(f"{sent} {ok} {bad}\n")
PY
REG=$!
sleep 3   # the UAS's registration is the first one sent

rss() { awk '/^VmRSS/ {print $2}' "/proc/$P/status"; }
ticks() { local f; f=$(sed 's/^.*) //' "/proc/$P/stat"); set -- $f; echo $(( ${12} + ${13} )); }
echo "# $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'), $(date -u), causeway $("$CAUSEWAY" --version | awk '{print $2}')"
echo "# DUR=$DUR RATE=$RATE REGS=$REGS REG_EXPIRES=$REG_EXPIRES"
sipp "$IP:$PROXY_PORT" -sf "$SHARED/uac.xml" -s service -i $IP -p "$UAC_PORT" -r "$RATE" \
    -m $(( RATE * DUR )) -d 100 -nostdin -buff_size 4194304 -recv_timeout 10000 \
    -timeout $(( DUR + 120 ))s -trace_stat -stf "$WORK/uac.csv" -fd "$SAMPLE" >"$WORK/uac.out" 2>&1 &
UAC=$!
t0=$(date +%s); k0=$(ticks); rss0=$(rss); rss_warm=""; rss_max=$rss0
echo "t=0s rss_kb=$rss0"
while kill -0 "$UAC" 2>/dev/null; do
    sleep "$SAMPLE"
    kill -0 "$P" 2>/dev/null || { echo "causeway died"; tail -20 "$WORK/node.log"; exit 1; }
    now=$(date +%s); r=$(rss); k=$(ticks)
    [ -n "$rss_warm" ] || rss_warm=$r
    [ "$r" -gt "$rss_max" ] && rss_max=$r
    calls=$(tail -1 "$WORK/uac.csv" 2>/dev/null | python3 -c '
import sys
rows=[l.split(";") for l in open(sys.argv[1], encoding="latin-1") if l.strip()]
v=dict(zip(rows[0], rows[-1])) if len(rows) > 1 else {}
print("ok=%s failed=%s rate=%s" % (v.get("SuccessfulCall(C)", "?"), v.get("FailedCall(C)", "?"), v.get("CallRate(P)", "?")))' "$WORK/uac.csv" 2>/dev/null)
    echo "t=$(( now - t0 ))s rss_kb=$r cpu=$(( 100 * (k - k0) / HZ / (now - t0) ))% calls $calls registers(sent ok bad)=$(cat "$WORK/regs.txt")"
done
wait "$UAC"; rc=$?; UAC=""
t1=$(date +%s); k1=$(ticks); rss_end=$(rss)
python3 - "$WORK/uac.csv" "$WORK/regs.txt" "$rc" "$DUR" "$RATE" "$rss0" "${rss_warm:-$rss0}" "$rss_end" "$rss_max" \
    "$(( t1 - t0 ))" "$HZ" "$k0" "$k1" <<'PY'
import sys
stat, regs, rc, dur, rate, r0, rw, re, rm, wall, hz, k0, k1 = sys.argv[1:]
rows = [l.rstrip("\n").split(";") for l in open(stat, encoding="latin-1") if l.strip()]
v = dict(zip(rows[0], rows[-1]))
ok, bad = int(v["SuccessfulCall(C)"]), int(v["FailedCall(C)"])
sent, rok, rbad = open(regs).read().split()
cpu = (int(k1) - int(k0)) / int(hz)
print(f"SOAK dur={dur}s rate={rate}/s calls ok={ok} failed={bad} sipp_rc={rc} "
      f"registers sent={sent} ok={rok} failed={rbad} cpu_per_call={1e6 * cpu / max(ok, 1):.1f}us "
      f"rss_kb start={r0} after_first_sample={rw} end={re} max={rm} growth_after_warmup={int(re) - int(rw)}")
PY
