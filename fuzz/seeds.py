#!/usr/bin/env python3
"""Seed inputs for the fuzz targets whose corpus is empty: real encodings, so that libFuzzer
starts from messages that decode and mutates inside them, instead of spending its first
hours finding a valid PER preamble or a SIP start line.

Usage: python3 fuzz/seeds.py TARGET DIR    (fuzz/run.sh calls it for an empty corpus)
Writes seed files into DIR and prints how many; a target it has no seeds for gets none.

Where the seeds come from (nothing here encodes ASN.1 itself):
- h323-asn1/tests/golden/vectors.json: RAS, H.245, H.323-UserInformation and H.460 values
  encoded by asn1tools, an independent X.691 encoder (see its generator line);
- hex vectors the unit tests already check against asn1tools (fastStart elements, the H.460.18
  indication, an H.235-signed RAS message), read from those test files by constant name;
- ../shared/torture: the RFC 4475/5118 messages (SIP targets), and their SDP bodies;
- written here: the Q.931 envelope around each UUIE (H.225.0 7.2: protocol discriminator 8,
  two-byte call reference, the message type, a few IEs, the user-user IE), TPKT framing
  (RFC 1006), STUN binding requests (RFC 5389, with FINGERPRINT and unknown attributes), a
  few common SDP offers, digest Authorization values (RFC 3261/8760) and RTP packets.
"""
import functools
import json
import os
import re
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TORTURE = os.path.join(ROOT, '..', 'shared', 'torture')


@functools.cache
def golden():
    with open(os.path.join(ROOT, 'h323-asn1', 'tests', 'golden', 'vectors.json')) as f:
        return json.load(f)['vectors']


def vectors(*families):
    for v in golden():
        if v['family'] in families:
            yield v['name'], bytes.fromhex(v['hex'])


def test_constant(path, name):
    """A hex string constant of a Rust test file (continuation lines joined)."""
    with open(os.path.join(ROOT, path)) as f:
        text = f.read()
    m = re.search(r'const ' + name + r': &str =\s*"((?:[0-9a-fA-F]|\\\n\s*)+)"', text)
    if not m:
        sys.exit(f'seeds.py: no hex constant {name} in {path}')
    return bytes.fromhex(re.sub(r'\\\n\s*', '', m.group(1)))


# H.225.0 Table 4 message types for the UUIE vectors (by their name's first word)
Q931_TYPES = {'setup': 0x05, 'call': 0x02, 'alerting': 0x01, 'connect': 0x07,
              'release': 0x5a, 'facility': 0x62, 'progress': 0x03, 'notify': 0x6e}


def ie(ident, body):
    return bytes([ident, len(body)]) + body


def q931(name, uu, call_ref):
    kind = Q931_TYPES[name.split('_')[0]]
    # the called side sets the call reference flag on everything but SETUP
    flag = 0 if kind == 0x05 else 0x80
    out = bytes([0x08, 2, flag | (call_ref >> 8), call_ref & 0xff, kind])
    if kind == 0x05:
        out += ie(0x04, b'\x88\x90\xa5')            # bearer capability: unrestricted digital
        out += ie(0x28, b'causeway seed')           # display
        out += ie(0x6c, b'\x00\x81' + b'4930123')   # calling party number
        out += ie(0x70, b'\x81' + b'4940567')       # called party number
    if kind == 0x5a:
        out += ie(0x08, b'\x80\x90')                # cause 16, normal call clearing
    return out + bytes([0x7e]) + struct.pack('>H', len(uu) + 1) + b'\x05' + uu


def tpkt(payload):
    return bytes([3, 0]) + struct.pack('>H', len(payload) + 4) + payload


def q931_messages():
    return [(n, q931(n, uu, 0x1234 + i)) for i, (n, uu) in enumerate(vectors('uuie'))]


def stun(attrs=b'', fingerprint=True):
    txid = bytes(range(1, 13))
    length = len(attrs) + (8 if fingerprint else 0)
    msg = struct.pack('>HHI', 0x0001, length, 0x2112a442) + txid + attrs
    if fingerprint:
        crc = (zlib.crc32(msg) ^ 0x5354554e) & 0xffffffff
        msg += struct.pack('>HHI', 0x8028, 4, crc)
    return msg


def attr(kind, value):
    pad = b'\0' * (-len(value) % 4)
    return struct.pack('>HH', kind, len(value)) + value + pad


SDPS = [
    'v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n'
    'm=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n'
    'a=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n',
    'v=0\r\no=alice 2890844526 2890844527 IN IP6 2001:db8::1\r\ns=call\r\nt=0 0\r\n'
    'm=audio 49170 RTP/AVP 9 0\r\nc=IN IP6 2001:db8::1\r\na=rtcp:49171\r\n'
    'm=video 51372 RTP/AVP 96\r\nc=IN IP6 2001:db8::1\r\na=rtpmap:96 H264/90000\r\n'
    'a=fmtp:96 profile-level-id=42e01f;packetization-mode=1\r\na=recvonly\r\n',
    'v=0\r\no=- 7 7 IN IP4 198.51.100.2\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n'
    'm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=ice-ufrag:abcd\r\n'
    'a=ice-pwd:0123456789abcdef01234567\r\n'
    'a=candidate:1 1 udp 2130706431 198.51.100.2 50000 typ host\r\na=rtcp-mux\r\n'
    'a=inactive\r\nm=video 0 RTP/AVP 31\r\n',
]


