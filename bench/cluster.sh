#!/usr/bin/env bash
# Cluster benchmark (issue 12): real causeway peers (release build) on loopback.
#   (a) replication latency: APPLIES documents (default 100) applied through the peers in turn
#       (`causeway config apply`, mostly followers), for 3 and then 6 peers. Two figures per
#       apply: "asked" = until the command returned (committed by a majority and in effect on
#       the peer asked), "all" = until the last peer logged it in effect (log timestamps);
#       p50 / p99 / max of each.
#   (b) fail-over, 3 peers: KILLS times (default 20) the leader is killed (SIGKILL) and a
#       document is applied through a survivor, retried until committed: the time from the
#       kill to that commit (election included); the peer is restarted and catches up before
#       the next round.
# No peer system runs beside it: the reference cluster's figure (replication up to a minute,
# manual fail-over) is from its documentation (../shared/reference/).
#
# Usage: bench/cluster.sh          Knobs: APPLIES=100 KILLS=20 SIZES="3 6" BASE=33000
#        (ports BASE.. for SIP/admin, 30000-32767 free ones for the cluster ports)
# Needs: python3; cargo.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
(cd "$ROOT" && cargo build --release -q -p causeway) || exit 2
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/causeway"
echo "# $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p'), $(date -u), causeway $("$BIN" --version | awk '{print $2}') ($(cd "$ROOT" && git rev-parse --short HEAD))"
exec python3 - "$BIN" "${APPLIES:-100}" "${KILLS:-20}" "${SIZES:-3 6}" "${BASE:-33000}" <<'PY'
import json, os, random, re, shutil, signal, socket, subprocess, sys, tempfile, time
from datetime import datetime

BIN, APPLIES, KILLS, SIZES, BASE = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), [int(x) for x in sys.argv[4].split()], int(sys.argv[5])
ANSI = re.compile(r"\x1b\[[0-9;]*m")

def free(port_range):
    for _ in range(1000):
        p = random.randint(*port_range)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p)); return p
        except OSError:
            pass
        finally:
            s.close()
    raise SystemExit("no free port")

class Peer:
    def __init__(self, work, i, n, cluster_ports, base):
        self.i, self.dir = i, os.path.join(work, f"peer{i}")
        os.makedirs(self.dir, exist_ok=True)
        self.admin = base + 10 * i + 1
        peers = ", ".join(f'"127.0.0.1:{p}"' for p in cluster_ports)
        self.cfg = os.path.join(self.dir, "node.toml")
        open(self.cfg, "w").write(f'''[system]
name = "peer{i}"
role = "control"
domain = "example.com"
[sip]
udp = {{ enabled = true, listen = "127.0.0.1:{base + 10 * i}" }}
tcp = {{ enabled = false }}
tls = {{ enabled = false }}
[admin]
listen = "127.0.0.1:{self.admin}"
[media]
anchor = "none"
[log]
level = "warn,causeway::node::reload=info"
[cluster]
name = "bench.example.com"
node_id = {i}
peers = [{peers}]
data_dir = "{os.path.join(self.dir, 'data')}"
''')
        self.proc, self.runs = None, 0
    def start(self):
        self.runs += 1
        self.log = os.path.join(self.dir, f"log{self.runs}")
        self.proc = subprocess.Popen([BIN, "run", "--config", self.cfg], stdout=subprocess.DEVNULL,
                                     stderr=open(self.log, "w"))
    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL); self.proc.wait()
    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try: self.proc.wait(5)
            except subprocess.TimeoutExpired: self.kill()
    def status(self):
        r = subprocess.run([BIN, "status", "--json", "--admin", f"127.0.0.1:{self.admin}"], capture_output=True)
        try: return json.loads(r.stdout).get("cluster") or {}
        except ValueError: return {}
    def applied_at(self, index):
        """Wall time this peer logged document `index` in effect, or None."""
        for l in open(self.log, errors="replace"):
            l = ANSI.sub("", l)
            if "cluster document applied" in l and f" index={index} " in l + " ":
                return datetime.fromisoformat(l.split()[0].replace("Z", "+00:00")).timestamp()
        return None

def apply(peer, work, n):
    doc = os.path.join(work, "doc.toml")
    open(doc, "w").write(f'[[zone]]\nname = "z{n}"\ntype = "neighbor"\npeer = "127.0.0.1:5999"\n')
    r = subprocess.run([BIN, "config", "apply", "--admin", f"127.0.0.1:{peer.admin}", doc], capture_output=True, text=True)
    m = re.search(r"committed: index (\d+)", r.stdout)
    return int(m.group(1)) if r.returncode == 0 and m else None

def wait_leader(peers, limit=15):
    end = time.time() + limit
    while time.time() < end:
        for p in peers:
            l = p.status().get("leader")
            if l: return l
        time.sleep(0.2)
    raise SystemExit("no leader")

def pct(v, q):
    v = sorted(v); return v[min(len(v) - 1, int(q * len(v)))]

def ms(x): return f"{1000 * x:.1f}"

doc_n = 0
for n in SIZES:
    work = tempfile.mkdtemp(prefix=f"clusterbench{n}.")
    ports = []
    while len(ports) < n:
        p = free((30000, 32767))
        if p not in ports: ports.append(p)
    peers = [Peer(work, i, n, ports, BASE + 100 * n) for i in range(1, n + 1)]
    try:
        for p in peers: p.start()
        wait_leader(peers); time.sleep(1.5)
        asked, everywhere, missing = [], [], 0
        for k in range(APPLIES):
            peer = peers[k % n]; doc_n += 1
            t0 = time.time(); idx = apply(peer, work, doc_n); t1 = time.time()
            if idx is None: missing += 1; continue
            asked.append(t1 - t0)
            end = time.time() + 5; last = None
            while time.time() < end:
                ts = [p.applied_at(idx) for p in peers]
                if all(ts): last = max(ts); break
                time.sleep(0.02)
            if last is None: missing += 1
            else: everywhere.append(last - t0)
        print(f"replication peers={n} applies={APPLIES} ok={len(asked)} failed_or_unseen={missing} "
              f"asked_p50={ms(pct(asked, .5))}ms asked_p99={ms(pct(asked, .99))}ms asked_max={ms(max(asked))}ms "
              f"all_p50={ms(pct(everywhere, .5))}ms all_p99={ms(pct(everywhere, .99))}ms all_max={ms(max(everywhere))}ms", flush=True)
        if n != 3 or KILLS == 0:
            continue
        times, failed = [], 0
        for k in range(KILLS):
            lid = wait_leader(peers); time.sleep(1.2)
            lid = wait_leader(peers)
            leader = peers[lid - 1]
            others = [p for p in peers if p is not leader]
            leader.kill(); t0 = time.time(); idx = None
            while idx is None and time.time() - t0 < 20:
                doc_n += 1; idx = apply(others[k % 2], work, doc_n)
            if idx is None: failed += 1
            else: times.append(time.time() - t0)
            leader.start(); time.sleep(2)
        print(f"failover peers=3 kills={KILLS} ok={len(times)} failed={failed} "
              f"kill_to_commit_p50={ms(pct(times, .5))}ms p99={ms(pct(times, .99))}ms "
              f"min={ms(min(times))}ms max={ms(max(times))}ms", flush=True)
    finally:
        for p in peers: p.stop()
        shutil.rmtree(work, ignore_errors=True)
PY
