#!/usr/bin/env python3
"""Golden aligned-PER vectors for H.225.0 RAS messages, made with asn1tools (an
independent X.691 implementation), checked by tests/golden_ras.rs against rasn.

Usage (from the repository root):
    pip install asn1tools==0.169.0
    python3 h323-asn1/tests/golden/make_vectors.py   # rewrites vectors.json beside it

The ASN.1 modules are read from shared/asn1/h225-2009 (../shared/asn1 from the repo root,
or $ASN1_DIR) and edited in a scratch copy, because asn1tools 0.169 cannot take them as
they are (see shared/asn1/PROVENANCE.md). None of the edits changes the bits of a RAS
message:
  (a) `}(CONSTRAINED BY {...})` after SIGNED/ENCRYPTED/HASHED crashes the parser: the
      user-defined constraint is dropped (it is not PER-visible anyway);
  (b) `TYPE-IDENTIFIER.&Type(X)` is unsupported: replaced by OCTET STRING, which is how PER
      encodes an open type (length + octets);
  (c) SIGNED{EncodedFastStartToken}: asn1tools looks the actual parameter up in the module
      of SIGNED (H.235) and fails; SIGNED{EncodedPwdCertToken} is also an open type after (b).

Every value is a whole RasMessage (what goes in a UDP datagram on port 1719).
"""
import json
import os
import re
import sys
import tempfile

import asn1tools

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, '..', '..', '..'))
ASN1_DIR = os.environ.get('ASN1_DIR', os.path.join(REPO, '..', 'shared', 'asn1'))
MODULES = ['H323-MESSAGES.asn', 'H235-SECURITY-MESSAGES.asn', 'MULTIMEDIA-SYSTEM-CONTROL.asn']


def edited_modules():
    scratch = tempfile.mkdtemp(prefix='h225-asn1tools-')
    paths = []
    for name in MODULES:
        with open(os.path.join(ASN1_DIR, 'h225-2009', name)) as f:
            text = f.read()
        text = re.sub(r'\}\s*\(CONSTRAINED BY \{[^}]*\}\)', '}', text)           # (a)
        text = re.sub(r'TYPE-IDENTIFIER\.&Type\([^)]*\)', 'OCTET STRING', text)   # (b)
        text = text.replace('SIGNED{EncodedFastStartToken}',
                            'SIGNED{EncodedPwdCertToken}')                        # (c)
        path = os.path.join(scratch, name)
        with open(path, 'w') as f:
            f.write(text)
        paths.append(path)
    return paths


def ip(a, port):
    return ('ipAddress', {'ip': bytes(a), 'port': port})


# H.225.0 version 6 protocol identifier, as current endpoints send it.
PROTO = '0.0.8.2250.0.6'
EP_IP = [192, 0, 2, 10]      # documentation ranges (RFC 5737): never reached, only encoded
GK_IP = [198, 51, 100, 1]
VENDOR = {
    'vendor': {'t35CountryCode': 181, 't35Extension': 0, 'manufacturerCode': 21324},
    'productId': b'causeway test endpoint',
    'versionId': b'1.0',
}
ALIASES = [('h323-ID', 'alice'), ('dialledDigits', '1001')]
CONF_ID = bytes(range(0x10, 0x20))
CALL_ID = bytes(range(0xa0, 0xb0))

