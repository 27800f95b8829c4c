#!/usr/bin/env python3
"""Golden fastStart elements for interwork/src/fast_start/tests.rs, made with asn1tools 0.169.0
(an independent X.691 implementation) from the ITU H.245 module, edited as
h323-asn1/tests/golden/make_vectors.py edits it.

Usage (from the repository root): python3 interwork/tests/golden/fast_start.py
Prints the hex of each aligned-PER OpenLogicalChannel (a fastStart element, not a whole
MultimediaSystemControlMessage); the test holds them as constants.
"""
import importlib.util
import os

import asn1tools

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    'make_vectors', os.path.join(HERE, '..', '..', '..', 'h323-asn1', 'tests', 'golden', 'make_vectors.py'))
mv = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mv)
spec_ = asn1tools.compile_files(mv.edited_modules(), 'per')


def ip(port):
    return ('unicastAddress', ('iPAddress', {'network': bytes([192, 0, 2, 10]), 'tsapIdentifier': port}))


G711U = ('audioData', ('g711Ulaw64k', 20))
TRANSMIT = {
    'forwardLogicalChannelNumber': 1,
    'forwardLogicalChannelParameters': {
        'dataType': G711U,
        'multiplexParameters': ('h2250LogicalChannelParameters', {
            'sessionID': 1, 'mediaGuaranteedDelivery': False, 'mediaControlChannel': ip(4001)}),
    },
}
RECEIVE = {
    'forwardLogicalChannelNumber': 2,
    'forwardLogicalChannelParameters': {'dataType': ('nullData', None), 'multiplexParameters': ('none', None)},
    'reverseLogicalChannelParameters': {
        'dataType': G711U,
        'multiplexParameters': ('h2250LogicalChannelParameters', {
            'sessionID': 1, 'mediaChannel': ip(4000), 'mediaGuaranteedDelivery': False,
            'mediaControlChannel': ip(4001)}),
    },
}
for name, value in [('TRANSMIT', TRANSMIT), ('RECEIVE', RECEIVE)]:
    b = spec_.encode('OpenLogicalChannel', value)
    assert spec_.decode('OpenLogicalChannel', b) == value
    print(name, b.hex())

# What rasn writes for RECEIVE: the extension-addition NULL `none` as one zero octet (01 00,
# X.691 10.1.3/10.2; asn1tools writes an empty open type, 00). asn1tools reads it as RECEIVE.
RASN_RECEIVE = '400001060401004c601380111c000100c000020a0fa000c000020a0fa1'
assert spec_.decode('OpenLogicalChannel', bytes.fromhex(RASN_RECEIVE)) == RECEIVE
print('RASN_RECEIVE decodes as RECEIVE')
