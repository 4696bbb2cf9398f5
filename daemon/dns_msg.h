/* SPDX-License-Identifier: GPL-2.0 */
/*
 * DNS messages (RFC 1035, EDNS0 RFC 6891, SRV RFC 2782, NAPTR RFC 3403): the queries sipovld's
 * responder receives and the answers it builds. Free of I/O (no sockets, no logging), so it is
 * unit-tested and fuzzed on the host (tests/daemon/dns_unit.c, dns_fuzz.c).
 *
 * Names are kept in presentation form: lower case, no trailing dot ("" is the root), bytes
 * other than letters, digits, '-', '_' and '*' written as \DDD (RFC 4343 escapes), so two names
 * are equal when their strings are.
 */
#ifndef SIPOVLD_DNS_MSG_H
#define SIPOVLD_DNS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HDRLEN 12
#define DNS_WIRE_NAME_MAX 255   /* bytes of a name on the wire, with its length octets */
#define DNS_LABEL_MAX 63
#define DNS_NAME_STRLEN 1024    /* presentation form of the longest name (\DDD escapes), with NUL */
#define DNS_UDP_PLAIN 512       /* UDP answers to queries without EDNS0 */
#define DNS_EDNS_OURS 1232      /* the UDP payload size we advertise and use at most */
#define DNS_TCP_MAX 65535
#define DNS_OPT_LEN 11          /* our OPT record: root name, type, class, ttl, rdlen 0 */

enum {
	DNS_T_A = 1, DNS_T_NS = 2, DNS_T_CNAME = 5, DNS_T_SOA = 6, DNS_T_PTR = 12, DNS_T_MX = 15,
	DNS_T_TXT = 16, DNS_T_AAAA = 28, DNS_T_SRV = 33, DNS_T_NAPTR = 35, DNS_T_OPT = 41,
	DNS_T_IXFR = 251, DNS_T_AXFR = 252, DNS_T_ANY = 255,
};
enum { DNS_C_IN = 1, DNS_C_ANY = 255 };
enum {
	DNS_R_NOERROR = 0, DNS_R_FORMERR = 1, DNS_R_SERVFAIL = 2, DNS_R_NXDOMAIN = 3, DNS_R_NOTIMP = 4,
	DNS_R_REFUSED = 5, DNS_R_BADVERS = 16, /* extended: needs the OPT record */
};
/* header flag bits (second 16-bit word) */
#define DNS_F_QR 0x8000
#define DNS_F_AA 0x0400
#define DNS_F_TC 0x0200
#define DNS_F_RD 0x0100
#define DNS_F_RA 0x0080
#define DNS_F_CD 0x0010
#define DNS_OPCODE(f) (((f) >> 11) & 0xf)

struct dns_query {
	uint16_t id, flags;             /* as received */
	char name[DNS_NAME_STRLEN];     /* presentation form (see above) */
	uint8_t qwire[DNS_WIRE_NAME_MAX]; /* the name as received (case kept), uncompressed */
	uint16_t qtype, qclass;
	bool has_question;              /* the question was read (error answers echo it) */
	bool edns;                      /* an OPT record came with the query */
	uint8_t edns_version;
	bool edns_do;                   /* DNSSEC OK bit */
	uint16_t udp_size;              /* the client's UDP payload size (512 without EDNS0) */
	size_t qend;                    /* offset of the end of the question section */
};

/*
 * Reads a query. Returns DNS_R_NOERROR, or the rcode to answer with (FORMERR: malformed,
 * NOTIMP: an opcode other than QUERY, BADVERS: EDNS version above 0), with what was read
 * (id, flags, the question when has_question) set for the error answer; or -1 when no answer
 * may be sent at all (shorter than a header, or a response). @err names what was wrong.
 */
int dns_parse_query(const uint8_t *msg, size_t len, struct dns_query *q, char *err, size_t errlen);

/*
 * The name at @off of @msg (compression pointers followed, each strictly backwards) into @out
 * in presentation form; *@next gets the offset after the name where it starts. 0 or -1.
 */
