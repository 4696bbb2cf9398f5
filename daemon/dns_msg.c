// SPDX-License-Identifier: GPL-2.0
/*
 * DNS message parser and builder (I/O free, see dns_msg.h).
 */
#include <stdio.h>
#include <string.h>

#include "daemon/errf.h"
#include "daemon/dns_msg.h"

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static bool plain_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '*';
}

/* ------------------------------------------------------------------ names */

/* dns_name_read, and the name's wire form (case kept, uncompressed) into @wout when not NULL */
static int name_read(const uint8_t *msg, size_t len, size_t off, char *out, size_t outlen, size_t *next,
		     uint8_t *wout, char *err, size_t errlen)
{
	size_t o = 0, wire = 0, lim = off; /* a pointer must go before @lim: no loops */
	bool jumped = false;

	if (outlen < 1)
		return errf(err, errlen, "no room for the name");
	for (;;) {
		if (off >= len)
			return errf(err, errlen, "name runs past the end of the message");
		uint8_t l = msg[off];

		if ((l & 0xc0) == 0xc0) {
			if (off + 1 >= len)
				return errf(err, errlen, "compression pointer cut short");
			size_t ptr = (size_t)(l & 0x3f) << 8 | msg[off + 1];

			if (!jumped && next)
				*next = off + 2;
			jumped = true;
			if (ptr >= lim)
				return errf(err, errlen, "compression pointer to offset %zu does not point backwards", ptr);
			lim = ptr;
			off = ptr;
			continue;
		}
		if (l & 0xc0)
			return errf(err, errlen, "label type 0x%02x is not supported", l & 0xc0);
		wire += 1u + l;
		if (wire > DNS_WIRE_NAME_MAX)
			return errf(err, errlen, "name longer than %d bytes", DNS_WIRE_NAME_MAX);
		if (off + 1 + l > len)
			return errf(err, errlen, "label runs past the end of the message");
		if (wout)
			memcpy(wout + wire - 1 - l, msg + off, 1u + l);
		if (!l)
			break;
		if (o) {
			if (o + 1 >= outlen)
				return errf(err, errlen, "no room for the name");
			out[o++] = '.';
		}
		for (size_t i = 0; i < l; i++) {
			uint8_t c = msg[off + 1 + i];

			if (c >= 'A' && c <= 'Z')
				c = (uint8_t)(c + 32);
			if (plain_char(c)) {
				if (o + 1 >= outlen)
					return errf(err, errlen, "no room for the name");
				out[o++] = (char)c;
			} else {
				if (o + 4 >= outlen)
					return errf(err, errlen, "no room for the name");
				o += (size_t)snprintf(out + o, 5, "\\%03u", c);
			}
		}
		off += 1u + l;
	}
	out[o] = 0;
	if (!jumped && next)
		*next = off + 1;
	return 0;
}

int dns_name_read(const uint8_t *msg, size_t len, size_t off, char *out, size_t outlen, size_t *next, char *err,
		  size_t errlen)
{
	return name_read(msg, len, off, out, outlen, next, NULL, err, errlen);
}

int dns_name_wire(const char *name, uint8_t *out, size_t outlen)
{
	size_t o = 0, lpos;

	if (!strcmp(name, "."))
		name = "";
	while (*name) {
		lpos = o++;
		if (o > outlen)
			return -1;
		size_t l = 0;

		while (*name && *name != '.') {
			unsigned c = (unsigned char)*name++;

			if (c == '\\') {
				if (name[0] >= '0' && name[0] <= '9' && name[1] >= '0' && name[1] <= '9' && name[2] >= '0' &&
				    name[2] <= '9') {
					c = (unsigned)((name[0] - '0') * 100 + (name[1] - '0') * 10 + (name[2] - '0'));
					if (c > 255)
						return -1;
					name += 3;
				} else if (*name) {
					c = (unsigned char)*name++;
				} else {
					return -1;
				}
			}
			if (++l > DNS_LABEL_MAX || o >= outlen)
				return -1;
			out[o++] = (uint8_t)c;
		}
		if (!l)
			return -1; /* empty label: "a..b" or ".a" */
		out[lpos] = (uint8_t)l;
		if (*name == '.')
			name++;
	}
	if (o >= outlen || o + 1 > DNS_WIRE_NAME_MAX)
		return -1;
	out[o++] = 0;
	return (int)o;
}

bool dns_name_under(const char *name, const char *zone)
{
	size_t n = strlen(name), z = strlen(zone);

	if (!z)
		return true;
	if (n == z)
		return !strcmp(name, zone);
	/* the character before the zone's part must be a label separator (and not an escaped dot:
	 * names here never hold a raw '\' except in \DDD, so name[n-z-1] == '.' is a separator) */
	return n > z && name[n - z - 1] == '.' && !strcmp(name + n - z, zone);
}

