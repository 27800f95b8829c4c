#!/usr/bin/env bash
# Calls per second across cluster peers (issue 12): two causeway peers of one cluster (release
# build) on loopback; a sipp UAS registered on peer 1 as service@example.com; a sipp UAC calls
# it (../shared/bench/kamailio/uac.xml and uas.xml, UDP at the edges, no media), either
#   same   through peer 1 itself (caller and callee on the same peer), or
#   cross  through peer 2, which forwards to peer 1 over SIP TLS (the peers' own link; the
#          registration is known on peer 2 from what peer 1 publishes on the cluster port).
# For each mode and each rate of RATES (DUR seconds each): calls achieved, failed, and the CPU
# of the peers (both peers' user+system ticks per successful call). The same script, the same
# sipp scenarios and machine for both modes: the ratio is cross/same.
#
# Usage: bench/cluster-calls.sh     Knobs: RATES="250 500 1000 1500" DUR=20 BASE=34000
# Needs: sipp, python3; cargo.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="$ROOT/../shared/bench/kamailio"
for bin in sipp python3; do command -v $bin >/dev/null || { echo "missing: $bin"; exit 2; }; done
(cd "$ROOT" && cargo build --release -q -p causeway) || exit 2
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/causeway"
echo "# $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'), $(date -u), causeway $("$BIN" --version | awk '{print $2}') ($(cd "$ROOT" && git rev-parse --short HEAD)), sipp $(sipp -v 2>&1 | awk '/SIPp v/{print $2}')"
exec python3 - "$BIN" "$SHARED" "${RATES:-250 500 1000 1500}" "${DUR:-20}" "${BASE:-34000}" <<'PY'
import json, os, shutil, signal, socket, subprocess, sys, tempfile, time

BIN, SHARED, RATES, DUR, BASE = sys.argv[1], sys.argv[2], [int(r) for r in sys.argv[3].split()], int(sys.argv[4]), int(sys.argv[5])
HZ = os.sysconf("SC_CLK_TCK")
IP = "127.0.0.1"

def ticks(pid):
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return int(f[11]) + int(f[12])
    except (OSError, IndexError, ValueError):
        return 0

class Peer:
    def __init__(self, work, i, cluster_ports):
        self.i, self.dir = i, os.path.join(work, f"peer{i}")
        os.makedirs(self.dir)
        self.sip, self.tls, self.admin = BASE + 10 * i, BASE + 10 * i + 1, BASE + 10 * i + 2
        peers = ", ".join(f'"{IP}:{p}"' for p in cluster_ports)
        self.cfg = os.path.join(self.dir, "node.toml")
        open(self.cfg, "w").write(f'''[system]
name = "peer{i}"
role = "control"
domain = "example.com"
[sip]
udp = {{ enabled = true, listen = "{IP}:{self.sip}" }}
tcp = {{ enabled = false }}
tls = {{ enabled = true, listen = "{IP}:{self.tls}" }}
[admin]
listen = "{IP}:{self.admin}"
[media]
anchor = "none"
[log]
level = "warn"
[cluster]
name = "bench.example.com"
node_id = {i}
peers = [{peers}]
data_dir = "{os.path.join(self.dir, 'data')}"
''')
        self.proc = subprocess.Popen([BIN, "run", "--config", self.cfg], stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir, "log"), "w"))
    def status(self):
        r = subprocess.run([BIN, "status", "--json", "--admin", f"{IP}:{self.admin}"], capture_output=True)
        try: return json.loads(r.stdout)
        except ValueError: return {}
    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try: self.proc.wait(5)
            except subprocess.TimeoutExpired: self.proc.kill()

def register(peer, uas_port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((IP, 0)); s.settimeout(3)
    me = s.getsockname()[1]
    s.sendto((f"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {IP}:{me};branch=z9hG4bKbenchreg\r\n"
              f"Max-Forwards: 70\r\nFrom: <sip:service@example.com>;tag=b\r\nTo: <sip:service@example.com>\r\n"
              f"Call-ID: benchreg\r\nCSeq: 1 REGISTER\r\nContact: <sip:service@{IP}:{uas_port}>\r\n"
              f"Expires: 3600\r\nContent-Length: 0\r\n\r\n").encode(), (IP, peer.sip))
    if b" 200 " not in s.recv(4096).split(b"\r\n")[0]:
        raise SystemExit("REGISTER refused")

def step(label, via, rate, work, peers):
    calls = rate * DUR
    stat = os.path.join(work, f"uac_{label}_{rate}.csv")
    k0 = sum(ticks(p.proc.pid) for p in peers); t0 = time.time()
    uac = subprocess.run(["sipp", f"{IP}:{via.sip}", "-sf", f"{SHARED}/uac.xml", "-s", "service", "-i", IP,
                          "-p", str(BASE + 90), "-r", str(rate), "-m", str(calls), "-d", "100", "-nostdin",
                          "-buff_size", "4194304", "-recv_timeout", "10000", "-timeout", f"{DUR + 60}s",
                          "-trace_stat", "-stf", stat, "-fd", "1"], capture_output=True)
    wall = time.time() - t0; k1 = sum(ticks(p.proc.pid) for p in peers)
    rows = [l.rstrip("\n").split(";") for l in open(stat, encoding="latin-1") if l.strip()]
    v = dict(zip(rows[0], rows[-1]))
    ok, bad, cr = int(v["SuccessfulCall(C)"]), int(v["FailedCall(C)"]), float(v["CallRate(C)"])
    cpu = (k1 - k0) / HZ
    us = 1e6 * cpu / ok if ok else float("nan")
    res = "PASS" if bad <= 0.001 * calls and cr >= 0.95 * rate and ok + bad >= calls else "FAIL"
    print(f"{label:5s} target={rate:5d}/s achieved={cr:8.1f}/s ok={ok} failed={bad} peers_cpu={100 * cpu / wall:5.1f}% "
          f"cpu_per_call={us:7.1f}us sipp_rc={uac.returncode} {res}", flush=True)
    return res == "PASS", us

work = tempfile.mkdtemp(prefix="clustercalls.")
cluster_ports = [BASE + 80, BASE + 81]
peers = [Peer(work, i, cluster_ports) for i in (1, 2)]
uas = subprocess.Popen(["sipp", "-sf", f"{SHARED}/uas.xml", "-i", IP, "-p", str(BASE + 91), "-nostdin",
                        "-buff_size", "4194304"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    time.sleep(2)
    register(peers[0], BASE + 91)
    end = time.time() + 10
    while not any(r.get("alias") == "service@example.com" for r in
                  (peers[1].status().get("directory") or {}).get("registrations", [])):
        if time.time() > end: raise SystemExit("peer 2 never learnt the registration")
        time.sleep(0.2)
    best, cpu = {}, {}
    for label, via in (("same", peers[0]), ("cross", peers[1])):
        best[label] = 0
        for rate in RATES:
            passed, us = step(label, via, rate, work, peers)
            cpu.setdefault(label, {})[rate] = us
            if not passed: break
            best[label] = rate
    common = [r for r in RATES if r in cpu.get("same", {}) and r in cpu.get("cross", {})]
    ratio = " ".join(f"{r}/s:{cpu['cross'][r] / cpu['same'][r]:.2f}" for r in common if cpu["same"][r] == cpu["same"][r])
    print(f"SUMMARY highest passing rate: same-peer={best['same']} cross-peer={best['cross']} calls/s; "
          f"CPU per call cross/same (both peers): {ratio}")
finally:
    uas.send_signal(signal.SIGTERM); uas.wait()
    for p in peers: p.stop()
    shutil.rmtree(work, ignore_errors=True)
PY