def torture():
    if not os.path.isdir(TORTURE):
        return []
    out = []
    for d, _, files in sorted(os.walk(TORTURE)):
        for f in sorted(files):
            if f.endswith('.dat'):
                with open(os.path.join(d, f), 'rb') as h:
                    out.append((os.path.relpath(os.path.join(d, f), TORTURE).replace('/', '-'),
                                h.read()))
    return out


def sdp_bodies():
    bodies = [(f'sdp{i}', s.encode()) for i, s in enumerate(SDPS)]
    for name, msg in torture():
        head, sep, body = msg.partition(b'\r\n\r\n')
        if sep and body.lstrip().startswith(b'v=0') and b'multipart' not in head.lower():
            bodies.append((name, body))
    return bodies


DIGEST = [
    'Digest username="alice", realm="example.com", nonce="{n}", uri="sip:example.com", '
    'response="6629fae49393a05397450978507c4ef1", algorithm=MD5',
    'Digest username="bob", realm="example.com", nonce="{n}", uri="sip:bob@example.com", '
    'response="{r}", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="0a4f113b", opaque="x"',
    'Digest username="c\\"d", realm="example.com", nonce="{n}", uri="sip:example.com;transport=tcp", '
    'response="{r}", qop=auth-int, nc=ffffffff, cnonce=""',
]


def rtp(pt, seq, marker=False, payload=b'\xff' * 20):
    return struct.pack('>BBHII', 0x80, (0x80 if marker else 0) | pt, seq, 160 * seq,
                       0x11223344) + payload


def seeds(target):
    ras = list(vectors('ras'))
    h245 = list(vectors('h245'))
    calls = q931_messages()
    if target in ('parse_message', 'peek', 'stream_framer'):
        return torture()
    if target == 'ras':
        return ras
    if target == 'h46018_flow':
        return ras + list(vectors('h460'))
    if target == 'h235_verify':
        return ras + [('kat_signed', test_constant('h323/src/h235/tests.rs', 'KAT_SIGNED'))]
    if target == 'describe_h323':
        return ras + h245 + calls
    if target == 'q931_h225':
        return calls
    if target == 'q931':
        # the first byte is the target's chunk size; then TPKT frames, one or a whole call
        framed = [(n, bytes([i * 7 % 32]) + tpkt(m)) for i, (n, m) in enumerate(calls)]
        whole = b''.join(tpkt(m) for _, m in calls)
        return framed + [('whole_call', b'\x03' + whole), ('bare_setup', calls[0][1])]
    if target == 'h46019_params':
        return h245 + [n_v for n_v in vectors('h460') if n_v[0] == 'h46019_traversal']
    if target == 'h46018_indication':
        path = 'h323/src/h46018/indication/tests.rs'
        return [(c, test_constant(path, c)) for c in ('ANSWER_VECTOR', 'CALLER_VECTOR')]
    if target == 'interwork_fast_start':
        path = 'interwork/src/fast_start/tests.rs'
        tx, rx = (test_constant(path, c) for c in ('GOLDEN_TRANSMIT', 'GOLDEN_RECEIVE_RASN'))
        return [('transmit', tx), ('receive', rx), ('both', tx + b'\xff' + rx),
                ('reversed', rx + b'\xff' + tx)]
    if target in ('sdp_rewrite', 'interwork_sdp'):
        return sdp_bodies()
    if target == 'stun':
        user = attr(0x0006, b'evtj:h6vY')
        return [('plain', stun(fingerprint=False)), ('fingerprint', stun()),
                ('username', stun(user + attr(0x0024, b'\x6e\x00\x01\xff'))),
                ('unknown_required', stun(attr(0x7fff, b'\0\0\0\0')))]
    if target == 'digest_verify':
        n = '1122334455667788' * 2
        return [(f'digest{i}', d.format(n=n, r='ab' * 32).encode()) for i, d in enumerate(DIGEST)]
    if target == 'interwork_tap':
        # flags byte, then 64-byte chunks (even first byte: SIP side): audio, a DTMF event
        pkts = [rtp(0, 1), rtp(101, 2, True, b'\x05\x0a\x00\xa0'), rtp(8, 3)]
        chunks = b''.join(p[:64].ljust(64, b'\0') for p in pkts)
        return [('audio_dtmf', b'\x65' + chunks), ('audio_dtmf_h323', b'\xe5' + chunks)]
    return []


def main():
    if len(sys.argv) != 3:
        sys.exit('usage: seeds.py TARGET DIR')
    target, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    got = seeds(target)
    for name, data in got:
        with open(os.path.join(out, f'seed-{name}'), 'wb') as f:
            f.write(data)
    print(f'{target}: {len(got)} seeds')


if __name__ == '__main__':
    main()
