#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Drive Documentation/netlink/specs/sipovl.yaml with the kernel's YNL tool.

    ynl.py YNL_DIR SPEC SIPOVLCTL NETNS     (run inside NETNS)

YNL_DIR is scripts/ynl.sh's copy of Debian's linux-source-6.12 (cli.py, the
library, the schemas, nlctrl.yaml). The commands go through the tool's
cli.py where it can encode them; a request with an indexed array (the
intercept's destinations, ports and sources, the transparent sources) goes
through the same library, with its encoder of indexed arrays of nests when
the installed copy has one and with the one below (entry i as attribute i,
as later ynl versions send them) when it has none: 6.12's ynl only decodes
them. Every answer is compared with what sipovlctl -j says, and the family's
registration and policy as the running kernel reports them (nlctrl
getfamily, getpolicy) with what the spec says. TAP on stdout.
"""
import ipaddress
import json
import os
import socket
import subprocess
import sys
import tempfile

YNL, SPEC, CTL, NS = sys.argv[1:5]
TOOL = os.path.join(YNL, 'tools/net/ynl')
SCHEMA = os.path.join(YNL, 'Documentation/netlink/genetlink-legacy.yaml')
NLCTRL_SPEC = os.path.join(YNL, 'Documentation/netlink/specs/nlctrl.yaml')
sys.path.insert(0, TOOL)
from lib import YnlFamily, NlError, Netlink  # noqa: E402
import yaml  # noqa: E402

n = 0
failed = 0


def point(ok, desc, *details):
    global n, failed
    n += 1
    print('%s %d - %s' % ('ok' if ok else 'not ok', n, desc), flush=True)
    if not ok:
        failed += 1
        for d in details:
            for line in str(d).splitlines():
                print('#   ' + line)
    return ok


def cli(*args, spec=SPEC, schema=False):
    """cli.py with --output-json: (status, stdout, stderr)."""
    cmd = ['/usr/bin/python3', os.path.join(TOOL, 'cli.py'), '--spec', spec, '--output-json']
    cmd += ['--schema', SCHEMA] if schema else ['--no-schema']
    p = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def cli_json(*args, **kw):
    rc, out, err = cli(*args, **kw)
    if rc != 0:
        raise RuntimeError('cli.py %s: exit %d: %s %s' % (' '.join(args), rc, out, err))
    return json.loads(out)


def nlctrl_spec():
    """6.12's nlctrl.yaml with its policy attributes' pad and mask in the
    kernel's order: the kernel has NL_POLICY_TYPE_ATTR_PAD 11 and
    NL_POLICY_TYPE_ATTR_MASK 12, the spec the other way round, so ynl
    decodes a policy's mask as a pad and gives up."""
    with open(NLCTRL_SPEC) as f:
        first = f.readline()
        f.seek(0)
        s = yaml.safe_load(f)
    pa = [a for a in s['attribute-sets'] if a['name'] == 'policy-attrs'][0]['attributes']
    names = [a['name'] for a in pa]
    if names.index('pad') > names.index('mask'):
        i, j = names.index('mask'), names.index('pad')
        pa[i], pa[j] = pa[j], pa[i]
    path = os.path.join(tempfile.mkdtemp(), 'nlctrl.yaml')
    with open(path, 'w') as f:
        f.write(first)
        yaml.safe_dump(s, f, sort_keys=False)
    return path


def ctl(*args):
    p = subprocess.run([CTL, '-n', NS, '-j'] + list(args), capture_output=True, text=True, timeout=60)
    if p.returncode:
        raise RuntimeError('sipovlctl %s: exit %d: %s' % (' '.join(args), p.returncode, p.stderr))
    return json.loads(p.stdout)


class Family(YnlFamily):
    """The installed ynl library, with indexed arrays of nests encoded."""

    def _add_attr(self, space, name, value, search_attrs):
        attr = self.attr_sets[space][name]
        if attr['type'] != 'indexed-array' or hasattr(YnlFamily, '_encode_indexed_array'):
            return super()._add_attr(space, name, value, search_attrs)
        sub = attr['nested-attributes']
        payload = b''
        for i, entry in enumerate(value):
            inner = b''.join(self._add_attr(sub, k, v, None) for k, v in entry.items())
            payload += self._nla(i | Netlink.NLA_F_NESTED, inner)
        return self._nla(attr.value | Netlink.NLA_F_NESTED, payload)

    @staticmethod
    def _nla(nl_type, payload):
        import struct
        pad = b'\x00' * ((4 - len(payload) % 4) % 4)
        return struct.pack('HH', len(payload) + 4, nl_type) + payload + pad


def pfx(text):
    """A prefix nest's attributes for 'a.b.c.d/len'."""
    net = ipaddress.ip_network(text)
    return {'family': socket.AF_INET if net.version == 4 else socket.AF_INET6,
            'addr': net.network_address.packed, 'len': net.prefixlen}


def entries(arr):
    """An indexed array as ynl decodes it ([{index: attrs}]): the attrs."""
    return [list(e.values())[0] for e in arr or []]


def pfx_text(p):
    addr = bytes.fromhex(p['addr'])
    want = 4 if p['family'] == socket.AF_INET else 16
    if len(addr) != want:
        return 'bad address length %d' % len(addr)
    return '%s/%d' % (ipaddress.ip_address(addr), p['len'])


POLICY = ['drop', 'pass', 'reject']


def ynl_as_ctl(ic):
    """An intercept as ynl decodes it, in sipovlctl -j -s's words."""
    out = {'id': ic['id'], 'name': ic['name'],
           'protocols': [p for p in ('tcp', 'udp') if p in ic['protocols']],
           'destinations': [pfx_text(p) for p in entries(ic.get('destinations'))],
           'ports': [{'low': r['low'], 'high': r['high']} for r in entries(ic.get('ports'))],
           'sources': [pfx_text(p) for p in entries(ic.get('sources'))],
           'policy': ic['policy']}
    if 'stats' in ic:
        out['stats'] = ic['stats']
    return out


def same(desc, got, want):
    return point(got == want, desc, 'ynl:       %s' % json.dumps(got, sort_keys=True),
                 'sipovlctl: %s' % json.dumps(want, sort_keys=True))


def main():
    with open(SPEC) as f:
        spec = yaml.safe_load(f)
    sets = {s['name']: s for s in spec['attribute-sets']}
    ops = spec['operations']['list']
    print('TAP version 13')
    global NLCTRL
    NLCTRL = nlctrl_spec()

    # --- the spec and the tool ---
    rc, out, err = cli('--list-ops', schema=True)
    listed = sorted(line.split()[0] for line in out.splitlines() if line.strip())
    point(rc == 0 and listed == sorted(o['name'] for o in ops),
          'cli.py loads the spec, validated against the schema, and lists its %d operations' % len(ops),
          out, err)

    # --- the family as the kernel registered it (nlctrl) ---
    fam = cli_json('--do', 'getfamily', '--json', '{"family-name": "sipovl"}', spec=NLCTRL)
    point(fam.get('version') == spec.get('version', 1) and fam.get('hdrsize') == 0 and
          fam.get('maxattr') == len(sets['sipovl']['attributes']) - 1,
          'nlctrl: version %s, maxattr %s as in the spec' % (fam.get('version'), fam.get('maxattr')),
          json.dumps(fam))
    kops = {o['id']: set(o['flags']) for o in entries(fam.get('ops'))}
    want = {}
    for i, o in enumerate(ops):
        fl = {'cmd-cap-haspol'}
        fl |= {'cmd-cap-do'} if 'do' in o else set()
        fl |= {'cmd-cap-dump'} if 'dump' in o else set()
        fl |= set(o.get('flags', []))
        want[o.get('value', i + 1)] = fl
    point(kops == want, 'nlctrl: the kernel\'s %d commands, their ids, do/dump and permission flags are the spec\'s'
          % len(kops), 'kernel: %r' % kops, 'spec:   %r' % want)
    groups = sorted(g['name'] for g in entries(fam.get('mcast-groups')))
    point(groups == sorted(g['name'] for g in spec['mcast-groups']['list']),
          'nlctrl: multicast groups %s' % groups, json.dumps(fam))

    # --- the kernel's policy (nlctrl getpolicy) against the spec's types and checks ---
    dump = cli_json('--dump', 'getpolicy', '--json', '{"family-name": "sipovl"}', spec=NLCTRL)
    pols = {}
    for m in dump:
        if 'policy' in m:
            p = dict(m['policy'])
            pols.setdefault(p.pop('policy-id'), {})[p.pop('attr-id')] = p
    enums = {d['name']: d for d in spec.get('definitions', []) if d['type'] in ('enum', 'flags')}
    tmax = {'u8': 0xff, 'u16': 0xffff, 'u32': 0xffffffff, 'u64': (1 << 64) - 1}
    diffs = []
    checked = set()

    def expect(attr):
        t, ck = attr['type'], attr.get('checks', {})
        if 'output only' in attr.get('doc', ''):
            return None  # NLA_REJECT: getpolicy leaves it out
        if t in ('nest', 'indexed-array'):
            return {'type': 'nested' if t == 'nest' else 'nested-array',
                    'set': attr['nested-attributes']}
        if t == 'string':
            e = {'type': 'string' if ck.get('unterminated-ok') else 'nul-string'}
            if 'max-len' in ck:
                e['max-length'] = ck['max-len']
            return e
        if t == 'binary':
            e = {'type': 'binary'}
            if 'max-len' in ck:
                e['max-length'] = ck['max-len']
            return e
        if t == 's32':
            return {'type': t, 'min-value-s': ck.get('min', -(1 << 31)),
                    'max-value-s': ck.get('max', (1 << 31) - 1)}
        en = enums.get(attr.get('enum'))
        if en and (en['type'] == 'flags' or attr.get('enum-as-flags')):
            return {'type': t, 'mask': (1 << len(en['entries'])) - 1}
        hi = ck.get('max', len(en['entries']) - 1 if en else tmax[t])
        return {'type': t, 'min-value-u': ck.get('min', 0), 'max-value-u': hi}

    def walk(set_name, pid):
        if (set_name, pid) in checked:
            return
        checked.add((set_name, pid))
        kattrs = pols.get(pid, {})
        for i, attr in enumerate(sets[set_name]['attributes']):
            val = attr.get('value', i)
            k = kattrs.get(val)
            if attr['type'] in ('unused', 'pad'):
                if k is not None:
                    diffs.append('%s.%s: the kernel has a policy %r' % (set_name, attr['name'], k))
                continue
            e = expect(attr)
            if e is None:
                if k is not None:
                    diffs.append('%s.%s: output only, but the kernel has a policy %r'
                                 % (set_name, attr['name'], k))
                continue
            if k is None:
                diffs.append('%s.%s: no policy in the kernel (spec: %r)' % (set_name, attr['name'], e))
                continue
            k = dict(k)
            sub = e.pop('set', None)
            idx, maxtype = k.pop('policy-idx', None), k.pop('policy-maxtype', None)
            if k != e:
                diffs.append('%s.%s: kernel %r, spec %r' % (set_name, attr['name'], k, e))
            if sub:
                if maxtype != len(sets[sub]['attributes']) - 1:
                    diffs.append('%s.%s: the kernel\'s nested maxtype %s, the spec\'s set %s has %d'
                                 % (set_name, attr['name'], maxtype, sub, len(sets[sub]['attributes']) - 1))
                walk(sub, idx)
        extra = set(kattrs) - {a.get('value', i) for i, a in enumerate(sets[set_name]['attributes'])}
        if extra:
            diffs.append('%s: the kernel has policies for attributes %s the spec lacks' % (set_name, sorted(extra)))

    walk(spec['attribute-sets'][0]['name'], 0)
    point(not diffs and len(checked) >= 4,
          'nlctrl getpolicy: the kernel\'s policies of %d attribute sets (%s) are the spec\'s types and checks'
          % (len(checked), ', '.join(sorted(s for s, _ in checked))), *diffs)

    # --- status: config-get, stats-get ---
    cfg = cli_json('--do', 'config-get')
    c = ctl('config')
    same('config-get: generation, intercept count, sources as sipovlctl config',
         {'generation': cfg['generation'], 'intercepts': cfg['intercept-count'],
          'sources': [pfx_text(p) for p in entries(cfg.get('sources'))]},
         {k: c[k] for k in ('generation', 'intercepts', 'sources')})
    st = cli_json('--do', 'stats-get')['stats']
    g = ctl('stats')['global']
    mine = {k.replace('-', '_'): v for k, v in st.items()}
    n_counters = len(st)
    theirs = {k: v for k, v in g.items() if k not in ('drops',)}
    for k, v in g.get('drops', {}).items():
        theirs['drop_' + k if k != 'src_denied' else k] = v
    same('stats-get: the %d global counters as sipovlctl stats' % len(st), mine, theirs)

    # --- add (the library: indexed arrays), list, get, lookup, del ---
    y = Family(SPEC, '')
    sip = {'name': 'sip', 'protocols': ['tcp', 'udp'],
           'destinations': [pfx('10.2.0.0/16'), pfx('fd00:2::/48')],
           'ports': [{'low': 5060, 'high': 5061}, {'low': 5080}],
           'sources': [pfx('10.1.0.0/16')], 'policy': 'reject'}
    rep = y.do('intercept-add', {'intercept': sip})
    got = rep['intercept'][0] if rep else {}
    point(got.get('id') == 1 and got.get('name') == 'sip',
          'intercept-add (indexed arrays through the library%s): the reply carries id 1'
          % ('' if hasattr(YnlFamily, '_encode_indexed_array') else ', 6.12 lacks their encoder'), rep)
    subprocess.run([CTL, '-n', NS, 'intercept', 'add', 'web', 'id', '7', 'proto', 'tcp', 'addr',
                    '192.0.2.0/24', 'port', '443,8443', 'policy', 'pass'], check=True)
    lst = cli_json('--dump', 'intercept-get')
    mine = [ynl_as_ctl(m['intercept'][0]) for m in lst]
    same('intercept-get dump (cli.py): %d intercepts, every field and counter as sipovlctl -s intercept show'
         % len(mine), mine, ctl('-s', 'intercept', 'show'))
    one = cli_json('--do', 'intercept-get', '--json', '{"intercept": {"name": "web"}}')
    same('intercept-get do by name (cli.py)', ynl_as_ctl(one['intercept'][0]),
         ctl('-s', 'intercept', 'show', '7')[0] if isinstance(ctl('-s', 'intercept', 'show', '7'), list)
         else ctl('-s', 'intercept', 'show', '7'))
    tup = {'tuple': {'family': 2, 'protocol': 17, 'src': ipaddress.ip_address('10.1.0.2').packed.hex(),
                     'dst': ipaddress.ip_address('10.2.0.9').packed.hex(), 'dport': 5080}}
    lk = cli_json('--do', 'lookup', '--json', json.dumps(tup))
    point(lk['intercept'][0]['id'] == 1 and lk['generation'] == ctl('config')['generation'],
          'lookup (cli.py): 10.1.0.2 -> 10.2.0.9:5080 udp matches sip, generation of the table', lk)
    rc, out, err = cli('--do', 'intercept-del', '--json', '{"intercept": {"name": "web"}}')
    point(rc == 0 and [i['id'] for i in ctl('intercept', 'show')] == [1],
          'intercept-del by name (cli.py): sipovlctl sees only sip left', out, err)

    # --- errors: extack through the tool ---
    rc, out, err = cli('--do', 'intercept-get', '--json', '{"intercept": {"name": "nope"}}')
    point(rc == 1 and 'No such file or directory' in out and "'msg': 'no intercept named \"nope\"'" in out,
          'intercept-get of a missing name: ENOENT, extack "no intercept named \\"nope\\""', out, err)
    rc, out, err = cli('--do', 'intercept-del', '--json', '{"intercept": {"id": 0}}')
    point(rc == 1 and 'Numerical result out of range' in out and "'bad-attr': '.intercept.id'" in out
          and "'min-value': 1" in out,
          'intercept-del id 0: ERANGE from the policy, extack bad-attr .intercept.id and the policy (min 1)',
          out, err)
    rc, out, err = cli('--do', 'stats-get', '--json', '{"flags": ["socket-join"]}')
    point(rc == 1 and 'Invalid argument' in out and 'only SIPOVL_F_RESET_STATS applies' in out,
          'stats-get with socket-join: EINVAL, extack names the flag', out, err)

    # --- a transaction (one socket: the library), sources, sockets ---
    txn = y.do('table-begin', {})['txn-id']
    web = {'id': 9, 'name': 'web', 'protocols': 'tcp', 'destinations': [pfx('192.0.2.0/24')],
           'ports': [{'low': 443, 'high': 443}]}
    rtp = {'id': 3, 'name': 'rtp', 'protocols': 'udp', 'destinations': [pfx('10.3.0.0/16')],
           'ports': [{'low': 10000, 'high': 20000}], 'policy': 'pass'}
    y.do('table-add', {'txn-id': txn, 'intercept': [web, rtp]})
    com = y.do('table-commit', {'txn-id': txn, 'sources': [pfx('198.51.100.0/24')]})
    shown = ctl('intercept', 'show')
    point([i['name'] for i in shown] == ['rtp', 'web'] and com.get('sources', None) == [] and
          com['generation'] == ctl('config')['generation'] and
          ctl('config')['sources'] == ['198.51.100.0/24'],
          'table-begin/add (two intercepts in one message)/commit with sources: sipovlctl sees the new table',
          com, shown)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_IP, 19, 1)  # IP_TRANSPARENT
    s.bind(('127.0.0.1', 0))
    y.do('socket-register', {'socket-fd': s.fileno()})
    cfg = cli_json('--do', 'config-get')
    socks = [{'family': 'inet' if x['family'] == 2 else 'inet6', 'protocol': 'udp' if x['protocol'] == 17 else 'tcp',
              'port': x['port'], 'alive': bool(x['alive']), 'member': x['member'], 'members': x['members'],
              'inode': x['inode']} for x in cfg.get('socket', [])]
    same('socket-register (library), config-get (cli.py): the socket as sipovlctl config shows it',
         socks, ctl('config')['sockets'])
    rc, out, err = cli('--do', 'socket-unregister', '--json', '{"family": 2, "protocol": 17}')
    point(rc == 0 and ctl('config')['sockets'] == [], 'socket-unregister by family and protocol (cli.py)', out, err)
    rc, out, err = cli('--do', 'socket-register', '--json', '{"socket-fd": 0}')
    point(rc == 1 and "'msg':" in out, 'socket-register of the tool\'s stdin: refused with an extack message',
          out, err)
    s.close()
    st = cli_json('--do', 'stats-get', '--json', '{"flags": ["reset-stats"]}')
    point(len(st.get('stats', {})) == n_counters,
          'stats-get with reset-stats (cli.py): accepted, the %d counters read' % n_counters, st)
    rc, out, err = cli('--do', 'intercept-flush')
    point(rc == 0 and ctl('intercept', 'show') == [], 'intercept-flush (cli.py): sipovlctl shows no intercept',
          out, err)

    print('1..%d' % n)
    return 1 if failed else 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except (RuntimeError, NlError, subprocess.SubprocessError, KeyError, OSError) as e:
        print('not ok %d - unexpected error: %s' % (n + 1, e))
        for line in str(e).splitlines():
            print('#   ' + line)
        print('1..%d' % (n + 1))
        sys.exit(1)
