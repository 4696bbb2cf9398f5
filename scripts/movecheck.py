#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Did a file split only move code? Compare the top-level C definitions of
kmod/ (or another directory) at two commits.

usage: scripts/movecheck.py [--diff] OLD_REV NEW_REV [DIR]   (DIR default: kmod)
       RENAME=a=b,c=d scripts/movecheck.py ...               (extra renames)

Every *.c and *.h of DIR at each commit is cut into top-level items (a
function with its body, a declaration up to ';', a preprocessor line with
its continuations, a macro call standing alone), each with the comments
directly above it. Functions are matched by name across files; a function
gone from OLD whose name, with a prefix, is new in NEW counts as renamed
(table_build -> sipovl_table_build) and the rename is applied to OLD's text,
comments included, before comparing. Reports the functions whose body
(from the first '{') differs (--diff: how), whose head differs (e.g. static
dropped), whose comment above differs, and the other items found on one
side only (includes, declarations, new file heads). Exit status 1 when a
body differs.
"""
import os, re, subprocess, sys, tempfile
from collections import Counter, defaultdict

def items(text):
    out = []            # (comment, code)
    i, n = 0, len(text)
    comment = []
    while i < n:
        # skip whitespace
        m = re.compile(r'\s+').match(text, i)
        if m:
            i = m.end()
            if i >= n:
                break
        if text.startswith('/*', i):
            j = text.index('*/', i) + 2
            comment.append(text[i:j]); i = j; continue
        if text.startswith('//', i):
            j = text.find('\n', i); j = n if j < 0 else j
            comment.append(text[i:j]); i = j; continue
        if text[i] == '#':
            j = i
            while True:
                k = text.find('\n', j); k = n if k < 0 else k
                if text[k - 1] == '\\':
                    j = k + 1; continue
                break
            out.append(('\n'.join(comment), text[i:k])); comment = []; i = k; continue
        # code item
        j, depth, pdepth = i, 0, 0
        while j < n:
            c = text[j]
            if text.startswith('/*', j):
                j = text.index('*/', j) + 2; continue
            if text.startswith('//', j):
                j = text.find('\n', j); continue
            if c in '"\'':
                k = j + 1
                while text[k] != c:
                    k += 2 if text[k] == '\\' else 1
                j = k + 1; continue
            if c == '(':
                pdepth += 1
            elif c == ')':
                pdepth -= 1
            elif c == '{':
                depth += 1
            elif c == '}':
                depth -= 1
                if depth == 0 and pdepth == 0:
                    k = j + 1
                    while k < n and text[k] in ' \t':
                        k += 1
                    if k < n and text[k] == ';':
                        j = k
                    j += 1; break
            elif c == ';' and depth == 0 and pdepth == 0:
                j += 1; break
            elif c == '\n' and depth == 0 and pdepth == 0:
                if re.fullmatch(r'[A-Z_][A-Z0-9_]*\([^;{]*\)\s*', text[i:j]):
                    break
            j += 1
        out.append(('\n'.join(comment), text[i:j])); comment = []; i = j
    if comment:
        out.append(('\n'.join(comment), ''))
    return out

def fname(code):
    if '{' not in code:
        return None
    head = code[:code.index('{')]
    if '(' not in head or '=' in head.split('(')[0] or head.lstrip().startswith('typedef'):
        return None
    m = re.search(r'([A-Za-z_]\w*)\s*\([^()]*(\([^()]*\)[^()]*)*\)\s*$', head.strip())
    return m.group(1) if m else None

def pool(d):
    funcs, other = {}, Counter()
    where = {}
    for f in sorted(os.listdir(d)):
        if not f.endswith(('.c', '.h')):
            continue
        for com, code in items(open(os.path.join(d, f)).read()):
            name = fname(code) if code else None
            if name:
                k = 2
                while name in funcs:    # #ifdef alternatives: name#2, ...
                    name = name.split('#')[0] + '#%d' % k; k += 1
                funcs[name] = (com, code); where[name] = f
            else:
                other[(com, code)] += 1
    return funcs, other, where

args = sys.argv[1:]
showdiff = '--diff' in args
args = [a for a in args if a != '--diff']
if len(args) not in (2, 3):
    sys.exit(__doc__)
sub_dir = args[2] if len(args) == 3 else 'kmod'
tmp = tempfile.TemporaryDirectory()
for side, rev in (('old', args[0]), ('new', args[1])):
    os.makedirs(os.path.join(tmp.name, side))
    tar = subprocess.run(['git', 'archive', rev, sub_dir], check=True, capture_output=True).stdout
    subprocess.run(['tar', '-x', '-C', os.path.join(tmp.name, side)], input=tar, check=True)
of, oo, ow = pool(os.path.join(tmp.name, 'old', sub_dir))
nf, no, nw = pool(os.path.join(tmp.name, 'new', sub_dir))
# Renames: a function gone from OLD whose name, with a prefix, is new in NEW
# (table_build -> sipovl_table_build). Applied to OLD's text, as words,
# before comparing; listed in the report.
ren = {}
for g in of:
    if g in nf or '#' in g:
        continue
    c = [x for x in nf if x not in of and '#' not in x and x.endswith('_' + g)]
    if len(c) == 1:
        ren[g] = c[0]
for x in filter(None, os.environ.get('RENAME', '').split(',')):
    a, b = x.split('=')
    ren[a] = b
if ren:
    rx = re.compile(r'\b(' + '|'.join(map(re.escape, ren)) + r')\b')
    sub = lambda t: rx.sub(lambda m: ren[m.group(1)], t)
    of2, ow2 = {}, {}
    for k, (com, code) in of.items():
        base, _, alt = k.partition('#')
        nk = ren.get(base, base) + ('#' + alt if alt else '')
        of2[nk] = (sub(com), sub(code)); ow2[nk] = ow[k]
    of, ow = of2, ow2
    oo = Counter({(sub(c), sub(d)): v for (c, d), v in oo.items()})
print('renamed (applied to old before comparing): ' + (', '.join(f'{a} -> {b}' for a, b in sorted(ren.items())) or 'none'))
same = moved = 0
report = defaultdict(list)
for name, (com, code) in of.items():
    if name not in nf:
        report['function gone'].append(name); continue
    ncom, ncode = nf[name]
    ob, nb = code[code.index('{'):], ncode[ncode.index('{'):]
    if ob != nb:
        report['BODY CHANGED'].append(f'{name} ({ow[name]} -> {nw[name]})')
        if showdiff:
            import difflib
            sys.stderr.writelines(difflib.unified_diff(code.splitlines(True), ncode.splitlines(True),
                                                       name + ' old', name + ' new', n=1))
        continue
    if code[:code.index('{')] != ncode[:ncode.index('{')]:
        report['head changed'].append(f"{name}: {' '.join(code[:code.index('{')].split())!r} -> {' '.join(ncode[:ncode.index('{')].split())!r}")
    if com != ncom:
        report['comment above changed'].append(f'{name} ({ow[name]} -> {nw[name]})')
    same += 1
    if ow[name] != nw[name]:
        moved += 1
for name in nf:
    if name not in of:
        report['function new'].append(f'{name} ({nw[name]})')
def short(k):
    com, code = k
    s = ' '.join(code.split()) or '(comment) ' + ' '.join(com.split())
    return s[:110]
for k in (oo - no):
    report['other item only in old'].append(short(k))
for k in (no - oo):
    report['other item only in new'].append(short(k))
print(f'functions: {len(of)} old, {len(nf)} new; {same} with the same body, {moved} of them in another file')
for k in ['BODY CHANGED', 'function gone', 'function new', 'head changed', 'comment above changed',
          'other item only in old', 'other item only in new']:
    v = report.get(k, [])
    print(f'{k}: {len(v)}')
    for x in v:
        print('   ', x)
sys.exit(1 if report.get('BODY CHANGED') else 0)