int dns_name_read(const uint8_t *msg, size_t len, size_t off, char *out, size_t outlen, size_t *next, char *err,
		  size_t errlen);
/* Presentation form @name ("a.b", "a.b.", "" or "." for the root, \DDD and \X escapes) into wire
 * form in @out. Returns the wire length or -1 (empty label, label over 63, name over 255). */
int dns_name_wire(const char *name, uint8_t *out, size_t outlen);
/* @name equals @pattern, or @pattern is "*.D" and @name is under D (not D itself). */
bool dns_name_match(const char *pattern, const char *name);
/* @name equals @zone or is under it. */
bool dns_name_under(const char *name, const char *zone);

/* ---- answers ---- */

struct dns_rr {
	const char *name;               /* owner; NULL: the question's name (a pointer to it) */
	uint16_t type;
	uint32_t ttl;
	union {
		uint8_t a[4];
		uint8_t aaaa[16];
		struct {
			uint16_t prio, weight, port;
			const char *target;
		} srv;
		struct {
			uint16_t order, pref;
			const char *flags, *services, *regexp, *replacement;
		} naptr;
		struct {
			const char *mname, *rname;
			uint32_t serial, refresh, retry, expire, minimum;
		} soa;
	};
};

enum dns_section { DNS_SEC_AN, DNS_SEC_NS, DNS_SEC_AR };

struct dns_resp {
	uint8_t *buf;
	size_t cap;                     /* room for records (the OPT record's room kept aside) */
	size_t len;
	uint16_t count[3];
	int section;                    /* last section written */
	bool truncated;                 /* a record of AN or NS did not fit: TC set, nothing more */
	bool opt;                       /* an OPT record is appended by dns_resp_finish */
	int rcode;
};

/*
 * Starts the answer to @q with @rcode (its low 4 bits in the header; BADVERS needs q->edns) in
 * @buf. @limit: the transport's bound (DNS_TCP_MAX for TCP, dns_udp_limit(q) for UDP). The
 * question is echoed when q->has_question. RA is set when @ra, AA when @aa. 0, or -1 when
 * @buf cannot hold even the header and question.
 */
int dns_resp_begin(struct dns_resp *r, uint8_t *buf, size_t bufsize, size_t limit, const struct dns_query *q,
		   int rcode, bool aa, bool ra);
/*
 * Appends a record to @sec (sections in order: AN, NS, AR). A record of AN or NS that does not
 * fit sets TC and ends the answer (later records are left out); one of AR that does not fit is
 * left out silently (RFC 2181 9). Returns 0 when written, 1 when left out, -1 when the record
 * is invalid (bad name, unknown type, sections out of order).
 */
int dns_resp_add(struct dns_resp *r, enum dns_section sec, const struct dns_rr *rr);
/* Writes the counts (and the OPT record when the query had EDNS0). Returns the length. */
size_t dns_resp_finish(struct dns_resp *r);
/* The UDP bound for the answer to @q: 512, or its EDNS0 size within [512, DNS_EDNS_OURS]. */
size_t dns_udp_limit(const struct dns_query *q);

/* A whole error answer (@rcode) to @q into @buf: the header, the question when it was read, and
 * OPT when the query had one. Returns the length, or 0 when @bufsize is too small. */
size_t dns_error(uint8_t *buf, size_t bufsize, const struct dns_query *q, int rcode);

/* ---- relay and TCP framing ---- */

static inline uint16_t dns_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void dns_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * A TCP stream's next message (RFC 7766 8: each message preceded by its 2-byte length). Returns
 * the bytes to consume (2 + *@msglen) when a whole message is in @buf[0..@len), 0 when more is
 * needed, or -1 for a zero-length message (the stream is to be closed).
 */
long dns_tcp_next(const uint8_t *buf, size_t len, size_t *msglen);

/* "A", "AAAA", ... or "TYPE123" in @buf */
const char *dns_type_name(uint16_t type, char *buf, size_t n);

#endif
