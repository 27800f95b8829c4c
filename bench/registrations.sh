#!/usr/bin/env bash
# Registration memory: RSS of one causeway node (release build, UDP, no digest) before, right
# after and 40 s after N REGISTERs of N distinct AORs at RATE/s (one contact each, Expires 3600),
# every one answered 200. The 40 s wait lets the finished transactions (kept 32 s) go.
#
# Usage: bench/registrations.sh [BIN]   (default: a release build of this checkout)
# Knobs: N=100000 RATE=5000 PORT=46100 (and PORT+1 for the admin listener)
# Not yet side by side with Kamailio (issue 15 asks for it; see BENCHMARKS.md for its figure).
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N="${N:-100000}"; RATE="${RATE:-5000}"; PORT="${PORT:-46100}"
BIN="${1:-}"
if [ -z "$BIN" ]; then
    (cd "$ROOT" && cargo build --release -q -p causeway) || exit 2
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/causeway"
fi
WORK="$(mktemp -d /tmp/regbench.XXXXXX)"
trap 'kill "$P" 2>/dev/null; wait "$P" 2>/dev/null; rm -rf "$WORK"' EXIT
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
"$BIN" run --config "$WORK/node.toml" >"$WORK/node.log" 2>&1 &
P=$!
sleep 2
rss() { awk '/VmRSS/ {print $2}' "/proc/$P/status"; }
r0=$(rss)
out=$(python3 - "$N" "$RATE" "$PORT" <<'PY'
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
)
r1=$(rss)
sleep 40
r2=$(rss)
echo "# $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u)"
echo "registrations $out; RSS start ${r0} kB, after ${r1} kB, 40 s later ${r2} kB"
