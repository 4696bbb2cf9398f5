/* SPDX-License-Identifier: GPL-2.0 */
/*
 * OpenZiti channel v2 framing and edge message helpers.
 *
 * Pure functions over byte buffers: no I/O, no allocation except in zt_buf.
 * This is what the unit test and the libFuzzer target exercise.
 *
 * Wire format (all integers little-endian): 20-byte header
 *   magic 03 06 09 0C | int32 content type | int32 sequence |
 *   uint32 headers length | uint32 body length
 * followed by the headers block (repeated {int32 id, uint32 len, bytes}) and the body.
 */
#ifndef SIPOVL_ZT_MSG_H
#define SIPOVL_ZT_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZT_MSG_HDR_LEN 20
#define ZT_MSG_MAX_HEADERS (1u << 20)  /* bytes of header block we accept */
#define ZT_MSG_MAX_BODY (16u << 20)    /* bytes of body we accept */

/* channel content types */
enum {
	ZT_CT_HELLO = 0,
	ZT_CT_PING = 1,
	ZT_CT_RESULT = 2,
	ZT_CT_LATENCY = 3,
	ZT_CT_LATENCY_RESPONSE = 4,
	ZT_CT_HEARTBEAT = 5,
	/* edge content types */
	ZT_CT_CONNECT = 60783,
	ZT_CT_STATE_CONNECTED = 60784,
	ZT_CT_STATE_CLOSED = 60785,
	ZT_CT_DATA = 60786,
	ZT_CT_DIAL = 60787,
	ZT_CT_DIAL_SUCCESS = 60788,
	ZT_CT_DIAL_FAILED = 60789,
	ZT_CT_BIND = 60790,
	ZT_CT_UNBIND = 60791,
	ZT_CT_PROBE = 60793,
	ZT_CT_UPDATE_BIND = 60794,
	ZT_CT_HEALTH_EVENT = 60795,
	ZT_CT_TRACE_ROUTE = 60796,
	ZT_CT_TRACE_ROUTE_RESPONSE = 60797,
	ZT_CT_CONN_INSPECT_REQUEST = 60798,
	ZT_CT_CONN_INSPECT_RESPONSE = 60799,
	ZT_CT_BIND_SUCCESS = 60800,
	ZT_CT_UPDATE_TOKEN_SUCCESS = 60801,
	ZT_CT_UPDATE_TOKEN_FAILURE = 60802,
	ZT_CT_UPDATE_TOKEN = 60803,
};

/* header ids */
enum {
	ZT_H_CONNECTION_ID = 0,
	ZT_H_REPLY_FOR = 1,
	ZT_H_RESULT_SUCCESS = 2,
	ZT_H_HELLO_VERSION = 4,
	ZT_H_TYPE = 7,
	ZT_H_ID = 8,
	ZT_H_REFLECTED = 128, /* also the edge UUID header */
	ZT_H_CONN_ID = 1000,
	ZT_H_SEQ = 1001,
	ZT_H_SESSION_TOKEN = 1002,
	ZT_H_PUBLIC_KEY = 1003,
	ZT_H_COST = 1004,
	ZT_H_PRECEDENCE = 1005,
	ZT_H_TERMINATOR_IDENTITY = 1006,
	ZT_H_TERMINATOR_IDENTITY_SECRET = 1007,
	ZT_H_CALLER_ID = 1008,
	ZT_H_CRYPTO_METHOD = 1009,
	ZT_H_FLAGS = 1010,
	ZT_H_APP_DATA = 1011,
	ZT_H_ROUTER_PROVIDED_CONN_ID = 1012,
	ZT_H_HEALTH_STATUS = 1013,
	ZT_H_ERROR_CODE = 1014,
	ZT_H_LISTENER_ID = 1021,
	ZT_H_CONN_TYPE = 1022,
	ZT_H_SUPPORTS_INSPECT = 1023,
	ZT_H_SUPPORTS_BIND_SUCCESS = 1024,
	ZT_H_CONNECTION_MARKER = 1025,
	ZT_H_CIRCUIT_ID = 1026,
	ZT_H_STRUCTURED_ERROR = 1033,
	ZT_H_DIALER_IDENTITY_ID = 1034,   /* set by the router (ziti >= 2.0), not by the dialer */
	ZT_H_DIALER_IDENTITY_NAME = 1035,
	ZT_H_ROUTER_CAPABILITIES = 1039,
};

/* Flags header (1010) bits */
enum {
	ZT_FLAG_FIN = 1,
	ZT_FLAG_TRACE_UUID = 2,
	ZT_FLAG_MULTIPART = 4,
	ZT_FLAG_STREAM = 8,
	ZT_FLAG_MULTIPART_MSG = 16,
};

/* Precedence header values: ZT_PREC_* in zt.h (the listen options' precedence) */