bool dns_name_match(const char *pattern, const char *name)
{
	if (pattern[0] == '*' && pattern[1] == '.')
		return strcmp(name, pattern + 2) && dns_name_under(name, pattern + 2);
	return !strcmp(pattern, name);
}

/* ------------------------------------------------------------------ queries */

/* Skips a resource record at *@off (its name, fixed part and data). */
static int rr_skip(const uint8_t *msg, size_t len, size_t *off, size_t *fixed, char *name, char *err, size_t errlen)
{
	size_t o;

	if (dns_name_read(msg, len, *off, name, DNS_NAME_STRLEN, &o, err, errlen))
		return -1;
	if (o + 10 > len)
		return errf(err, errlen, "record cut short");
	*fixed = o;
	size_t rdlen = dns_get16(msg + o + 8);

	if (o + 10 + rdlen > len)
		return errf(err, errlen, "record data runs past the end of the message");
	*off = o + 10 + rdlen;
	return 0;
}

int dns_parse_query(const uint8_t *msg, size_t len, struct dns_query *q, char *err, size_t errlen)
{
	size_t off;
	char name[DNS_NAME_STRLEN];

	memset(q, 0, sizeof(*q));
	q->udp_size = DNS_UDP_PLAIN;
	if (len < DNS_HDRLEN)
		return errf(err, errlen, "%zu bytes: shorter than a DNS header", len);
	q->id = dns_get16(msg);
	q->flags = dns_get16(msg + 2);
	if (q->flags & DNS_F_QR)
		return errf(err, errlen, "a response, not a query");
	if (DNS_OPCODE(q->flags) != 0) {
		errf(err, errlen, "opcode %u is not implemented", DNS_OPCODE(q->flags));
		return DNS_R_NOTIMP;
	}
	uint16_t qd = dns_get16(msg + 4), an = dns_get16(msg + 6), ns = dns_get16(msg + 8), ar = dns_get16(msg + 10);

	if (qd != 1) {
		errf(err, errlen, "QDCOUNT %u (a query has one question)", qd);
		return DNS_R_FORMERR;
	}
	if (an || ns) {
		errf(err, errlen, "a query with %u answer and %u authority records", an, ns);
		return DNS_R_FORMERR;
	}
	if (name_read(msg, len, DNS_HDRLEN, q->name, sizeof(q->name), &off, q->qwire, err, errlen))
		return DNS_R_FORMERR;
	if (off + 4 > len) {
		errf(err, errlen, "question cut short");
		return DNS_R_FORMERR;
	}
	q->qtype = dns_get16(msg + off);
	q->qclass = dns_get16(msg + off + 2);
	q->qend = off + 4;
	q->has_question = true;
	if (q->qtype == DNS_T_OPT) {
		errf(err, errlen, "OPT is not a question type");
		return DNS_R_FORMERR;
	}
	off = q->qend;
	for (unsigned i = 0; i < ar; i++) {
		size_t f = 0;

		if (rr_skip(msg, len, &off, &f, name, err, errlen))
			return DNS_R_FORMERR;
		if (dns_get16(msg + f) != DNS_T_OPT)
			continue; /* TSIG and others: not ours to check */
		if (q->edns) {
			errf(err, errlen, "more than one OPT record");
			return DNS_R_FORMERR;
		}
		if (name[0]) {
			errf(err, errlen, "OPT record owner is not the root");
			return DNS_R_FORMERR;
		}
		q->edns = true;
		/* type, class = payload size, ttl = extended rcode, version, flags */
		q->udp_size = dns_get16(msg + f + 2);
		q->edns_version = msg[f + 5];
		q->edns_do = msg[f + 6] & 0x80;
	}
	if (off != len) {
		errf(err, errlen, "%zu bytes after the last record", len - off);
		return DNS_R_FORMERR;
	}
	if (q->edns && q->edns_version) {
		errf(err, errlen, "EDNS version %u (only 0 is known)", q->edns_version);
		return DNS_R_BADVERS;
	}
	return DNS_R_NOERROR;
}

/* ------------------------------------------------------------------ answers */

size_t dns_udp_limit(const struct dns_query *q)
{
	if (!q->edns || q->udp_size <= DNS_UDP_PLAIN)
		return DNS_UDP_PLAIN;
	return q->udp_size < DNS_EDNS_OURS ? q->udp_size : DNS_EDNS_OURS;
}

