#!/usr/bin/env python3
"""Probes a node running the embedded default configuration (inside a private network
namespace): OPTIONS over UDP to 127.0.0.1:5060 and [::1]:5060, over TCP to 127.0.0.1:5060,
and over TLS to 127.0.0.1:5061. Prints `<transport> <address> <status>` per probe."""
import re
import socket
import ssl

def options(local, proto, target):
    return (f"OPTIONS sip:{target} SIP/2.0\r\n"
            f"Via: SIP/2.0/{proto} {local};branch=z9hG4bKprobe{abs(hash(local)) % 100000}\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:probe@example.com>;tag=p\r\n"
            f"To: <sip:{target}>\r\nCall-ID: probe-{proto}-{abs(hash(local))}\r\nCSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n").encode()

def status(data):
    m = re.match(rb"SIP/2\.0 (\d{3})", data)
    return m.group(1).decode() if m else "none"

for family, host, shown in [(socket.AF_INET, "127.0.0.1", "127.0.0.1"), (socket.AF_INET6, "::1", "[::1]")]:
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.sendto(options(f"{shown}:{port}", "UDP", f"{shown}:5060"), (host, 5060))
    try:
        print("udp", shown, status(s.recv(65536)))
    except OSError:
        print("udp", shown, "none")

t = socket.create_connection(("127.0.0.1", 5060), timeout=2)
t.sendall(options(f"127.0.0.1:{t.getsockname()[1]}", "TCP", "127.0.0.1:5060"))
try:
    print("tcp 127.0.0.1", status(t.recv(65536)))
except OSError:
    print("tcp 127.0.0.1 none")

ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
raw = socket.create_connection(("127.0.0.1", 5061), timeout=2)
local_port = raw.getsockname()[1]
tls = ctx.wrap_socket(raw, server_hostname="example.com")
cert = tls.getpeercert(binary_form=True)
print("tls-cert", "present" if cert else "missing")
tls.sendall(options(f"127.0.0.1:{local_port}", "TLS", "127.0.0.1:5061"))
try:
    print("tls 127.0.0.1", status(tls.recv(65536)))
except OSError:
    print("tls 127.0.0.1 none")
