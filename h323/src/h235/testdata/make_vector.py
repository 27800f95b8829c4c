#!/usr/bin/env python3
"""Known-answer vector for H.235.1 procedure I (h323/src/h235/tests.rs), made without
causeway's code: asn1tools 0.169.0 encodes an RRQ whose cryptoTokens carry one
nestedcryptoToken/cryptoHashedToken, and Python's hmac/hashlib compute the HMAC-SHA1-96.

Usage (from the repository root):
    ~/.cache/causeway-venv/bin/python3 h323/src/h235/testdata/make_vector.py

Prints the vector as Rust constants to paste into tests.rs. The ASN.1 modules, their edits
for asn1tools and the RRQ come from h323-asn1/tests/golden/make_vectors.py.

The procedure, as H323Plus (h235auth1.cxx) and GnuGk implement it: encode the message with
the 96-bit hash field set to zero; key = SHA-1(password); HMAC-SHA1 over the whole encoding,
truncated to its first 12 octets; those octets replace the zeros.
"""
import hashlib
import hmac
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, '..', '..', '..', '..'))
sys.path.insert(0, os.path.join(REPO, 'h323-asn1', 'tests', 'golden'))
import asn1tools  # noqa: E402
import make_vectors  # noqa: E402

PASSWORD = 'zone secret'
SENDER = 'traversal-c'
GENERAL = 'GK1'
TIMESTAMP = 1700000000
RANDOM = 7


def token(hash12):
    return ('nestedcryptoToken', ('cryptoHashedToken', {
        'tokenOID': '0.0.8.235.0.2.1',
        'hashedVals': {
            'tokenOID': '0.0.8.235.0.2.5',
            'timeStamp': TIMESTAMP,
            'random': RANDOM,
            'generalID': GENERAL,
            'sendersID': SENDER,
        },
        'token': {
            'algorithmOID': '0.0.8.235.0.2.6',
            'paramS': {},
            'hash': (hash12, 96),
        },
    }))


def rrq(hash12):
    return ('registrationRequest', dict(make_vectors.RRQ_FULL, cryptoTokens=[token(hash12)]))


def main():
    spec = asn1tools.compile_files(make_vectors.edited_modules(), 'per')
    zeroed = spec.encode('RasMessage', rrq(bytes(12)))
    # The hash's place: the only octets that differ from an encoding with another hash.
    marked = spec.encode('RasMessage', rrq(b'tWelVe~byteS'))
    diff = [i for i in range(len(zeroed)) if zeroed[i] != marked[i]]
    assert len(zeroed) == len(marked) and diff == list(range(diff[0], diff[0] + 12)), diff
    at = diff[0]
    key = hashlib.sha1(PASSWORD.encode()).digest()
    mac = hmac.new(key, zeroed, hashlib.sha1).digest()[:12]
    signed = zeroed[:at] + mac + zeroed[at + 12:]
    assert signed == spec.encode('RasMessage', rrq(mac))
    kind, value = spec.decode('RasMessage', signed)
    got = value['cryptoTokens'][0][1][1]['token']['hash']
    assert kind == 'registrationRequest' and got == (mac, 96), got
    print(f'const KAT_PASSWORD: &str = "{PASSWORD}";')
    print(f'const KAT_SENDER: &str = "{SENDER}";')
    print(f'const KAT_GENERAL: &str = "{GENERAL}";')
    print(f'const KAT_TIMESTAMP: u32 = {TIMESTAMP};')
    print(f'const KAT_RANDOM: i32 = {RANDOM};')
    print(f'const KAT_HASH_AT: usize = {at};')
    print(f'const KAT_HASH: &str = "{mac.hex()}";')
    print(f'const KAT_SIGNED: &str = "{signed.hex()}";')


if __name__ == '__main__':
    main()