/* A parsed message: a view into the caller's buffer (valid while the buffer is). */
struct zt_msg {
	int32_t content_type;
	int32_t seq;
	const uint8_t *headers; /* validated header block */
	uint32_t headers_len;
	const uint8_t *body;
	uint32_t body_len;
};

/* Parse results */
#define ZT_PARSE_OK 1
#define ZT_PARSE_MORE 0
#define ZT_PARSE_BAD_MAGIC (-1)
#define ZT_PARSE_TOO_BIG (-2)
#define ZT_PARSE_BAD_HEADERS (-3)

/*
 * Parse one message from buf[0..len). Returns ZT_PARSE_OK and sets *m and *consumed when a
 * whole message is present, ZT_PARSE_MORE when more bytes are needed (*need, if non-NULL,
 * is set to the total bytes needed when known), or a negative ZT_PARSE_* error.
 */
int zt_msg_parse(const uint8_t *buf, size_t len, struct zt_msg *m, size_t *consumed, size_t *need);
/*
 * The head of a message whose body zt_msg_parse refused as too large: once the fixed header
 * and the (bounded, validated) header block are in @buf, fills @m with them (no body),
 * @consumed with their length and @body_len with the body's declared length, which the
 * caller then skips. ZT_PARSE_MORE / _BAD_MAGIC / _TOO_BIG (header block) / _BAD_HEADERS.
 */
int zt_msg_parse_head(const uint8_t *buf, size_t len, struct zt_msg *m, size_t *consumed, uint32_t *body_len);
const char *zt_parse_strerror(int rc);

/* Header lookup. Returns true and sets *val and *len when header id is present. */
bool zt_msg_hdr(const struct zt_msg *m, int32_t id, const uint8_t **val, uint32_t *len);
bool zt_msg_hdr_u32(const struct zt_msg *m, int32_t id, uint32_t *v);
bool zt_msg_hdr_u64(const struct zt_msg *m, int32_t id, uint64_t *v);
bool zt_msg_hdr_u16(const struct zt_msg *m, int32_t id, uint16_t *v);
bool zt_msg_hdr_bool(const struct zt_msg *m, int32_t id, bool *v);
/* Iterate headers: *pos starts at 0. Returns false at end. */
bool zt_msg_hdr_next(const struct zt_msg *m, uint32_t *pos, int32_t *id, const uint8_t **val,
		     uint32_t *len);

/*
 * MULTIPART_MSG payload: a sequence of {uint16 LE length, bytes}. zt_multipart_next returns
 * 1 and the next part, 0 at the end, -1 if the payload is malformed.
 */
int zt_multipart_next(const uint8_t **p, size_t *left, const uint8_t **part, size_t *plen);

/* Growable output buffer with a consumed-prefix offset. */
struct zt_buf {
	uint8_t *data;
	size_t off; /* first unconsumed byte */
	size_t len; /* end of valid bytes */
	size_t cap;
};

void zt_buf_free(struct zt_buf *b);
int zt_buf_reserve(struct zt_buf *b, size_t extra);
int zt_buf_append(struct zt_buf *b, const void *p, size_t n);
void zt_buf_consume(struct zt_buf *b, size_t n);
static inline size_t zt_buf_used(const struct zt_buf *b) { return b->len - b->off; }

/*
 * Message builder writing straight into a zt_buf:
 *   zt_msgb_begin(); zt_msgb_hdr*(); ...; body = zt_msgb_body(n); fill body; (done)
 * Returns 0 or -ENOMEM. The builder records positions so the lengths can be patched.
 */
struct zt_msgb {
	struct zt_buf *b;
	size_t start;
};
int zt_msgb_begin(struct zt_msgb *mb, struct zt_buf *b, int32_t content_type, int32_t seq);
int zt_msgb_hdr(struct zt_msgb *mb, int32_t id, const void *val, uint32_t len);
int zt_msgb_hdr_u32(struct zt_msgb *mb, int32_t id, uint32_t v);
int zt_msgb_hdr_u64(struct zt_msgb *mb, int32_t id, uint64_t v);
int zt_msgb_hdr_u16(struct zt_msgb *mb, int32_t id, uint16_t v);
int zt_msgb_hdr_u8(struct zt_msgb *mb, int32_t id, uint8_t v);
int zt_msgb_hdr_str(struct zt_msgb *mb, int32_t id, const char *s);
/* Reserve n body bytes; returns a pointer to them (valid until the next buffer change). */
uint8_t *zt_msgb_body(struct zt_msgb *mb, uint32_t n);
/* Shrink the last reserved body to n bytes (n <= reserved). */
void zt_msgb_body_len(struct zt_msgb *mb, uint32_t n);
/* Abort: drop what was appended since begin. */
void zt_msgb_abort(struct zt_msgb *mb);

static inline void zt_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}
static inline uint32_t zt_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

const char *zt_ct_name(int32_t ct);

#endif
