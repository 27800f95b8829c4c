#!/usr/bin/env python3
"""Replays the SIP torture corpus (RFC 4475/5118) at causeway over UDP or TCP.

Usage: replay.py BIN LOGDIR CORPUS udp|tcp

Run only inside a network namespace that has nothing but loopback (the messages name foreign
hosts). Many corpus messages share a branch (they were written one at a time), and a proxy
rightly treats a second message with the same branch, sent-by and method as a retransmission;
so the files are replayed in rounds, each against a freshly started node, with no two files of
a round sharing a branch. A listener on 127.0.0.1:5080 (where mpart01.dat's Route points) checks
that the forwarded MESSAGE carries its body byte-for-byte.

Prints one line per file: file, outcome; an outcome is the first final status code received,
else the last provisional one, else "none" (no answer) or "closed" (stream closed, no answer);
for mpart01 "fwd-ok" when the forwarded body is intact.
"""
import re
import select
import socket
import subprocess
import sys
import time

binary, logdir, corpus, transport = sys.argv[1:5]
PORT = 5060
files = [l.split("\t")[0] for l in open(f"{corpus}/expected.tsv") if l.strip() and not l.startswith("#")]
# INDEX.md: these RFC 5118 files have bodies longer than their Content-Length; on a stream the
# surplus would start a bogus next message, so the length is recounted for them only
RECOUNT = {"rfc5118/ipv6-in-sdp.dat", "rfc5118/mult-ip-in-sdp.dat", "rfc5118/ipv4-mapped-ipv6.dat"}


def data_of(f):
    data = open(f"{corpus}/{f}", "rb").read()
    if transport == "tcp" and f in RECOUNT:
        head, sep, body = data.partition(b"\r\n\r\n")
        head = re.sub(rb"(?im)^(content-length|l)[ \t]*:[ \t]*\d+",
                      lambda m: m.group(1) + b": " + str(len(body)).encode(), head)
        data = head + sep + body
    return data


def key(data):
    m = re.search(rb"branch\s*=\s*([^;,\s]+)", data, re.I)
    return m.group(1) if m else None


rounds = []
for f in files:
    k = key(data_of(f))
    for r in rounds:
        if k is None or k not in r["keys"]:
            r["files"].append(f)
            if k is not None:
                r["keys"].add(k)
            break
    else:
        rounds.append({"files": [f], "keys": {k} if k is not None else set()})


def start_node(n):
    log = f"{logdir}/node-{transport}-{n}.log"
    p = subprocess.Popen([binary, "run"], stderr=open(log, "w"), stdout=subprocess.DEVNULL)
    end = time.time() + 10
    while time.time() < end:
        if "running" in open(log).read():
            return p
        time.sleep(0.02)
    p.kill()
    sys.exit(f"node did not start: {open(log).read()}")


def codes_in(buf):
    return [int(x) for x in re.findall(rb"SIP/2\.0 (\d{3})", bytes(buf))]


sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sink.bind(("127.0.0.1", 5080))
forwarded = []
results = {}
for n, r in enumerate(rounds):
    node = start_node(n)
    conns = {}
    for f in r["files"]:
        data = data_of(f)
        if transport == "udp":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            s.sendto(data, ("127.0.0.1", PORT))
        else:
            s = socket.create_connection(("127.0.0.1", PORT), timeout=2)
            s.sendall(data)
        conns[f] = [s, bytearray(), False]
    end = time.time() + 1.0
    while time.time() < end:
        if all(c[2] or any(x >= 200 for x in codes_in(c[1])) for c in conns.values()):
            break
        live = [c[0] for c in conns.values() if not c[2]] + [sink]
        ready, _, _ = select.select(live, [], [], 0.05)
        for sock in ready:
            if sock is sink:
                forwarded.append(sink.recv(65536))
                continue
            for f, c in conns.items():
                if c[0] is sock:
                    try:
                        data = sock.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        c[2] = True
                    else:
                        c[1].extend(data)
    node.terminate()
    node.wait()
    for f, (s, buf, closed) in conns.items():
        codes = codes_in(buf)
        finals = [c for c in codes if c >= 200]
        results[f] = str(finals[0]) if finals else str(codes[-1]) if codes else ("closed" if closed else "none")
        s.close()

body = open(f"{corpus}/mpart01.dat", "rb").read().partition(b"\r\n\r\n")[2]
if any(m.startswith(b"MESSAGE ") and m.endswith(body) for m in forwarded) and results.get("mpart01.dat") in ("none", "100"):
    results["mpart01.dat"] = "fwd-ok"
for f in files:
    print(f"{f}\t{results[f]}")
