# SPDX-License-Identifier: GPL-2.0
"""Minimal generic netlink client for sipovl's selftests: builds raw
messages (so tests can send what sipovlctl never would) and decodes acks
with their extack messages."""
import os
import socket
import struct

NETLINK_GENERIC = 16
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 1, 4, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_DUMP_INTR = 0x10
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY, CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME = 3, 1, 2
NETLINK_EXT_ACK, NETLINK_CAP_ACK = 11, 10
NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_OFFS = 1, 2
SOL_NETLINK = 270
NLA_F_NESTED = 0x8000

# uapi/linux/sipovl.h
(CMD_INTERCEPT_ADD, CMD_INTERCEPT_REPLACE, CMD_INTERCEPT_DEL, CMD_INTERCEPT_GET,
 CMD_INTERCEPT_FLUSH, CMD_TABLE_BEGIN, CMD_TABLE_ADD, CMD_TABLE_COMMIT,
 CMD_TABLE_ABORT, CMD_SOCKET_REGISTER, CMD_SOCKET_UNREGISTER, CMD_SOURCES_SET,
 CMD_CONFIG_GET, CMD_STATS_GET, CMD_LOOKUP) = range(1, 16)
(A_INTERCEPT, A_TXN_ID, A_GENERATION, A_INTERCEPT_COUNT, A_SOCKET_FD, A_SOCKET,
 A_FAMILY, A_PROTOCOL, A_SOURCES, A_STATS, A_FLAGS, A_TUPLE) = range(1, 13)
(I_ID, I_NAME, I_PROTOCOLS, I_DESTINATIONS, I_PORTS, I_SOURCES, I_POLICY,
 I_STATS) = range(1, 9)
P_FAMILY, P_ADDR, P_LEN = 1, 2, 3
R_LOW, R_HIGH = 1, 2
T_FAMILY, T_PROTOCOL, T_SRC, T_DST, T_SPORT, T_DPORT = range(1, 7)
PROTO_TCP, PROTO_UDP = 1, 2


def attr(t, data):
    return struct.pack("=HH", 4 + len(data), t) + data + b"\0" * ((4 - len(data) % 4) % 4)


def u8(t, v): return attr(t, struct.pack("=B", v))
def u16(t, v): return attr(t, struct.pack("=H", v))
def u32(t, v): return attr(t, struct.pack("=I", v))
def s32(t, v): return attr(t, struct.pack("=i", v))
def string(t, s): return attr(t, s.encode() + b"\0")
def nest(t, *items): return attr(t | NLA_F_NESTED, b"".join(items))


def prefix(text, plen=None):
    addr, _, ln = text.partition("/")
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    raw = socket.inet_pton(fam, addr)
    ln = int(ln) if plen is None else plen
    return nest(0, u16(P_FAMILY, fam), attr(P_ADDR, raw), u8(P_LEN, ln))


def ports(lo, hi=None):
    return nest(0, u16(R_LOW, lo), *([u16(R_HIGH, hi)] if hi is not None else []))


def intercept(iid=None, name=None, protos=PROTO_UDP, dsts=("10.0.0.0/8",),
              prts=((5060, 5060),), srcs=(), policy=None, extra=b""):
    a = []
    if iid is not None:
        a.append(u32(I_ID, iid))
    if name is not None:
        a.append(string(I_NAME, name))
    if protos is not None:
        a.append(u32(I_PROTOCOLS, protos))
    if dsts is not None:
        a.append(nest(I_DESTINATIONS, *[d if isinstance(d, bytes) else prefix(d) for d in dsts]))
    if prts is not None:
        a.append(nest(I_PORTS, *[p if isinstance(p, bytes) else ports(*p) for p in prts]))
    if srcs:
        a.append(nest(I_SOURCES, *[prefix(s) for s in srcs]))
    if policy is not None:
        a.append(u8(I_POLICY, policy))
    return nest(A_INTERCEPT, *a, extra)


def parse_attrs(data):
    out = []
    while len(data) >= 4:
        ln, t = struct.unpack("=HH", data[:4])
        if ln < 4:
            break
        out.append((t & 0x3fff, data[4:ln]))
        data = data[(ln + 3) & ~3:]
    return out


class Error(Exception):
    def __init__(self, errno, msg):
        super().__init__(f"errno {errno} ({os.strerror(errno)}): {msg}")
        self.errno, self.msg = errno, msg


class Genl:
    def __init__(self, name="sipovl"):
        self.s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        self.s.bind((0, 0))
        self.s.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        self.s.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.seq = 1
        self.fam = None
        msgs = self.request(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, string(CTRL_ATTR_FAMILY_NAME, name))
        for t, v in parse_attrs(msgs[0][1]):
            if t == CTRL_ATTR_FAMILY_ID:
                self.fam = struct.unpack("=H", v)[0]

    def send(self, fam, cmd, payload=b"", flags=NLM_F_REQUEST | NLM_F_ACK, version=1, reserved=0):
        self.seq += 1
        body = struct.pack("=BBH", cmd, version, reserved) + payload
        self.s.send(struct.pack("=IHHII", 16 + len(body), fam, flags, self.seq, 0) + body)
        return self.seq

    def recv_until_ack(self, seq, dump=False):
        """Returns [(cmd, attrs_bytes, nlflags)] or raises Error."""
        out = []
        while True:
            data = self.s.recv(1 << 20)
            while data:
                ln, typ, flags, mseq, _ = struct.unpack("=IHHII", data[:16])
                payload = data[16:ln]
                data = data[(ln + 3) & ~3:]
                if mseq != seq:
                    continue
                if typ == NLMSG_ERROR:
                    err = -struct.unpack("=i", payload[:4])[0]
                    msg = ""
                    if flags & 0x200:  # NLM_F_ACK_TLVS
                        for t, v in parse_attrs(payload[20:]):
                            if t == NLMSGERR_ATTR_MSG:
                                msg = v.rstrip(b"\0").decode()
                    if err:
                        raise Error(err, msg)
                    return out
                if typ == NLMSG_DONE:
                    err = -struct.unpack("=i", payload[:4])[0] if len(payload) >= 4 else 0
                    if err:
                        raise Error(err, "dump failed")
                    if not dump:
                        continue
                    return out
                out.append((payload[0], payload[4:], flags))

    def request(self, fam, cmd, payload=b"", dump=False, **kw):
        flags = NLM_F_REQUEST | NLM_F_ACK | (NLM_F_DUMP if dump else 0)
        seq = self.send(fam, cmd, payload, flags=flags, **kw)
        return self.recv_until_ack(seq, dump)

    def cmd(self, cmd, *attrs, dump=False, **kw):
        return self.request(self.fam, cmd, b"".join(attrs), dump=dump, **kw)

    def ids(self):
        """Intercept ids of a full dump (restarts if interrupted)."""
        while True:
            msgs = self.cmd(CMD_INTERCEPT_GET, dump=True)
            if any(f & NLM_F_DUMP_INTR for _, _, f in msgs):
                continue
            res = []
            for _, a, _ in msgs:
                for t, v in parse_attrs(a):
                    if t == A_INTERCEPT:
                        for t2, v2 in parse_attrs(v):
                            if t2 == I_ID:
                                res.append(struct.unpack("=I", v2)[0])
            return res

    def generation(self):
        for t, v in parse_attrs(self.cmd(CMD_CONFIG_GET)[0][1]):
            if t == A_GENERATION:
                return struct.unpack("=I", v)[0]
