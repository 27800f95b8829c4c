#!/usr/bin/env python3
"""Reverse direction of the golden vectors: messages encoded by rasn, decoded and re-encoded by
asn1tools. Run by tests/codec/crosscheck.rs (cargo test); not meant to be run by hand.

Input (stdin), JSON: {"items": [{"name", "family": ras|uuie|h245|h460, "type" (for h460), "hex",
                                 "expect": {"path": value, ...}}]}
A path names a place in asn1tools' decoded value, steps separated by '/': a CHOICE step is
the alternative's name (it must be the one chosen), a SEQUENCE step a member name, a SEQUENCE
OF step an index. Expected values are compared after bytes become hex strings and BMP/IA5
strings stay strings.

Output (stdout), JSON: {"asn1tools": version, "results": [{"name", "error": null or text,
"reencoded": hex, "mismatches": ["path: expected X, got Y", ...]}]}

Exit status 2 with a message on stderr if asn1tools is missing or not 0.169.0 (the version
the golden vectors are made with).
"""
import json
import os
import sys

WANT = '0.169.0'
try:
    import asn1tools
except ImportError:
    print('asn1tools is not importable by %s: pip install asn1tools==%s'
          % (sys.executable, WANT), file=sys.stderr)
    sys.exit(2)
if asn1tools.__version__ != WANT:
    print('asn1tools %s found, the tests need %s: pip install asn1tools==%s'
          % (asn1tools.__version__, WANT, WANT), file=sys.stderr)
    sys.exit(2)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_vectors  # noqa: E402  (the module edits and the family -> type table)


def at(value, path):
    """The part of `value` that `path` names; KeyError with the failing step otherwise."""
    for step in path.split('/'):
        if isinstance(value, tuple):
            if value[0] != step:
                raise KeyError('%s: alternative is %s' % (step, value[0]))
            value = value[1]
        elif isinstance(value, list):
            value = value[int(step)]
        elif isinstance(value, dict):
            if step not in value:
                raise KeyError('%s: absent' % step)
            value = value[step]
        else:
            raise KeyError('%s: not a constructed value' % step)
    return make_vectors.simple(value)


def main():
    items = json.load(sys.stdin)['items']
    spec = asn1tools.compile_files(make_vectors.edited_modules(), 'per')
    results = []
    for item in items:
        r = {'name': item['name'], 'error': None, 'reencoded': None, 'mismatches': []}
        try:
            ty = item.get('type') or make_vectors.TOP[item['family']]
            value = spec.decode(ty, bytes.fromhex(item['hex']))
            r['reencoded'] = spec.encode(ty, value, check_constraints=True).hex()
            for path, want in item.get('expect', {}).items():
                try:
                    got = at(value, path)
                except (KeyError, IndexError, ValueError) as e:
                    r['mismatches'].append('%s: %s' % (path, e))
                    continue
                if got != want:
                    r['mismatches'].append('%s: expected %r, got %r' % (path, want, got))
        except Exception as e:  # noqa: BLE001  (any asn1tools failure is a finding)
            r['error'] = '%s: %s' % (type(e).__name__, e)
        results.append(r)
    json.dump({'asn1tools': asn1tools.__version__, 'results': results}, sys.stdout)


if __name__ == '__main__':
    main()