VECTORS = [
    # A GRQ of a current endpoint (extension additions present: supportsAssignedGK).
    ('gatekeeperRequest', 'grq', {
        'requestSeqNum': 1,
        'protocolIdentifier': PROTO,
        'rasAddress': ip(EP_IP, 1719),
        'endpointType': {'vendor': VENDOR, 'terminal': {}, 'mc': False, 'undefinedNode': False},
        'endpointAlias': ALIASES,
        'supportsAssignedGK': False,
    }),
    # The same with the NULL extension addition supportsAltGK. asn1tools 0.169 encodes it as
    # an empty open type (length 00); X.691 (10.1.3 with 10.2) makes the complete encoding of
    # an empty value one zero octet (length 01, 00), which is what rasn and H.323 stacks send.
    # Kept as a known difference: see KNOWN_FAILING in tests/golden_ras.rs.
    ('gatekeeperRequest', 'grq_altgk', {
        'requestSeqNum': 1,
        'protocolIdentifier': PROTO,
        'rasAddress': ip(EP_IP, 1719),
        'endpointType': {'vendor': VENDOR, 'terminal': {}, 'mc': False, 'undefinedNode': False},
        'endpointAlias': ALIASES,
        'supportsAltGK': None,
        'supportsAssignedGK': False,
    }),
    # A GRQ of a version-1 endpoint: no extension bit, so the mandatory extension addition
    # supportsAssignedGK is absent and must decode as absent.
    ('gatekeeperRequest', 'grq_v1', {
        'requestSeqNum': 7,
        'protocolIdentifier': '0.0.8.2250.0.1',
        'rasAddress': ip(EP_IP, 1719),
        'endpointType': {'terminal': {}, 'mc': False, 'undefinedNode': False},
        'gatekeeperIdentifier': 'GK1',
    }),
    # RRQ with timeToLive = 300: TimeToLive ::= INTEGER(1..4294967295) as an extension
    # addition (X.691 gives 03 40 01 2b for the open-type wrapped value).
    ('registrationRequest', 'rrq', {
        'requestSeqNum': 2,
        'protocolIdentifier': PROTO,
        'discoveryComplete': True,
        'callSignalAddress': [ip(EP_IP, 1720)],
        'rasAddress': [ip(EP_IP, 1719)],
        'terminalType': {'vendor': VENDOR, 'terminal': {}, 'mc': False, 'undefinedNode': False},
        'terminalAlias': ALIASES,
        'gatekeeperIdentifier': 'GK1',
        'endpointVendor': VENDOR,
        'timeToLive': 300,
        'keepAlive': False,
        'willSupplyUUIEs': False,
        'maintainConnection': False,
        'supportsAssignedGK': False,
    }),
    ('registrationConfirm', 'rcf', {
        'requestSeqNum': 2,
        'protocolIdentifier': PROTO,
        'callSignalAddress': [ip(GK_IP, 1720)],
        'terminalAlias': ALIASES,
        'gatekeeperIdentifier': 'GK1',
        'endpointIdentifier': 'EP0001',
        'timeToLive': 300,
        'willRespondToIRR': False,
        'preGrantedARQ': {
            'makeCall': True,
            'useGKCallSignalAddressToMakeCall': True,
            'answerCall': True,
            'useGKCallSignalAddressToAnswer': True,
        },
        'maintainConnection': False,
    }),
    ('admissionRequest', 'arq', {
        'requestSeqNum': 3,
        'callType': ('pointToPoint', None),
        'callModel': ('gatekeeperRouted', None),
        'endpointIdentifier': 'EP0001',
        'destinationInfo': [('dialledDigits', '2002')],
        'srcInfo': ALIASES,
        'srcCallSignalAddress': ip(EP_IP, 1720),
        'bandWidth': 1280,
        'callReferenceValue': 42,
        'conferenceID': CONF_ID,
        'activeMC': False,
        'answerCall': False,
        'canMapAlias': True,
        'callIdentifier': {'guid': CALL_ID},
        'gatekeeperIdentifier': 'GK1',
        'willSupplyUUIEs': False,
        'canMapSrcAlias': False,
    }),
    ('admissionConfirm', 'acf', {
        'requestSeqNum': 3,
        'bandWidth': 1280,
        'callModel': ('gatekeeperRouted', None),
        'destCallSignalAddress': ip(GK_IP, 1720),
        'irrFrequency': 30,
        'willRespondToIRR': False,
        'uuiesRequested': {
            'setup': False, 'callProceeding': False, 'connect': False, 'alerting': False,
            'information': False, 'releaseComplete': False, 'facility': False,
            'progress': False, 'empty': False,
            'status': False, 'statusInquiry': False, 'setupAcknowledge': False, 'notify': False,
        },
    }),
]


def simple(v):
    """The value in JSON: bytes as hex strings, CHOICE as {"choice": value}."""
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, tuple):
        return {v[0]: simple(v[1])}
    if isinstance(v, dict):
        return {k: simple(x) for k, x in v.items()}
    if isinstance(v, list):
        return [simple(x) for x in v]
    return v


def main():
    spec = asn1tools.compile_files(edited_modules(), 'per')   # 'per' = aligned PER
    out = []
    for alt, name, value in VECTORS:
        msg = (alt, value)
        enc = spec.encode('RasMessage', msg, check_constraints=True)
        assert spec.decode('RasMessage', enc) == msg, name
        out.append({'name': name, 'type': 'RasMessage', 'value': simple(msg), 'hex': enc.hex()})
    doc = {
        'generator': 'asn1tools %s, codec per (aligned), H.225.0 v7 (12/2009) modules'
                     % asn1tools.__version__,
        'vectors': out,
    }
    path = os.path.join(HERE, 'vectors.json')
    with open(path, 'w') as f:
        json.dump(doc, f, indent=1)
        f.write('\n')
    print('wrote %d vectors to %s' % (len(out), path), file=sys.stderr)


if __name__ == '__main__':
    main()
