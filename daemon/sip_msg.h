/* SPDX-License-Identifier: GPL-2.0 */
/*
 * SIP message parser (RFC 3261 §7, §20), free of I/O: a read-only view of one message in a
 * caller's buffer. It never changes a byte of its input.
 *
 * - requests and responses; header names case-insensitive, compact forms (i f t v m l c k s e
 *   o r b u x y a j d n); folded header values (CRLF followed by SP/HT) are unfolded into the
 *   message's scratch area; CRLF, bare LF or bare CR line ends.
 * - multi-valued headers: the header list keeps each header line; sip_next_value() splits a
 *   comma list outside quotes and <>.
 * - framing: a datagram is one message (Content-Length, when present, bounds the body); on a
 *   stream (TCP) Content-Length delimits messages: sip_parse() says how many bytes the
 *   message took, or that more are needed. sip_stream (below) reassembles a byte stream.
 */
#ifndef SIPOVLD_SIP_MSG_H
#define SIPOVLD_SIP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIP_MAX_HDRS 96          /* header lines kept per message; more: malformed */
#define SIP_SCRATCH 2048         /* unfolded values of folded headers */
#define SIP_MSG_MAX 65535        /* largest message (RFC 3261 §18.1.1: UDP's limit) */

struct sip_str {
	const char *p;
	size_t n;
};

enum sip_hid {
	SH_OTHER, SH_CALL_ID, SH_FROM, SH_TO, SH_VIA, SH_CSEQ, SH_CONTACT, SH_CONTENT_LENGTH,
	SH_CONTENT_TYPE, SH_MAX_FORWARDS, SH_RECORD_ROUTE, SH_ROUTE, SH_REASON,
};

struct sip_hdr {
	enum sip_hid id;
	struct sip_str name, value; /* value: trimmed, unfolded */
};

struct sip_msg {
	bool request;
	struct sip_str method, uri;     /* request */
	unsigned status;                /* response: 100-699 */
	struct sip_str reason;
	struct sip_hdr hdr[SIP_MAX_HDRS];
	unsigned n_hdr;
	/* the headers a dialog needs (the first of each; empty when absent) */
	struct sip_str call_id, from, to, cseq_method, contact, content_type;
	uint32_t cseq;
	long content_length;            /* -1: absent */
	unsigned n_via;                 /* Via values, over all Via lines */
	struct sip_str body;
	size_t len;                     /* bytes of the message (start line to end of body) */
	char scratch[SIP_SCRATCH];
	size_t scratch_used;
};

enum sip_rc { SIP_OK = 0, SIP_MORE = 1, SIP_BAD = -1 };

/*
 * Parse one message at buf[0..len). stream: len bytes of a TCP stream (the message ends where
 * Content-Length says; SIP_MORE when it is not all there); otherwise a datagram. On SIP_BAD,
 * err names what was wrong. Leading CRLFs (keepalives, RFC 5626 §4.4.1) are skipped and
 * counted in m->len.
 */
enum sip_rc sip_parse(const char *buf, size_t len, bool stream, struct sip_msg *m, char *err, size_t errlen);

/* true when buf starts like a SIP message (a request line naming SIP/2.0, or a status line) */
bool sip_sniff(const char *buf, size_t len);

/* true when buf is only a keepalive (CRLFs, or the 4 zero bytes some NAT helpers send) */
bool sip_keepalive(const char *buf, size_t len);

/*
 * Comma lists (RFC 3261 §7.3.1): *pos starts at 0; each call gives the next value, trimmed,
 * commas inside "..." and <...> kept. false when there is no more.
 */
bool sip_next_value(struct sip_str list, size_t *pos, struct sip_str *v);

/* the value of parameter name (";name=value") of a From/To/Contact value; false when absent */
bool sip_hdr_param(struct sip_str v, const char *name, struct sip_str *out);

/* the URI of a name-addr or addr-spec (without <>, display name and header parameters) */
struct sip_str sip_hdr_uri(struct sip_str v);

/* user@host of a URI (scheme and URI parameters dropped) */
struct sip_str sip_uri_aor(struct sip_str uri);

/* case-insensitive comparison of s to the C string c */
bool sip_str_eq(struct sip_str s, const char *c);

/* copy s into dst (NUL-terminated, cut to n - 1, control bytes replaced by '?') */
void sip_str_copy(char *dst, size_t n, struct sip_str s);

/*
 * A byte stream (one direction of a TCP flow) cut into messages. sip_stream_feed() appends
 * what was read and calls cb for each complete message; a malformed message, or one longer
 * than SIP_MSG_MAX, stops the stream (nothing after it can be framed): broken is set and the
 * bytes are no longer kept. The buffer grows as needed, through alloc_cb when one is given
 * (a memory account), up to SIP_MSG_MAX.
 */
struct sip_stream {
	char *buf;
	size_t len, cap;
	bool broken;
};

typedef void (*sip_msg_cb)(void *arg, const struct sip_msg *m);
typedef void (*sip_bad_cb)(void *arg, const char *why);
/* returns false when the account refuses (the stream is then broken) */
typedef bool (*sip_mem_cb)(void *arg, long delta);

struct sip_stream_ops {
	sip_msg_cb msg;
	sip_bad_cb bad;
	sip_mem_cb mem;
	void *arg;
};

void sip_stream_feed(struct sip_stream *s, const void *data, size_t n, const struct sip_stream_ops *ops);
void sip_stream_free(struct sip_stream *s, const struct sip_stream_ops *ops);

#endif
