#!/usr/bin/env python3
"""The PER H323-UserInformation values in tests/tshark_q931.rs (SETUP_UUIE,
RELEASE_COMPLETE_UUIE), made with asn1tools (an independent X.691 aligned-PER encoder).

Usage (from the repository root):
    pip install asn1tools==0.169.0
    python3 h323/tests/golden/make_uu_vectors.py

Reuses the module edits of h323-asn1/tests/golden/make_vectors.py (none changes the bits
of these messages).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', '..', 'h323-asn1', 'tests', 'golden'))
import asn1tools

import make_vectors as mv
spec = asn1tools.compile_files(mv.edited_modules(), 'per')
PROTO = '0.0.8.2250.0.6'
CID = {'guid': bytes(range(16))}
setup = {
    'h323-uu-pdu': {
        'h323-message-body': ('setup', {
            'protocolIdentifier': PROTO,
            'sourceInfo': {'terminal': {}, 'mc': False, 'undefinedNode': False},
            'activeMC': False,
            'conferenceID': bytes(range(16, 32)),
            'conferenceGoal': ('create', None),
            'callType': ('pointToPoint', None),
            'callIdentifier': CID,
            'mediaWaitForConnect': False,
            'canOverlapSend': False,
            'multipleCalls': False,
            'maintainConnection': False,
        }),
    },
}
rc = {
    'h323-uu-pdu': {
        'h323-message-body': ('releaseComplete', {
            'protocolIdentifier': PROTO,
            'callIdentifier': CID,
        }),
    },
}
for name, v in [('setup', setup), ('release_complete', rc)]:
    b = spec.encode('H323-UserInformation', v)
    assert spec.decode('H323-UserInformation', b) is not None
    print(name, b.hex())