int dns_resp_begin(struct dns_resp *r, uint8_t *buf, size_t bufsize, size_t limit, const struct dns_query *q,
		   int rcode, bool aa, bool ra)
{
	size_t qlen = 0;
	uint8_t wire[DNS_WIRE_NAME_MAX + 1];
	int wl = 0;

	memset(r, 0, sizeof(*r));
	r->buf = buf;
	r->cap = bufsize < limit ? bufsize : limit;
	r->opt = q->edns;
	r->rcode = rcode;
	if (r->opt) {
		if (r->cap < DNS_OPT_LEN)
			return -1;
		r->cap -= DNS_OPT_LEN;
	}
	if (q->has_question) {
		wl = dns_name_wire(q->name, wire, sizeof(wire));
		if (wl < 0)
			return -1;
		if (q->qwire[0] || wl == 1) /* the name as it came, in its case (0x20 randomisation) */
			memcpy(wire, q->qwire, (size_t)wl);
		qlen = (size_t)wl + 4;
	}
	if (DNS_HDRLEN + qlen > r->cap)
		return -1;
	uint16_t f = DNS_F_QR | (q->flags & (DNS_F_RD | DNS_F_CD | 0x7800)) | (uint16_t)(rcode & 0xf);

	if (aa)
		f |= DNS_F_AA;
	if (ra)
		f |= DNS_F_RA;
	dns_put16(buf, q->id);
	dns_put16(buf + 2, f);
	memset(buf + 4, 0, 8);
	r->len = DNS_HDRLEN;
	if (q->has_question) {
		dns_put16(buf + 4, 1);
		memcpy(buf + r->len, wire, (size_t)wl);
		r->len += (size_t)wl;
		dns_put16(buf + r->len, q->qtype);
		dns_put16(buf + r->len + 2, q->qclass);
		r->len += 4;
	}
	return 0;
}

/* Appends <character-string> */
static int put_cstr(uint8_t *p, size_t room, const char *s)
{
	size_t l = s ? strlen(s) : 0;

	if (l > 255 || l + 1 > room)
		return -1;
	p[0] = (uint8_t)l;
	memcpy(p + 1, s, l);
	return (int)l + 1;
}

#define RDATA_MAX (2 * DNS_WIRE_NAME_MAX + 3 * 256 + 32)

/* The record's data into @tmp: its length, or -1 when the record is invalid. */
static int rdata(const struct dns_rr *rr, uint8_t tmp[RDATA_MAX])
{
	const size_t room = RDATA_MAX;
	size_t o = 0;
	int l;

	switch (rr->type) {
	case DNS_T_A:
		memcpy(tmp, rr->a, 4);
		o = 4;
		break;
	case DNS_T_AAAA:
		memcpy(tmp, rr->aaaa, 16);
		o = 16;
		break;
	case DNS_T_SRV: /* the target is never compressed (RFC 2782) */
		dns_put16(tmp, rr->srv.prio);
		dns_put16(tmp + 2, rr->srv.weight);
		dns_put16(tmp + 4, rr->srv.port);
		if (!rr->srv.target || (l = dns_name_wire(rr->srv.target, tmp + 6, room - 6)) < 0)
			return -1;
		o = 6 + (size_t)l;
		break;
	case DNS_T_NAPTR: /* nor the replacement (RFC 3403 4.1) */
		dns_put16(tmp, rr->naptr.order);
		dns_put16(tmp + 2, rr->naptr.pref);
		o = 4;
		if ((l = put_cstr(tmp + o, room - o, rr->naptr.flags)) < 0)
			return -1;
		o += (size_t)l;
		if ((l = put_cstr(tmp + o, room - o, rr->naptr.services)) < 0)
			return -1;
		o += (size_t)l;
		if ((l = put_cstr(tmp + o, room - o, rr->naptr.regexp)) < 0)
			return -1;
		o += (size_t)l;
		if ((l = dns_name_wire(rr->naptr.replacement ? rr->naptr.replacement : "", tmp + o, room - o)) < 0)
			return -1;
		o += (size_t)l;
		break;
	case DNS_T_SOA:
		if (!rr->soa.mname || !rr->soa.rname)
			return -1;
		if ((l = dns_name_wire(rr->soa.mname, tmp, room)) < 0)
			return -1;
		o = (size_t)l;
		if ((l = dns_name_wire(rr->soa.rname, tmp + o, room - o)) < 0)
			return -1;
		o += (size_t)l;
		put32(tmp + o, rr->soa.serial);
		put32(tmp + o + 4, rr->soa.refresh);
		put32(tmp + o + 8, rr->soa.retry);
		put32(tmp + o + 12, rr->soa.expire);
		put32(tmp + o + 16, rr->soa.minimum);
		o += 20;
		break;
	default:
		return -1;
	}
	return (int)o;
}

