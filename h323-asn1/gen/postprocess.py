#!/usr/bin/env python3
"""Post-processing of rasn-compiler 0.16.0 output for rasn 0.30 (run by ../generate.sh).

Usage: postprocess.py IN.rs OUT.rs   (IN is rustfmt-formatted generator output)

Fixes, each for a known rasn / rasn-compiler problem:

1. Extension-addition constraints. rasn's PER encoder encodes an extension addition with
   `encode_with_tag_and_constraints(field constraints)`, and a `#[rasn(delegate)]` newtype then
   uses the constraints it is given instead of its own: the constraint of a constrained newtype
   used as an extension-addition field is lost. Example: RRQ timeToLive (TimeToLive ::=
   INTEGER(1..4294967295)) = 300 comes out `03 02 01 2c` (unconstrained integer) where X.691
   and asn1tools give `03 40 01 2b`. Fix: repeat the newtype's constraint attributes (value,
   size, from; following delegate chains) on every extension-addition field or CHOICE variant
   whose type is such a newtype (also inside Option<..>).

2. Mandatory extension additions. The generator makes a mandatory extension addition (e.g.
   RRQ keepAlive BOOLEAN) a required field, so decoding a message from an endpoint of an
   older version that omits it fails. Fix: the field becomes Option<T> (and so does the
   argument of the generated `new`). Encoding a present value is unchanged; users should set
   Some(..) for the additions their version of the protocol requires.

`#[non_exhaustive]` is left alone: it is rasn's extensibility marker ("..."), removing it
changes the encoding.
"""
import re
import sys

CONSTRAINT_KEYS = ('value', 'size', 'from')


def split_attrs(s):
    """Split a rasn(...) attribute body at top-level commas."""
    out, depth, cur, in_str, esc = [], 0, '', False, False
    for ch in s:
        if in_str:
            cur += ch
            if esc:
                esc = False
            elif ch == '\\':
                esc = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"':
            in_str = True
        elif ch in '([{':
            depth += 1
        elif ch in ')]}':
            depth -= 1
        elif ch == ',' and depth == 0:
            out.append(cur.strip())
            cur = ''
            continue
        cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def key(attr):
    return re.match(r'[A-Za-z_]+', attr).group(0)


# `#[rasn(...)]` attribute (possibly multi-line) followed by an item line.
ATTR = re.compile(r'#\[rasn\((?P<body>(?:[^\]"]|"(?:[^"\\]|\\.)*")*)\)\]')
NEWTYPE = re.compile(r'#\[rasn\((?P<body>(?:[^\]"]|"(?:[^"\\]|\\.)*")*)\)\]\s*'
                     r'pub struct (?P<name>\w+)\(pub (?P<inner>[^;]+)\);')


def newtype_constraints(text):
    own, inner = {}, {}
    for m in NEWTYPE.finditer(text):
        attrs = split_attrs(m.group('body'))
        if 'delegate' not in attrs:
            continue
        own[m.group('name')] = [a for a in attrs if key(a) in CONSTRAINT_KEYS]
        inner[m.group('name')] = m.group('inner').strip()
    resolved = {}
    for name in own:
        n, seen = name, set()
        while n in own and not own[n] and n not in seen:
            seen.add(n)
            n = inner[n]
        resolved[name] = own.get(n, [])
    return {n: c for n, c in resolved.items() if c}


def strip_option(ty):
    m = re.fullmatch(r'Option<(.+)>', ty)
    return m.group(1) if m else ty


def main():
    src, dst = sys.argv[1], sys.argv[2]
    text = open(src).read()
    constrained = newtype_constraints(text)

    # An extension-addition attribute followed by a struct field or a choice variant.
    item = re.compile(
        r'(?P<attr>#\[rasn\((?P<body>(?:[^\]"]|"(?:[^"\\]|\\.)*")*)\)\])(?P<ws>\s*)'
        r'(?:pub (?P<field>\w+): (?P<fty>[^\n]+?),\n|(?P<variant>\w+)\((?P<vty>[^\n]+?)\),\n)')

    made_optional = {}  # struct name -> {(field, type)} of mandatory extension additions
    n_constraints = 0
    current = [None]    # the struct whose body is being fixed (None: an enum)

    def fix(m):
        nonlocal n_constraints
        attrs = split_attrs(m.group('body'))
        if 'extension_addition' not in attrs:
            return m.group(0)
        ty = m.group('fty') if m.group('field') else m.group('vty')
        base = strip_option(ty.strip())
        # Fix 1: repeat the newtype's constraint on the extension-addition field/variant.
        if base in constrained and not any(key(a) in CONSTRAINT_KEYS for a in attrs):
            i = attrs.index('extension_addition') + 1
            attrs[i:i] = constrained[base]
            n_constraints += 1
        attr = '#[rasn(' + ', '.join(attrs) + ')]'
        if m.group('field'):
            fty = m.group('fty')
            # Fix 2: a mandatory extension addition must be optional on decode.
            if not fty.startswith('Option<') and not any(key(a) == 'default' for a in attrs):
                made_optional.setdefault(current[0], set()).add((m.group('field'), fty))
                fty = 'Option<%s>' % fty
            return '%s%spub %s: %s,\n' % (attr, m.group('ws'), m.group('field'), fty)
        return '%s%s%s(%s),\n' % (attr, m.group('ws'), m.group('variant'), m.group('vty'))

    # Struct and enum bodies, one at a time, so that each fixed field is known with its struct.
    def fix_body(b):
        current[0] = b.group('name') if b.group('kind') == 'struct' else None
        return b.group('head') + item.sub(fix, b.group('body'))

    text = re.sub(r'(?P<head>pub (?P<kind>struct|enum) (?P<name>\w+) \{\n)(?P<body>.*?\n    \})',
                  fix_body, text, flags=re.S)

    # Fix 2, constructors: `impl S { pub fn new(.., field: T, ..)` takes Option<T> for the
    # fields of S that were made optional.
    def fix_new(m):
        fields = made_optional.get(m.group('name'))
        if not fields:
            return m.group(0)

        sig = m.group(0)
        for field, ty in fields:
            # `field: T,` or `field: T)` (rustfmt puts short argument lists on one line).
            sig = re.sub(r'(?<![\w.])%s: %s(?=\s*[,)])' % (re.escape(field), re.escape(ty)),
                         '%s: Option<%s>' % (field, ty), sig)
        return sig

    text = re.sub(r'impl (?P<name>\w+) \{\s*pub fn new\((?:[^)]|\)(?! -> Self))*\) -> Self',
                  fix_new, text)
    n_optional = sum(len(v) for v in made_optional.values())
    open(dst, 'w').write(text)
    print('postprocess: %d extension-addition constraints repeated, %d mandatory extension '
          'additions made Option' % (n_constraints, n_optional), file=sys.stderr)


if __name__ == '__main__':
    main()
