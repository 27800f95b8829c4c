#!/usr/bin/env bash
# Registration expiry under load: N REGISTERs (distinct AORs, Expires 60) at RATE/s, then while
# they run out (60-80 s after they were sent) an OPTIONS ping every 10 ms: the slowest answer
# and the node's CPU seconds over the expiry window say whether purging them stalls the core.
#
# Usage: bench/reg-expiry.sh BIN   Knobs: N=100000 RATE=5000 PORT=46400 (PORT+1 admin)
set -u
N="${N:-100000}"; RATE="${RATE:-5000}"; PORT="${PORT:-46400}"; BIN="$1"
WORK="$(mktemp -d /tmp/regexp.XXXXXX)"
trap 'kill "$P" 2>/dev/null; wait "$P" 2>/dev/null; rm -rf "$WORK"' EXIT
cat >"$WORK/node.toml" <<TOML
[system]
name = "reg-expiry"
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
messages_per_second = 1000000
TOML
"$BIN" run --config "$WORK/node.toml" >"$WORK/node.log" 2>&1 &
P=$!
sleep 2
python3 - "$N" "$RATE" "$PORT" "$P" <<'PY'
import socket, sys, time
n, rate, dport, pid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def cpu():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / 100
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
              f"Expires: 60\r\nContent-Length: 0\r\n\r\n").encode(), dst)
    drain()
    d = t0 + (i + 1) / rate - time.time()
    if d > 0: time.sleep(d)
time.sleep(max(0, t0 + 58 - time.time())); drain()
p = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); p.bind(("127.0.0.1", 0)); p.settimeout(2)
pport = p.getsockname()[1]; c0 = cpu(); worst = 0; lost = 0; k = 0; end = t0 + 60 + n / rate + 5
while time.time() < end:
    k += 1; a = time.time()
    p.sendto((f"OPTIONS sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{pport};branch=z9hG4bKo{k}\r\n"
              f"Max-Forwards: 70\r\nFrom: <sip:ping@example.com>;tag=p{k}\r\nTo: <sip:example.com>\r\n"
              f"Call-ID: ping-{k}@bench\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode(), dst)
    try:
        p.recv(4096); worst = max(worst, time.time() - a)
    except socket.timeout:
        lost += 1
    time.sleep(0.01)
print(f"registered {ok}/{n}; expiry window {end - t0 - 58:.0f} s: node CPU {cpu() - c0:.2f} s, "
      f"{k} OPTIONS, slowest answer {worst * 1000:.1f} ms, unanswered {lost}")
PY
echo "# $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u)"