int dns_resp_add(struct dns_resp *r, enum dns_section sec, const struct dns_rr *rr)
{
	uint8_t owner[DNS_WIRE_NAME_MAX + 1];
	int ol;

	if ((int)sec < r->section || sec > DNS_SEC_AR)
		return -1;
	r->section = (int)sec;
	if (rr->name) {
		if ((ol = dns_name_wire(rr->name, owner, sizeof(owner))) < 0)
			return -1;
	} else {
		if (!dns_get16(r->buf + 4))
			return -1; /* no question to point to */
		owner[0] = 0xc0;
		owner[1] = DNS_HDRLEN;
		ol = 2;
	}
	uint8_t rd[RDATA_MAX];
	int dl = rdata(rr, rd);

	if (dl < 0)
		return -1;
	if (r->truncated)
		return 1;
	if (r->len + (size_t)ol + 10 + (size_t)dl > r->cap) {
		if (sec != DNS_SEC_AR)
			r->truncated = true;
		return 1;
	}
	uint8_t *p = r->buf + r->len;

	memcpy(p, owner, (size_t)ol);
	p += ol;
	memcpy(p + 10, rd, (size_t)dl);
	dns_put16(p, rr->type);
	dns_put16(p + 2, DNS_C_IN);
	put32(p + 4, rr->ttl);
	dns_put16(p + 8, (uint16_t)dl);
	r->len += (size_t)ol + 10 + (size_t)dl;
	r->count[sec]++;
	return 0;
}

size_t dns_resp_finish(struct dns_resp *r)
{
	uint16_t f = dns_get16(r->buf + 2);

	if (r->truncated)
		f |= DNS_F_TC;
	dns_put16(r->buf + 2, f);
	dns_put16(r->buf + 6, r->count[DNS_SEC_AN]);
	dns_put16(r->buf + 8, r->count[DNS_SEC_NS]);
	dns_put16(r->buf + 10, (uint16_t)(r->count[DNS_SEC_AR] + (r->opt ? 1 : 0)));
	if (r->opt) { /* room was kept aside by dns_resp_begin */
		uint8_t *p = r->buf + r->len;

		p[0] = 0;
		dns_put16(p + 1, DNS_T_OPT);
		dns_put16(p + 3, DNS_EDNS_OURS);
		p[5] = (uint8_t)(r->rcode >> 4); /* extended rcode: upper 8 bits */
		p[6] = 0;                        /* version */
		dns_put16(p + 7, 0);             /* flags (DO not set: no DNSSEC here) */
		dns_put16(p + 9, 0);
		r->len += DNS_OPT_LEN;
	}
	return r->len;
}

size_t dns_error(uint8_t *buf, size_t bufsize, const struct dns_query *q, int rcode)
{
	struct dns_resp r;
	struct dns_query qq = *q;

	if (rcode > 15 && !q->edns)
		rcode = DNS_R_FORMERR; /* an extended rcode cannot be said without OPT */
	if (dns_resp_begin(&r, buf, bufsize, DNS_TCP_MAX, &qq, rcode, false, true)) {
		qq.has_question = false; /* the name could not be written back: the header alone */
		if (dns_resp_begin(&r, buf, bufsize, DNS_TCP_MAX, &qq, rcode, false, true))
			return 0;
	}
	return dns_resp_finish(&r);
}

/* ------------------------------------------------------------------ framing, names */

long dns_tcp_next(const uint8_t *buf, size_t len, size_t *msglen)
{
	if (len < 2)
		return 0;
	*msglen = dns_get16(buf);
	if (!*msglen)
		return -1;
	if (len < 2 + *msglen)
		return 0;
	return (long)(2 + *msglen);
}

const char *dns_type_name(uint16_t type, char *buf, size_t n)
{
	static const struct {
		uint16_t t;
		const char *s;
	} names[] = {
		{ DNS_T_A, "A" }, { DNS_T_NS, "NS" }, { DNS_T_CNAME, "CNAME" }, { DNS_T_SOA, "SOA" },
		{ DNS_T_PTR, "PTR" }, { DNS_T_MX, "MX" }, { DNS_T_TXT, "TXT" }, { DNS_T_AAAA, "AAAA" },
		{ DNS_T_SRV, "SRV" }, { DNS_T_NAPTR, "NAPTR" }, { DNS_T_OPT, "OPT" }, { DNS_T_IXFR, "IXFR" },
		{ DNS_T_AXFR, "AXFR" }, { DNS_T_ANY, "ANY" },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].t == type)
			return names[i].s;
	snprintf(buf, n, "TYPE%u", type);
	return buf;
}
