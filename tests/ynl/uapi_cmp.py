#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Compare the constants of two uAPI headers by value, as the C compiler sees them.

    uapi_cmp.py GENERATED.h HEADER.h

GENERATED.h is what the kernel's ynl-gen-c.py renders from the YNL spec,
HEADER.h is uapi/linux/sipovl.h. Every enumerator and object-like macro of
either header is evaluated by compiling a program that includes it, so the
values are the compiler's, not a parser's guess. Prints TAP test points
(numbered from $TAP_START, default 1) and the number of points last, on a
line "points N"; exits 1 when anything differs.

The header's own helpers that the spec does not render are checked for what
they mean instead: __SIPOVL_F_ALL and __SIPOVL_PROTO_ALL are the OR of their
enum's flags, __SIPOVL_POLICY_MAX is the last policy, SIPOVL_CMD_UNSPEC is 0.
"""
import os
import re
import subprocess
import sys
import tempfile

HELPERS = {
    '__SIPOVL_F_ALL': ('or', 'SIPOVL_F_'),
    '__SIPOVL_PROTO_ALL': ('or', 'SIPOVL_PROTO_'),
    '__SIPOVL_POLICY_MAX': ('max', 'SIPOVL_POLICY_'),
    'SIPOVL_CMD_UNSPEC': ('zero', None),
}


def names(path):
    """Enumerators and object-like macros of a header, in order."""
    text = open(path).read()
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    out = []
    for m in re.finditer(r'^\s*#\s*define\s+([A-Za-z_]\w*)(\(?)', text, re.M):
        if m.group(2) or m.group(1).startswith('_UAPI_'):
            continue
        out.append(m.group(1))
    for body in re.findall(r'\benum\b[^{;]*\{(.*?)\}', text, re.S):
        for item in body.split(','):
            m = re.match(r'\s*([A-Za-z_]\w*)', item)
            if m:
                out.append(m.group(1))
    return out


def values(path, syms):
    """{name: int or str}, each evaluated by the compiler."""
    prog = ['#include <stdio.h>', '#include "%s"' % os.path.abspath(path),
            'static void s(const char *n, const char *v) { printf("%s s %s\\n", n, v); }',
            'static void i(const char *n, long long v) { printf("%s i %lld\\n", n, v); }',
            '#define P(x) _Generic((x), char *: s, const char *: s, default: i)(#x, x)',
            'int main(void) {']
    prog += ['\tP(%s);' % n for n in syms]
    prog += ['\treturn 0;', '}']
    with tempfile.TemporaryDirectory() as d:
        c = os.path.join(d, 'v.c')
        with open(c, 'w') as f:
            f.write('\n'.join(prog) + '\n')
        exe = os.path.join(d, 'v')
        subprocess.run([os.environ.get('CC', 'cc'), '-std=c11', '-Wall', '-Werror',
                        '-Wno-unused-function', '-o', exe, c], check=True)
        res = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
    vals = {}
    for line in res.splitlines():
        n, kind, v = line.split(' ', 2)
        vals[n] = int(v) if kind == 'i' else v
    return vals


def main():
    gen, hdr = sys.argv[1], sys.argv[2]
    n = int(os.environ.get('TAP_START', '1')) - 1
    failed = 0

    def point(ok, desc, details=()):
        nonlocal n, failed
        n += 1
        print('%s %d - %s' % ('ok' if ok else 'not ok', n, desc))
        for d in details:
            print('#   ' + d)
        if not ok:
            failed += 1

    gn, hn = names(gen), names(hdr)
    gv, hv = values(gen, gn), values(hdr, hn)

    diff = ['%s: spec %r, header %s' % (k, gv[k], repr(hv[k]) if k in hv else 'missing')
            for k in gn if hv.get(k) != gv[k]]
    point(not diff, 'every constant the spec renders (%d) is in the header with the same value'
          % len(gn), diff)

    extra = [k for k in hn if k not in gv]
    unknown = [k for k in extra if k not in HELPERS]
    point(not unknown, 'every constant of the header is rendered from the spec (%d) or a known helper (%d)'
          % (len(hn) - len(extra), len(extra) - len(unknown)),
          ['%s = %r is not in the spec' % (k, hv[k]) for k in unknown])

    bad = []
    for k in extra:
        if k not in HELPERS:
            continue
        kind, prefix = HELPERS[k]
        members = [gv[m] for m in gn if prefix and m.startswith(prefix) and not m.startswith('__')]
        if kind == 'or':
            want = 0
            for m in members:
                want |= m
        elif kind == 'max':
            want = max(members) if members else None
        else:
            want = 0
        if hv[k] != want or (prefix and not members):
            bad.append('%s = %r, expected %r' % (k, hv[k], want))
    point(not bad, "the header's helpers agree with the spec's enums", bad)
    print('points %d' % (n - int(os.environ.get('TAP_START', '1')) + 1))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
