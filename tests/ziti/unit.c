// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of the native edge client: channel v2 codec, MULTIPART_MSG splitting,
 * the dispatcher's answers to messages for unknown bindings/connections (no I/O: replies are
 * read back from the channel's output buffer), identity-file validation, and (unit_ctrl.c) the
 * context against a scripted controller that fails chosen requests.
 *
 * Prints "ok - desc" / "not ok - desc" lines (tests/ziti/run.sh numbers them).
 * With ZT_CORPUS=DIR it also writes seed inputs for the fuzz target.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <openssl/ecdsa.h>
#include <openssl/pem.h>
#include <openssl/evp.h>
#include <time.h>

#include "daemon/ziti/zt_internal.h"

static int failures;

void check(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void test_controller_faults(void); /* unit_ctrl.c */
void test_edge_error_codes(void); /* unit_errcode.c */
void test_terms_parse(void); /* unit_terms.c */
void check(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", cond ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond)
		failures++;
}

static const char *corpus;
static int ncorpus;

static void seed(const uint8_t *p, size_t n)
{
	char path[512];

	if (!corpus)
		return;
	snprintf(path, sizeof(path), "%s/seed-%02d", corpus, ncorpus++);
	FILE *f = fopen(path, "wb");

	if (f) {
		fwrite(p, 1, n, f);
		fclose(f);
	}
}

static void test_codec(void)
{
	struct zt_buf b = { 0 };
	struct zt_msgb mb;
	struct zt_msg m;
	size_t used = 0, need = 0;

	zt_msgb_begin(&mb, &b, ZT_CT_CONNECT, 7);
	zt_msgb_hdr_u32(&mb, ZT_H_CONN_ID, 0x01020304);
	zt_msgb_hdr_str(&mb, ZT_H_CALLER_ID, "caller");
	zt_msgb_hdr_u16(&mb, ZT_H_COST, 513);
	zt_msgb_hdr_u8(&mb, ZT_H_PRECEDENCE, 1);
	zt_msgb_hdr_u64(&mb, ZT_H_REFLECTED, 0x1122334455667788ull);
	memcpy(zt_msgb_body(&mb, 5), "token", 5);
	const uint8_t *w = b.data + b.off;
	size_t wl = zt_buf_used(&b);

	seed(w, wl);
	check(wl == 20 + (8 + 4) + (8 + 6) + (8 + 2) + (8 + 1) + (8 + 8) + 5, "builder: message length %zu", wl);
	check(w[0] == 3 && w[1] == 6 && w[2] == 9 && w[3] == 12, "builder: channel v2 magic");
	check(zt_get_le32(w + 4) == ZT_CT_CONNECT && zt_get_le32(w + 8) == 7, "builder: content type and sequence LE");
	check(zt_msg_parse(w, wl, &m, &used, NULL) == ZT_PARSE_OK && used == wl, "parse: complete message");
	uint32_t u32 = 0;
	uint16_t u16 = 0;
	uint64_t u64 = 0;
	bool bl = false;
	const uint8_t *v;
	uint32_t vl;

	check(zt_msg_hdr_u32(&m, ZT_H_CONN_ID, &u32) && u32 == 0x01020304, "parse: uint32 header");
	check(zt_msg_hdr_u16(&m, ZT_H_COST, &u16) && u16 == 513, "parse: uint16 header");
	check(zt_msg_hdr_bool(&m, ZT_H_PRECEDENCE, &bl) && bl, "parse: byte header");
	check(zt_msg_hdr_u64(&m, ZT_H_REFLECTED, &u64) && u64 == 0x1122334455667788ull, "parse: uint64 header");
	check(zt_msg_hdr(&m, ZT_H_CALLER_ID, &v, &vl) && vl == 6 && !memcmp(v, "caller", 6), "parse: string header");
	check(!zt_msg_hdr_u32(&m, ZT_H_CALLER_ID, &u32), "parse: typed getter rejects a wrong-sized header");
	check(!zt_msg_hdr(&m, ZT_H_APP_DATA, &v, &vl), "parse: absent header not found");
	check(m.body_len == 5 && !memcmp(m.body, "token", 5), "parse: body");
	int more = 1;

	for (size_t i = 0; i < wl; i++) {
		if (zt_msg_parse(w, i, &m, &used, &need) != ZT_PARSE_MORE)
			more = 0;
	}
	check(more, "parse: every truncation reports 'need more'");
	check(zt_msg_parse(w, 10, &m, &used, &need) == ZT_PARSE_MORE && need == 20, "parse: needs the 20-byte header first");
	check(zt_msg_parse(w, 30, &m, &used, &need) == ZT_PARSE_MORE && need == wl, "parse: then the whole message");

	uint8_t bad[64];

	memcpy(bad, w, 20);
	bad[3] = 0x0d; /* channel v3 magic */
	check(zt_msg_parse(bad, 20, &m, &used, NULL) == ZT_PARSE_BAD_MAGIC, "parse: wrong magic rejected");
	check(zt_msg_parse(bad, 2, &m, &used, NULL) == ZT_PARSE_MORE || bad[0] != 3, "parse: short prefix of a good magic waits");
	memcpy(bad, w, 20);
	zt_put_le32(bad + 16, ZT_MSG_MAX_BODY + 1);
	check(zt_msg_parse(bad, 20, &m, &used, NULL) == ZT_PARSE_TOO_BIG, "parse: oversized body rejected before buffering");
	memcpy(bad, w, 20);
	zt_put_le32(bad + 12, 10); /* headers block claims 10 bytes: id,len=100 */
	zt_put_le32(bad + 16, 0);
	zt_put_le32(bad + 20, 1000);
	zt_put_le32(bad + 24, 100);
	bad[28] = bad[29] = 0;
	check(zt_msg_parse(bad, 30, &m, &used, NULL) == ZT_PARSE_BAD_HEADERS, "parse: header length overrunning the block rejected");
	seed(bad, 30);

	/* two messages back to back, like a TLS record carrying both */
	struct zt_buf two = { 0 };

	zt_buf_append(&two, w, wl);
	zt_buf_append(&two, w, wl);
	check(zt_msg_parse(two.data, two.len, &m, &used, NULL) == ZT_PARSE_OK && used == wl &&
		      zt_msg_parse(two.data + used, two.len - used, &m, &used, NULL) == ZT_PARSE_OK,
	      "parse: consecutive messages");
	zt_buf_free(&two);
	zt_buf_free(&b);
}

static void test_multipart(void)
{
	uint8_t p[] = { 3, 0, 'a', 'b', 'c', 0, 0, 2, 0, 'd', 'e' };
	const uint8_t *cur = p, *part;
	size_t left = sizeof(p), plen;
	int n = 0, ok = 1;

	while (zt_multipart_next(&cur, &left, &part, &plen) == 1) {
		if (n == 0)
			ok &= plen == 3 && !memcmp(part, "abc", 3);
		if (n == 1)
			ok &= plen == 0;
		if (n == 2)
			ok &= plen == 2 && !memcmp(part, "de", 2);
		n++;
	}
	check(ok && n == 3 && left == 0, "multipart: three parts (one empty) split");
	uint8_t q[] = { 5, 0, 'a', 'b' };

	cur = q;
	left = sizeof(q);
	check(zt_multipart_next(&cur, &left, &part, &plen) == -1, "multipart: part longer than payload rejected");
	uint8_t r[] = { 1 };

	cur = r;
	left = 1;
	check(zt_multipart_next(&cur, &left, &part, &plen) == -1, "multipart: dangling length byte rejected");
}

/* parse the first message in ch->out */
static int out_msg(struct zt_chan *ch, struct zt_msg *m)
{
	size_t used;

	return zt_buf_used(&ch->out) &&
	       zt_msg_parse(ch->out.data + ch->out.off, zt_buf_used(&ch->out), m, &used, NULL) == ZT_PARSE_OK;
}

static void test_dispatch(void)
{
	struct zt_ctx ctx = { 0 };
	struct zt_chan ch = { 0 };
	struct zt_buf in = { 0 };
	struct zt_msgb mb;
	struct zt_msg m, r;
	size_t used;
	uint32_t u32;

	ctx.o.log_level = -1;
	ch.ctx = &ctx;
	ch.name = "test";
	ch.state = ZT_CH_IDLE; /* flush does nothing: replies stay in ch.out */

	/* a router Dial for a binding we do not have */
	zt_msgb_begin(&mb, &in, ZT_CT_DIAL, 42);
	zt_msgb_hdr_u32(&mb, ZT_H_CONN_ID, 777);
	zt_msgb_hdr_u32(&mb, ZT_H_ROUTER_PROVIDED_CONN_ID, 0x80000001u);
	memcpy(zt_msgb_body(&mb, 3), "tok", 3);
	seed(in.data, in.len);
	zt_msg_parse(in.data, in.len, &m, &used, NULL);
	zt_chan_dispatch(&ch, &m);
	check(out_msg(&ch, &r) && r.content_type == ZT_CT_DIAL_FAILED, "dispatch: Dial for unknown binding answered DialFailed");
	check(zt_msg_hdr_u32(&r, ZT_H_REPLY_FOR, &u32) && u32 == 42, "dispatch: DialFailed is a reply to the Dial");
	check(zt_msg_hdr_u32(&r, ZT_H_CONN_ID, &u32) && u32 == 777, "dispatch: DialFailed carries the binding conn id");
	check(r.body_len > 0 && memmem(r.body, r.body_len, "not hosted", 10), "dispatch: DialFailed gives a reason");
	zt_buf_free(&ch.out);
	zt_buf_free(&in);

	/* data for an unknown connection: tell the router it is closed */
	zt_msgb_begin(&mb, &in, ZT_CT_DATA, 5);
	zt_msgb_hdr_u32(&mb, ZT_H_CONN_ID, 99);
	memcpy(zt_msgb_body(&mb, 2), "hi", 2);
	seed(in.data, in.len);
	zt_msg_parse(in.data, in.len, &m, &used, NULL);
	zt_chan_dispatch(&ch, &m);
	check(out_msg(&ch, &r) && r.content_type == ZT_CT_STATE_CLOSED && zt_msg_hdr_u32(&r, ZT_H_CONN_ID, &u32) &&
		      u32 == 99,
	      "dispatch: Data for unknown conn answered StateClosed");
	zt_buf_free(&ch.out);
	zt_buf_free(&in);

	/* StateClosed for an unknown connection: no answer (no ping-pong) */
	zt_msgb_begin(&mb, &in, ZT_CT_STATE_CLOSED, 6);
	zt_msgb_hdr_u32(&mb, ZT_H_CONN_ID, 98);
	zt_msg_parse(in.data, in.len, &m, &used, NULL);
	zt_chan_dispatch(&ch, &m);
	check(zt_buf_used(&ch.out) == 0, "dispatch: StateClosed for unknown conn not answered");
	zt_buf_free(&in);

	/* latency probe from the peer: reply echoing the reflected header */
	zt_msgb_begin(&mb, &in, ZT_CT_LATENCY, 9);
	zt_msgb_hdr_u64(&mb, ZT_H_REFLECTED, 12345);
	seed(in.data, in.len);
	zt_msg_parse(in.data, in.len, &m, &used, NULL);
	zt_chan_dispatch(&ch, &m);
	uint64_t u64 = 0;

	check(out_msg(&ch, &r) && r.content_type == ZT_CT_RESULT && zt_msg_hdr_u32(&r, ZT_H_REPLY_FOR, &u32) &&
		      u32 == 9 && zt_msg_hdr_u64(&r, ZT_H_REFLECTED, &u64) && u64 == 12345,
	      "dispatch: latency probe answered with reflected header");
	zt_buf_free(&ch.out);
	zt_buf_free(&in);

	/* a message without ConnId is ignored, not a crash */
	zt_msgb_begin(&mb, &in, ZT_CT_DATA, 10);
	zt_msg_parse(in.data, in.len, &m, &used, NULL);
	zt_chan_dispatch(&ch, &m);
	check(zt_buf_used(&ch.out) == 0, "dispatch: Data without ConnId ignored");
	zt_buf_free(&in);
	free(ch.conns);
}

/* ---- one oversized message: only its connection is refused, the channel and others live ---- */

struct ov_conn {
	size_t got;
	char data[16];
	bool closed;
	int err;
	char why[200];
};

static void ov_on_data(struct zt_conn *c, const uint8_t *p, size_t n, void *u)
{
	struct ov_conn *o = u;

	(void)c;
	if (o->got + n <= sizeof(o->data))
		memcpy(o->data + o->got, p, n);
	o->got += n;
}

static void ov_on_close(struct zt_conn *c, int err, const char *why, void *u)
{
	struct ov_conn *o = u;

	(void)c;
	o->closed = true;
	o->err = err;
	snprintf(o->why, sizeof(o->why), "%s", why ? why : "");
}

/* a channel that is up, with no socket, for feeding zt_chan_input() by hand */
static void chan_up(struct zt_chan *ch, struct zt_ctx *ctx)
{
	ch->ctx = ctx;
	ch->name = "test";
	ch->fd = -1;
	ch->state = ZT_CH_UP;
	zt_timer_init(&ch->latency_timer, NULL, NULL);
	zt_timer_init(&ch->backoff_timer, NULL, NULL);
	zt_timer_init(&ch->io_timer, NULL, NULL);
	zt_timer_init(&ch->token_timer, NULL, NULL);
	zt_task_init(&ch->flush_task, NULL, NULL);
}

/* a connection up on @ch, with id @id */
static void conn_up(struct zt_conn *c, struct zt_chan *ch, uint32_t id)
{
	c->ctx = ch->ctx;
	c->ch = ch;
	c->id = id;
	c->state = ZT_C_UP;
	zt_timer_init(&c->timer, NULL, NULL);
}

static void test_oversize(void)
{
	struct zt_ctx ctx = { 0 };
	struct zt_chan ch = { 0 };
	struct zt_conn c1 = { 0 }, c2 = { 0 };
	struct ov_conn o1 = { 0 }, o2 = { 0 };
	const struct zt_conn_cbs cbs = { .on_data = ov_on_data, .on_close = ov_on_close };
	struct zt_buf wire = { 0 };
	struct zt_msgb mb;
	const size_t big = ZT_MSG_MAX_BODY + 4096;

	ctx.loop = zt_loop_new();
	ctx.o.log_level = -1;
	ctx.o.backoff_max_ms = 1000;
	chan_up(&ch, &ctx);
	struct zt_conn *cv[2] = { &c1, &c2 };
	struct ov_conn *ov[2] = { &o1, &o2 };

	for (int i = 0; i < 2; i++) {
		cv[i]->ctx = &ctx;
		cv[i]->ch = &ch;
		cv[i]->id = (uint32_t)i + 1;
		cv[i]->state = ZT_C_UP;
		cv[i]->cbs = cbs;
		cv[i]->user = ov[i];
		zt_timer_init(&cv[i]->timer, NULL, NULL);
		zt_chan_map_add(&ch, cv[i]->id, cv[i], 0);
	}
	/* the router sends conn 1 a Data message larger than the limit, then conn 2 a small one */
	zt_msgb_begin(&mb, &wire, ZT_CT_DATA, 1);
	zt_msgb_hdr_u32(&mb, ZT_H_CONN_ID, 1);
	memset(zt_msgb_body(&mb, big), 'x', big);
	zt_msgb_begin(&mb, &wire, ZT_CT_DATA, 2);
	zt_msgb_hdr_u32(&mb, ZT_H_CONN_ID, 2);
	memcpy(zt_msgb_body(&mb, 5), "hello", 5);
	seed(wire.data, 64); /* the head of the oversized message, for the fuzz corpus */
	/* as the socket delivers it: 64 KiB reads */
	int gone = 0;

	for (size_t off = 0; off < wire.len && !gone; off += 65536) {
		size_t n = wire.len - off < 65536 ? wire.len - off : 65536;

		zt_buf_append(&ch.in, wire.data + off, n);
		gone = zt_chan_input(&ch);
	}
	check(!gone && ch.state == ZT_CH_UP, "oversize: a %zu-byte message (limit %u) does not fail the channel",
	      big, ZT_MSG_MAX_BODY);
	check(o2.got == 5 && !memcmp(o2.data, "hello", 5) && !o2.closed,
	      "oversize: the next message, for another connection, is delivered (%zu bytes%s)", o2.got,
	      o2.closed ? ", closed" : "");
	check(o1.closed && o1.err && strstr(o1.why, "exceeds") && !strstr(o1.why, "router connection lost") && o1.got == 0,
	      "oversize: the connection it was for is closed with the reason (%s)", o1.why);
	struct zt_msg r;
	uint32_t u32 = 0;

	check(out_msg(&ch, &r) && r.content_type == ZT_CT_STATE_CLOSED && zt_msg_hdr_u32(&r, ZT_H_CONN_ID, &u32) &&
		      u32 == 1,
	      "oversize: the router is told that connection is closed (StateClosed)");
	check(ch.in.cap <= (size_t)ZT_MSG_MAX_HEADERS + (1u << 20), "oversize: the input buffer stayed bounded (%zu bytes)",
	      ch.in.cap);
	for (int i = 0; i < 2; i++)
		if (cv[i]->state != ZT_C_DEAD)
			zt_chan_map_del(&ch, cv[i]->id);
	zt_buf_free(&wire);
	zt_buf_free(&ch.in);
	zt_buf_free(&ch.out);
	zt_timer_stop(ctx.loop, &ch.backoff_timer);
	free(ch.conns);
	zt_loop_free(ctx.loop);
}

/* ---- the RTP path from the router allocates nothing per datagram (issue 16 item 3) ---- */

/* every allocation made by the code linked into zt-unit (-Wl,--wrap: ziti.mk) */
static unsigned long n_alloc;
void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n)
{
	n_alloc++;
	return __real_malloc(n);
}
void *__wrap_calloc(size_t k, size_t n)
{
	n_alloc++;
	return __real_calloc(k, n);
}
void *__wrap_realloc(void *p, size_t n)
{
	n_alloc++;
	return __real_realloc(p, n);
}

/* clock reads by the code linked into zt-unit (-Wl,--wrap=clock_gettime: ziti.mk) */
static unsigned long n_clock;
int __real_clock_gettime(clockid_t id, struct timespec *ts);
int __wrap_clock_gettime(clockid_t id, struct timespec *ts)
{
	n_clock++;
	return __real_clock_gettime(id, ts);
}

/* what the e2e test's connection received: each datagram checked byte by byte */
struct e2e_rx {
	unsigned n, bad, big, close_at; /* close_at: the datagram whose callback closes (0: none) */
	size_t big_len;
	bool busy_in_cb;
	struct zt_ctx *ctx;
};

static void e2e_on_data(struct zt_conn *c, const uint8_t *p, size_t n, void *u)
{
	struct e2e_rx *r = u;

	r->busy_in_cb |= r->ctx->plain_busy;
	if (n > 172) { /* the large message: every byte its offset's low bits */
		for (size_t i = 0; i < n; i++)
			r->bad += p[i] != (uint8_t)(i * 7);
		r->big++;
		r->big_len = n;
		return;
	}
	for (size_t i = 0; i < n; i++)
		r->bad += p[i] != (uint8_t)r->n;
	r->bad += n != 172;
	if (++r->n == r->close_at) /* as zt_close() from the callback marks it */
		c->closed_by_app = true;
}

static void e2e_on_close(struct zt_conn *c, int err, const char *why, void *u)
{
	(void)c;
	(void)err;
	(void)why;
	(void)u;
}

static void test_e2e_noalloc(void)
{
	struct zt_ctx ctx = { 0 };
	struct zt_chan ch = { 0 };
	struct zt_conn c = { 0 };
	struct e2e_rx rx = { .ctx = &ctx };
	const struct zt_conn_cbs cbs = { .on_data = e2e_on_data, .on_close = e2e_on_close };
	crypto_secretstream_xchacha20poly1305_state tx;
	uint8_t hdr[crypto_secretstream_xchacha20poly1305_HEADERBYTES], rtp[172];
	const size_t big = 100000; /* over the 64 KiB the context keeps */
	uint8_t *bigm = malloc(big);
	struct zt_buf wire = { 0 };
	struct zt_msgb mb;
	enum { N = 200 };

	ctx.loop = zt_loop_new();
	ctx.o.log_level = -1;
	chan_up(&ch, &ctx);
	conn_up(&c, &ch, 7);
	c.cbs = cbs;
	c.user = &rx;
	c.encrypted = true;
	c.datagram = true;
	zt_chan_map_add(&ch, c.id, &c, 0);
	randombytes_buf(c.rx_key, sizeof(c.rx_key));
	crypto_secretstream_xchacha20poly1305_init_push(&tx, hdr, c.rx_key);
	/* the peer's stream header, then N datagrams of RTP size (datagram i: bytes i), as the router sends them */
	zt_msgb_begin(&mb, &wire, ZT_CT_DATA, 1);
	zt_msgb_hdr_u32(&mb, ZT_H_CONN_ID, c.id);
	memcpy(zt_msgb_body(&mb, sizeof(hdr)), hdr, sizeof(hdr));
	for (int i = 0; i < N; i++) {
		memset(rtp, i, sizeof(rtp));
		zt_msgb_begin(&mb, &wire, ZT_CT_DATA, (uint32_t)i + 2);
		zt_msgb_hdr_u32(&mb, ZT_H_CONN_ID, c.id);
		crypto_secretstream_xchacha20poly1305_push(&tx, zt_msgb_body(&mb, sizeof(rtp) + crypto_secretstream_xchacha20poly1305_ABYTES),
							   NULL, rtp, sizeof(rtp), NULL, 0, 0);
	}
	zt_buf_append(&ch.in, wire.data, wire.len);
	rx.close_at = N;
	unsigned long before = n_alloc;
	int gone = zt_chan_input(&ch);
	unsigned long allocs = n_alloc - before;

	check(!gone && rx.n == N && !rx.bad && rx.busy_in_cb,
	      "e2e: %d encrypted datagrams decrypted into the context's buffer and delivered, every byte as sent (%u, %u bad bytes)",
	      N, rx.n, rx.bad);
	check(allocs <= 2, "e2e: delivering them allocated %lu times (at most 2: a reused buffer, not one per datagram)",
	      allocs);
	check(!ctx.plain_busy && ctx.plain_cap <= 64 * 1024,
	      "e2e: the buffer is free after the deliveries, the last closed from its callback (%zu bytes kept)",
	      ctx.plain_cap);
	/* a message over 64 KiB gets a buffer of its own (the context keeps at most 64 KiB) */
	zt_buf_free(&wire);
	for (size_t i = 0; i < big; i++)
		bigm[i] = (uint8_t)(i * 7);
	zt_msgb_begin(&mb, &wire, ZT_CT_DATA, 500);
	zt_msgb_hdr_u32(&mb, ZT_H_CONN_ID, c.id);
	crypto_secretstream_xchacha20poly1305_push(&tx, zt_msgb_body(&mb, big + crypto_secretstream_xchacha20poly1305_ABYTES),
						   NULL, bigm, big, NULL, 0, 0);
	zt_buf_append(&ch.in, wire.data, wire.len);
	c.closed_by_app = false;
	rx.busy_in_cb = false;
	gone = zt_chan_input(&ch);
	check(!gone && rx.big == 1 && rx.big_len == big && !rx.bad && !rx.busy_in_cb && ctx.plain_cap <= 64 * 1024 &&
		      !ctx.plain_busy,
	      "e2e: a %zu-byte message decrypted in its own buffer (the context's kept at %zu bytes)",
	      rx.big_len, ctx.plain_cap);
	zt_chan_map_del(&ch, c.id);
	free(bigm);
	zt_buf_free(&wire);
	zt_buf_free(&ch.in);
	zt_buf_free(&ch.out);
	free(ch.conns);
	zt_ctx_scratch_free(&ctx);
	zt_loop_free(ctx.loop);
}

/*
 * ... and the RTP path towards the router neither (issue 16 item 3): a lossy connection's
 * datagrams wait in the channel's datagram queue, each in a node from the channel's free list,
 * and are encrypted into ch->out when it is refilled. N writes, each encoded and consumed as
 * the socket would take it; every message is decrypted back and compared.
 */
static void test_dgq_noalloc(void)
{
	struct zt_ctx ctx = { 0 };
	struct zt_chan ch = { 0 };
	struct zt_conn c = { 0 };
	crypto_secretstream_xchacha20poly1305_state rx;
	uint8_t rtp[172], plain[2048];
	unsigned got = 0, bad = 0, hdrs = 0;
	enum { N = 200 };

	ctx.loop = zt_loop_new();
	ctx.o.log_level = -1;
	chan_up(&ch, &ctx);
	ch.in_dispatch = true; /* zt_write's flush waits for the end of the batch: refilled below */
	conn_up(&c, &ch, 9);
	c.encrypted = true;
	c.datagram = c.lossy = true;
	randombytes_buf(c.tx_key, sizeof(c.tx_key));
	zt_conn_send_crypto_header(&c);

	unsigned long before = 0;

	for (int i = 0; i <= N; i++) { /* round 0 warms up: the first node, ch->out's buffer */
		if (i == 1)
			before = n_alloc;
		memset(rtp, i, sizeof(rtp));
		if (zt_write(&c, rtp, sizeof(rtp)))
			break;
		zt_chan_refill(&ch);
		for (struct zt_msg m; out_msg(&ch, &m);) {
			size_t used;
			uint32_t id = 0;

			zt_msg_parse(ch.out.data + ch.out.off, zt_buf_used(&ch.out), &m, &used, NULL);
			if (m.content_type != ZT_CT_DATA || !zt_msg_hdr_u32(&m, ZT_H_CONN_ID, &id) || id != c.id) {
				bad++;
			} else if (m.body_len == crypto_secretstream_xchacha20poly1305_HEADERBYTES && !hdrs) {
				hdrs++;
				bad += crypto_secretstream_xchacha20poly1305_init_pull(&rx, m.body, c.tx_key) != 0;
			} else if (m.body_len != sizeof(rtp) + crypto_secretstream_xchacha20poly1305_ABYTES ||
				   crypto_secretstream_xchacha20poly1305_pull(&rx, plain, NULL, NULL, m.body, m.body_len, NULL,
									      0) != 0) {
				bad++;
			} else {
				for (size_t k = 0; k < sizeof(rtp); k++)
					bad += plain[k] != (uint8_t)got;
				got++;
			}
			zt_buf_consume(&ch.out, used);
		}
	}
	unsigned long allocs = n_alloc - before;

	check(got == N + 1 && !bad && hdrs == 1 && !ch.dgq,
	      "dgq: %d encrypted datagrams queued, encoded and decrypted back in order, every byte as written (%u, %u bad)",
	      N + 1, got, bad);
	check(allocs == 0, "dgq: queuing and encoding %d datagrams after the first allocated %lu times (0: nodes reused)",
	      N, allocs);
	/* a datagram over a node's size gets a node of its own, freed when spent (not kept) */
	static uint8_t big[4000];

	zt_write(&c, big, sizeof(big));
	zt_chan_refill(&ch);
	check(ch.dg_nfree == 1 && ch.dg_free && !ch.dgq, "dgq: a %zu-byte datagram used a node of its own (%u kept)",
	      sizeof(big), ch.dg_nfree);
	zt_buf_free(&ch.out);
	zt_chan_sched_free(&ch);
	check(!ch.dg_free && !ch.dg_nfree, "dgq: the channel's end frees the kept nodes");
	zt_loop_free(ctx.loop);
}

/*
 * The batch clock (issue 16 item 3, clock reads amortised): in a loop batch, the datagrams
 * a channel read delivers take their times from the batch (zt_loop_now_ms) instead of a
 * clock read each; outside a batch the clock is read.
 */
struct bc_probe {
	struct zt_chan *ch;
	struct zt_loop *l;
	struct zt_timer t;
	unsigned long clocks, allocs;
	uint64_t batch, t1, t2, batch_ms;
	unsigned delivered;
	bool ran;
};

static void bc_on_data(struct zt_conn *c, const uint8_t *p, size_t n, void *u)
{
	struct bc_probe *b = u;

	(void)c;
	(void)p;
	(void)n;
	b->delivered++;
}

static void bc_timer(void *arg)
{
	struct bc_probe *b = arg;
	uint64_t spin;

	b->ran = true;
	b->batch = zt_loop_batch(b->l);
	b->t1 = zt_loop_now_us(b->l);
	for (spin = zt_now_us(); zt_now_us() - spin < 2000;)
		;
	b->t2 = zt_loop_now_us(b->l);
	b->batch_ms = zt_loop_now_ms(b->l);
	unsigned long c0 = n_clock;

	zt_chan_input(b->ch);
	b->clocks = n_clock - c0;
	zt_loop_stop(b->l);
}

static void test_batch_clock(void)
{
	struct zt_ctx ctx = { 0 };
	struct zt_chan ch = { 0 };
	struct zt_conn c = { 0 };
	struct bc_probe b = { .ch = &ch };
	struct zt_buf wire = { 0 };
	struct zt_msgb mb;
	uint8_t rtp[172] = { 0x80 };
	enum { N = 200 };

	ctx.loop = b.l = zt_loop_new();
	ctx.o.log_level = -1;
	chan_up(&ch, &ctx);
	conn_up(&c, &ch, 5);
	c.datagram = true;
	c.cbs = (struct zt_conn_cbs){ .on_data = bc_on_data, .on_close = e2e_on_close };
	c.user = &b;
	zt_chan_map_add(&ch, c.id, &c, 0);
	for (int i = 0; i < N; i++) {
		zt_msgb_begin(&mb, &wire, ZT_CT_DATA, (uint32_t)i + 1);
		zt_msgb_hdr_u32(&mb, ZT_H_CONN_ID, c.id);
		memcpy(zt_msgb_body(&mb, sizeof(rtp)), rtp, sizeof(rtp));
	}
	zt_buf_append(&ch.in, wire.data, wire.len);
	zt_timer_init(&b.t, bc_timer, &b);
	zt_timer_start(b.l, &b.t, 0);
	zt_loop_run(b.l, 5000);
	check(b.ran && b.batch > 0 && b.t1 == b.t2,
	      "batch clock: one value through a batch (batch %llu; read 2 ms apart: %llu and %llu us)",
	      (unsigned long long)b.batch, (unsigned long long)b.t1, (unsigned long long)b.t2);
	check(b.delivered == N && b.clocks == 0 && c.last_rx_ms == b.batch_ms,
	      "batch clock: %u datagrams delivered in a batch read the clock %lu times (0), their time the batch's (%s)",
	      b.delivered, b.clocks, c.last_rx_ms == b.batch_ms ? "yes" : "no");
	uint64_t a = zt_loop_now_us(b.l), spin;

	for (spin = zt_now_us(); zt_now_us() - spin < 1000;)
		;
	check(zt_loop_batch(b.l) == 0 && zt_loop_now_us(b.l) - a >= 1000 && zt_loop_now_us(NULL) >= a,
	      "batch clock: outside a batch it is the clock (batch 0, advanced %llu us over a 1 ms wait)",
	      (unsigned long long)(zt_loop_now_us(b.l) - a));
	zt_chan_map_del(&ch, c.id);
	zt_buf_free(&wire);
	zt_buf_free(&ch.in);
	zt_buf_free(&ch.out);
	free(ch.conns);
	zt_loop_free(b.l);
}

/* ---- end-of-iteration tasks (the channel's coalesced write) ---- */

struct task_probe {
	struct zt_loop *l;
	struct zt_task t, t2;
	int runs, runs2, order, t_order, timer_order;
	bool posted_in_timer, repost;
};

static void probe_task(void *arg)
{
	struct task_probe *p = arg;

	p->runs++;
	p->t_order = ++p->order;
	if (p->repost) { /* a task posting a task: it runs in the same pass */
		p->repost = false;
		zt_task_post(p->l, &p->t2);
	}
}

static void probe_task2(void *arg)
{
	((struct task_probe *)arg)->runs2++;
}

static void probe_timer(void *arg)
{
	struct task_probe *p = arg;

	p->posted_in_timer = zt_task_post(p->l, &p->t);
	zt_task_post(p->l, &p->t); /* twice: still runs once */
	p->timer_order = ++p->order;
}

static void post_cancel_timer(void *arg)
{
	struct task_probe *p = arg;

	zt_task_post(p->l, &p->t);
	zt_task_cancel(p->l, &p->t);
	zt_task_post(p->l, &p->t2);
	zt_task_cancel(p->l, &p->t2); /* the list's tail: posting after it must still work */
	zt_task_post(p->l, &p->t2);
}

static void stop_timer(void *arg)
{
	zt_loop_stop(arg);
}

static void test_tasks(void)
{
	struct task_probe p = { 0 };
	struct zt_timer t1, t2, t3;

	p.l = zt_loop_new();
	zt_task_init(&p.t, probe_task, &p);
	zt_task_init(&p.t2, probe_task2, &p);
	check(!zt_task_post(p.l, &p.t) && !p.t.queued, "tasks: posting outside a loop iteration says 'do it now'");
	zt_timer_init(&t1, probe_timer, &p);
	zt_timer_init(&t3, stop_timer, p.l);
	p.repost = true;
	zt_timer_start(p.l, &t1, 0);
	zt_timer_start(p.l, &t3, 20);
	zt_loop_run(p.l, 1000);
	check(p.posted_in_timer && p.runs == 1 && p.t_order > p.timer_order,
	      "tasks: posted twice in an iteration, run once at its end (runs %d)", p.runs);
	check(p.runs2 == 1, "tasks: a task posted by a task runs in the same pass");
	/* cancelled before the end of the iteration: never runs */
	p.runs = p.runs2 = 0;
	zt_timer_init(&t2, post_cancel_timer, &p);
	zt_timer_start(p.l, &t2, 0);
	zt_timer_start(p.l, &t3, 20);
	zt_loop_run(p.l, 1000);
	check(p.runs == 0 && p.runs2 == 1, "tasks: a cancelled task does not run; re-posted after a cancel it does");
	zt_task_post(p.l, &p.t); /* not in an iteration: refused */
	check(!p.t.queued, "tasks: nothing queued after the loop returned");
	zt_loop_free(p.l);
}

/* ---- a Dial held for a later answer (hosting: answer once the target connected) ---- */

struct held_probe {
	struct zt_dial_req *held;
	bool hold;
};

static void held_on_dial(struct zt_listener *l, struct zt_dial_req *req, void *user)
{
	struct held_probe *hp = user;

	(void)l;
	if (hp->hold)
		hp->held = zt_dial_req_hold(req);
}

/*
 * A router's Dial for the listener of conn 777 (fake_listener): with app_data "{}", or with a
 * caller id, and with a 2.0 router's DialerIdentityId/Name (1034/1035) when @v2
 */
static void fake_dial(struct zt_chan *ch, int32_t seq, const char *caller, bool v2)
{
	struct zt_buf in = { 0 };
	struct zt_msgb mb;
	struct zt_msg m;
	size_t used;

	zt_msgb_begin(&mb, &in, ZT_CT_DIAL, seq);
	zt_msgb_hdr_u32(&mb, ZT_H_CONN_ID, 777);
	zt_msgb_hdr_u32(&mb, ZT_H_ROUTER_PROVIDED_CONN_ID, 0x80000000u + (uint32_t)seq);
	if (caller)
		zt_msgb_hdr_str(&mb, ZT_H_CALLER_ID, caller);
	else
		zt_msgb_hdr(&mb, ZT_H_APP_DATA, (const uint8_t *)"{}", 2);
	if (v2) {
		zt_msgb_hdr_str(&mb, ZT_H_DIALER_IDENTITY_ID, "Zq3id9");
		zt_msgb_hdr_str(&mb, ZT_H_DIALER_IDENTITY_NAME, "ep-phone-1");
	}
	memcpy(zt_msgb_body(&mb, 3), "tok", 3);
	zt_msg_parse(in.data, in.len, &m, &used, NULL);
	ch->in_dispatch = true; /* replies stay in ch->out (no TLS here) */
	zt_chan_dispatch(ch, &m);
	zt_buf_free(&in);
}

static void held_dial(struct zt_chan *ch, int32_t seq)
{
	fake_dial(ch, seq, NULL, false);
}

/* a bound listener (conn 777) on an up channel "test", its dials to @on_dial with @user */
static void fake_listener(struct zt_ctx *ctx, struct zt_chan *ch, struct zt_listener *l, struct zt_session *sess,
			  void (*on_dial)(struct zt_listener *, struct zt_dial_req *, void *), void *user)
{
	ctx->o.log_level = -1;
	ctx->o.backoff_max_ms = 1000;
	ctx->loop = zt_loop_new();
	ch->ctx = ctx;
	ch->name = "test";
	ch->state = ZT_CH_UP;
	l->ctx = ctx;
	l->service = "svc";
	l->cbs.on_dial = on_dial;
	l->user = user;
	l->state = ZT_L_BOUND;
	l->session = sess;
	l->ch = ch;
	l->id = 777;
	zt_timer_init(&l->timer, NULL, l);
	zt_chan_map_add(ch, 777, l, 1);
}

static void test_held_dial(void)
{
	struct zt_ctx ctx = { 0 };
	struct zt_chan ch = { 0 };
	struct zt_session sess = { .token = "tok", .refs = 100 };
	struct held_probe hp = { .hold = true };
	struct zt_listener l = { 0 };
	struct zt_msg r;
	uint32_t u32;

	fake_listener(&ctx, &ch, &l, &sess, held_on_dial, &hp);

	held_dial(&ch, 42);
	check(hp.held && zt_buf_used(&ch.out) == 0 && zt_dial_req_valid(hp.held),
	      "held dial: on_dial returns without an answer; nothing sent yet");
	check(hp.held && !zt_dial_req_app_data(hp.held, &(size_t){ 0 }) && !zt_dial_req_caller(hp.held),
	      "held dial: app_data and caller are not kept");
	zt_reject(hp.held, "connect 10.2.0.5:5060: Connection refused");
	check(out_msg(&ch, &r) && r.content_type == ZT_CT_DIAL_FAILED && zt_msg_hdr_u32(&r, ZT_H_REPLY_FOR, &u32) &&
		      u32 == 42 && zt_msg_hdr_u32(&r, ZT_H_CONN_ID, &u32) && u32 == 777 &&
		      memmem(r.body, r.body_len, "Connection refused", 18),
	      "held dial: a later reject is a DialFailed replying to the Dial, with the reason");
	zt_buf_free(&ch.out);

	/* the binding goes away while the dial is held (channel still up): router told at once */
	hp.held = NULL;
	held_dial(&ch, 43);
	struct zt_dial_req *h1 = hp.held;

	held_dial(&ch, 44);
	struct zt_dial_req *h2 = hp.held;

	check(h1 && h2 && l.held == h2 && h2->hnext == h1, "held dial: two held dials linked on the listener");
	zt_listener_on_msg(&l, &ch,
			   &(struct zt_msg){ .content_type = ZT_CT_STATE_CLOSED, .body = (const uint8_t *)"gone", .body_len = 4 });
	int n = 0;
	size_t off = ch.out.off;

	while (out_msg(&ch, &r)) {
		size_t used = 0;

		zt_msg_parse(ch.out.data + ch.out.off, zt_buf_used(&ch.out), &r, &used, NULL);
		if (r.content_type == ZT_CT_DIAL_FAILED && memmem(r.body, r.body_len, "binding closed", 14))
			n++;
		ch.out.off += used;
	}
	ch.out.off = off;
	check(n == 2 && !l.held, "held dial: binding closed -> DialFailed('binding closed') for each held dial (%d)", n);
	check(h1 && h2 && !zt_dial_req_valid(h1) && !zt_dial_req_valid(h2), "held dial: held requests went stale");
	check(h1 && !zt_accept(h1, NULL, NULL), "held dial: accepting a stale request fails (and frees it)");
	size_t before = zt_buf_used(&ch.out);

	if (h2)
		zt_reject(h2, "too late");
	check(zt_buf_used(&ch.out) == before, "held dial: rejecting a stale request sends nothing");
	zt_buf_free(&ch.out);
	zt_timer_stop(ctx.loop, &l.timer);
	zt_session_put(l.session);
	free(ch.conns);
	zt_loop_free(ctx.loop);
}

/* who dials: the router's word (ziti >= 2.0: DialerIdentityId/Name, 1034/1035) apart from the
 * caller id the dialer chose; read during on_dial (a held request keeps neither) */
struct dialer_probe {
	bool called, auth, held_auth;
	char id[64], name[64], caller[64];
};

static void dialer_on_dial(struct zt_listener *l, struct zt_dial_req *req, void *user)
{
	struct dialer_probe *p = user;
	const char *c = zt_dial_req_caller(req);
	struct zt_dial_req *h;
	char id[64], name[64];

	(void)l;
	p->called = true;
	p->auth = zt_dial_req_dialer(req, p->id, sizeof(p->id), p->name, sizeof(p->name));
	snprintf(p->caller, sizeof(p->caller), "%s", c ? c : "");
	h = zt_dial_req_hold(req);
	p->held_auth = h && zt_dial_req_dialer(h, id, sizeof(id), name, sizeof(name));
	if (h)
		zt_reject(h, "test");
}

static void test_dialer_identity(void)
{
	struct zt_ctx ctx = { 0 };
	struct zt_chan ch = { 0 };
	struct zt_session sess = { .token = "tok", .refs = 100 };
	struct dialer_probe p = { 0 };
	struct zt_listener l = { 0 };

	fake_listener(&ctx, &ch, &l, &sess, dialer_on_dial, &p);
	fake_dial(&ch, 50, "someone-else", true);
	check(p.called && p.auth && !strcmp(p.id, "Zq3id9") && !strcmp(p.name, "ep-phone-1") &&
	      !strcmp(p.caller, "someone-else"),
	      "dialer: a 2.0 router's DialerIdentityId/Name (1034/1035) read apart from the self-set caller id "
	      "(id '%s', name '%s', caller '%s')", p.id, p.name, p.caller);
	check(p.called && !p.held_auth, "dialer: a held request no longer has them (read before zt_dial_req_hold)");
	memset(&p, 0, sizeof(p));
	fake_dial(&ch, 51, "someone-else", false);
	check(p.called && !p.auth && !p.id[0] && !p.name[0] && !strcmp(p.caller, "someone-else"),
	      "dialer: a router before 2.0 sends neither: not authenticated, the caller id only");
	zt_chan_map_del(&ch, 777);
	zt_buf_free(&ch.out);
	zt_timer_stop(ctx.loop, &l.timer);
	zt_session_put(l.session);
	free(ch.conns);
	zt_loop_free(ctx.loop);
}

static char tmpdir[] = "/tmp/zt-unit.XXXXXX";

static const char *write_file(const char *name, const char *text)
{
	static char path[600];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
	return path;
}

static void expect_id_error(const char *name, const char *json, const char *want)
{
	char err[512] = "";
	struct zt_identity *id = zt_identity_load(write_file(name, json), err, sizeof(err));

	check(!id && strstr(err, want), "identity %s: error '%s'", name, err);
	zt_identity_free(id);
}

static void test_identity(void)
{
	char err[512] = "";

	if (!mkdtemp(tmpdir)) {
		check(0, "mkdtemp");
		return;
	}
	check(!zt_identity_load("/nonexistent/id.json", err, sizeof(err)) && strstr(err, "cannot read"),
	      "identity: missing file: '%s'", err);
	expect_id_error("notjson.json", "{ this is not json", "not a JSON object");
	expect_id_error("array.json", "[1,2]", "not a JSON object");
	expect_id_error("noapi.json", "{\"id\":{\"cert\":\"pem:x\",\"key\":\"pem:y\",\"ca\":\"pem:z\"}}", "missing field 'ztAPI'");
	expect_id_error("noid.json", "{\"ztAPI\":\"https://127.0.0.1:1280\"}", "missing object 'id'");
	expect_id_error("nocert.json", "{\"ztAPI\":\"https://h:1\",\"id\":{\"key\":\"pem:y\",\"ca\":\"pem:z\"}}", "missing field 'id.cert'");
	expect_id_error("nokey.json", "{\"ztAPI\":\"https://h:1\",\"id\":{\"cert\":\"pem:y\",\"ca\":\"pem:z\"}}", "missing field 'id.key'");
	expect_id_error("noca.json", "{\"ztAPI\":\"https://h:1\",\"id\":{\"cert\":\"pem:y\",\"key\":\"pem:z\"}}", "missing field 'id.ca'");
	expect_id_error("http.json", "{\"ztAPI\":\"http://h:1\",\"id\":{\"cert\":\"pem:a\",\"key\":\"pem:b\",\"ca\":\"pem:c\"}}", "not an https:// URL");
	expect_id_error("badpem.json", "{\"ztAPI\":\"https://h:1\",\"id\":{\"cert\":\"pem:garbage\",\"key\":\"pem:b\",\"ca\":\"pem:c\"}}", "not a PEM certificate");
	expect_id_error("nofile.json", "{\"ztAPI\":\"https://h:1\",\"id\":{\"cert\":\"file:///nonexistent/c.pem\",\"key\":\"pem:b\",\"ca\":\"pem:c\"}}", "cannot read cert file");
	expect_id_error("engine.json", "{\"ztAPI\":\"https://h:1\",\"id\":{\"cert\":\"pem:a\",\"key\":\"engine:pkcs11\",\"ca\":\"pem:c\"}}", "not supported");
	char url[64], *s = NULL, *h = NULL, *p = NULL, *pa = NULL;

	snprintf(url, sizeof(url), "https://[::1]:1280/edge/client/v1");
	check(zt_parse_url(url, &s, &h, &p, &pa) == 0 && !strcmp(h, "::1") && !strcmp(p, "1280") &&
		      !strcmp(pa, "/edge/client/v1"),
	      "url: IPv6 literal with port and path");
	free(s);
	free(h);
	free(p);
	free(pa);
	check(zt_parse_url("tls:/x", &s, &h, &p, &pa) != 0, "url: malformed rejected");
	char cmd[700];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
}

/* ---- resolver and connector (zt_resolve.h) ---- */

struct res_probe {
	struct zt_loop *l;
	int calls, err, fd;
	struct zt_addrs a;
	char msg[256];
};

static void res_cb(void *arg, int err, const char *msg, const struct zt_addrs *a)
{
	struct res_probe *p = arg;

	p->calls++;
	p->err = err;
	snprintf(p->msg, sizeof(p->msg), "%s", msg ? msg : "");
	if (!err)
		p->a = *a;
	zt_loop_stop(p->l);
}

static void conn_cb(void *arg, int fd, const char *err)
{
	struct res_probe *p = arg;

	p->calls++;
	p->fd = fd;
	snprintf(p->msg, sizeof(p->msg), "%s", err ? err : "");
	zt_loop_stop(p->l);
}

static void test_resolve(void)
{
	struct res_probe p = { .fd = -1 };
	struct zt_resolver_stats st;
	char err[160];
	struct zt_resolver *r;

	p.l = zt_loop_new();
	r = zt_resolver_new(p.l, 0, err, sizeof(err));
	check(r != NULL, "resolve: c-ares resolver on the loop (%s)", r ? "ok" : err);
	if (!r)
		return;
	struct zt_resolve_req *q = zt_resolve(r, "127.0.0.1", 443, AF_UNSPEC, res_cb, &p);

	check(q && p.calls == 0, "resolve: a numeric address answers from the loop, not from inside the call");
	zt_loop_run(p.l, 1000);
	struct sockaddr_in *in = (struct sockaddr_in *)&p.a.a[0];

	zt_resolver_stats(r, &st);
	check(p.calls == 1 && !p.err && p.a.n == 1 && in->sin_family == AF_INET && ntohs(in->sin_port) == 443 &&
		      ntohl(in->sin_addr.s_addr) == 0x7f000001 && st.numeric == 1 && st.lookups == 0,
	      "resolve: 127.0.0.1 is numeric: one address, port set, no lookup (lookups %llu)",
	      (unsigned long long)st.lookups);
	p.calls = 0;
	zt_resolve(r, "::1", 5060, AF_INET, res_cb, &p);
	zt_loop_run(p.l, 1000);
	check(p.calls == 1 && p.err == -EAFNOSUPPORT && strstr(p.msg, "cannot resolve ::1: no IPv4 address"),
	      "resolve: ::1 for an IPv4-only use: clear error (%s)", p.msg);
	p.calls = 0;
	q = zt_resolve(r, "127.0.0.2", 1, AF_UNSPEC, res_cb, &p);
	zt_resolve_cancel(q);
	zt_loop_run(p.l, 100);
	check(p.calls == 0, "resolve: a cancelled request never calls back");
	p.calls = 0;
	zt_resolve(r, "", 1, AF_UNSPEC, res_cb, &p);
	zt_loop_run(p.l, 1000);
	check(p.calls == 1 && p.err == -EINVAL, "resolve: empty name refused (%s)", p.msg);

	/* connector: refused, then a listener */
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t sl = sizeof(sa);
	char port[16];

	bind(ls, (struct sockaddr *)&sa, sizeof(sa));
	getsockname(ls, (struct sockaddr *)&sa, &sl);
	snprintf(port, sizeof(port), "%u", ntohs(sa.sin_port));
	p.calls = 0;
	check(zt_connect_start(r, "127.0.0.1", port, 1000, conn_cb, &p) != NULL, "connect: started");
	zt_loop_run(p.l, 3000);
	check(p.calls == 1 && p.fd < 0 && strstr(p.msg, "Connection refused"),
	      "connect: nothing listening: error names the address (%s)", p.msg);
	listen(ls, 1);
	p.calls = 0;
	zt_connect_start(r, "127.0.0.1", port, 1000, conn_cb, &p);
	zt_loop_run(p.l, 3000);
	check(p.calls == 1 && p.fd >= 0, "connect: listening: a connected socket (%s)", p.msg);
	if (p.fd >= 0)
		close(p.fd);
	struct zt_connect *c = zt_connect_start(r, "127.0.0.1", port, 1000, conn_cb, &p);

	p.calls = 0;
	zt_connect_cancel(c);
	zt_loop_run(p.l, 200);
	check(p.calls == 0, "connect: a cancelled connect never calls back, closes its socket (ASan/valgrind)");
	close(ls);
	/* /etc/hosts is read by c-ares: localhost without a DNS server */
	p.calls = 0;
	zt_resolve(r, "localhost", 80, AF_INET, res_cb, &p);
	zt_loop_run(p.l, 3000);
	zt_resolver_stats(r, &st);
	check(p.calls == 1 && !p.err && p.a.n >= 1 && st.lookups == 1,
	      "resolve: localhost from /etc/hosts (%s%u address(es))", p.msg, p.a.n);
	zt_resolver_free(r);
	zt_loop_free(p.l);
}

/* ---- enrollment token, key material, atomic replacement ---- */

static void b64url(const unsigned char *in, size_t n, char *out)
{
	int l = EVP_EncodeBlock((unsigned char *)out, in, (int)n);

	while (l > 0 && out[l - 1] == '=')
		l--;
	out[l] = 0;
	for (char *c = out; *c; c++)
		*c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
}

/* an ES256 JWT with @claims signed by @k */
static void make_jwt(EVP_PKEY *k, const char *claims, char *out, size_t outlen)
{
	char h[128], c[1024], sig[200], in[1200];
	unsigned char der[128], raw[64];
	size_t dl = sizeof(der);
	const char *hdr = "{\"alg\":\"ES256\",\"typ\":\"JWT\"}";
	EVP_MD_CTX *m = EVP_MD_CTX_new();

	b64url((const unsigned char *)hdr, strlen(hdr), h);
	b64url((const unsigned char *)claims, strlen(claims), c);
	snprintf(in, sizeof(in), "%s.%s", h, c);
	EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, k);
	EVP_DigestSign(m, der, &dl, (unsigned char *)in, strlen(in));
	EVP_MD_CTX_free(m);
	const unsigned char *dp = der;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &dp, (long)dl);

	BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32);
	BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32);
	ECDSA_SIG_free(es);
	b64url(raw, 64, sig);
	snprintf(out, outlen, "%s.%s", in, sig);
}

static void test_enroll_parts(void)
{
	char err[512] = "", tok[2048], tok2[2048];
	struct zt_jwt j;
	EVP_PKEY *k = zt_pki_keygen(NULL, err, sizeof(err)), *other = zt_pki_keygen("ec", err, sizeof(err));
	EVP_PKEY *rsa = zt_pki_keygen("rsa:2048", err, sizeof(err));

	check(k && other && rsa && EVP_PKEY_is_a(k, "EC") && EVP_PKEY_get_bits(rsa) == 2048,
	      "pki: EC P-256 (default) and RSA 2048 keys generated");
	check(!zt_pki_keygen("dsa", err, sizeof(err)) && strstr(err, "not one of"), "pki: unknown key type: '%s'", err);
	check(!zt_pki_keygen("rsa:512", err, sizeof(err)) && strstr(err, "2048-8192"), "pki: small RSA refused: '%s'", err);
	make_jwt(k, "{\"iss\":\"https://127.0.0.1:1280\",\"sub\":\"abc\",\"jti\":\"t-1\",\"em\":\"ott\",\"exp\":4102444800}",
		 tok, sizeof(tok));
	check(zt_jwt_parse(tok, &j, err, sizeof(err)) == 0 && !strcmp(j.iss, "https://127.0.0.1:1280") &&
		      !strcmp(j.jti, "t-1") && !strcmp(j.em, "ott") && j.exp == 4102444800 && !strcmp(j.alg, "ES256"),
	      "jwt: claims parsed (%s)", err);
	check(zt_jwt_verify(&j, k, err, sizeof(err)) == 0, "jwt: ES256 signature verifies with the signer's key");
	check(zt_jwt_verify(&j, other, err, sizeof(err)) != 0 && strstr(err, "does not verify"),
	      "jwt: another key (another controller) is refused: '%.80s...'", err);
	check(zt_jwt_verify(&j, rsa, err, sizeof(err)) != 0 && strstr(err, "RSA"), "jwt: key type mismatch: '%s'", err);
	zt_jwt_free(&j);
	/* altered claims, same signature */
	snprintf(tok2, sizeof(tok2), "%s", tok);
	char *d1 = strchr(tok2, '.');

	d1[3] = d1[3] == 'A' ? 'B' : 'A';
	check(zt_jwt_parse(tok2, &j, err, sizeof(err)) != 0 ||
		      (zt_jwt_verify(&j, k, err, sizeof(err)) != 0 && strstr(err, "altered")),
	      "jwt: an altered token does not verify");
	zt_jwt_free(&j);
	check(zt_jwt_parse("abc", &j, err, sizeof(err)) != 0 && strstr(err, "three"), "jwt: not a JWT: '%s'", err);
	check(zt_jwt_parse("a.b.c.d", &j, err, sizeof(err)) != 0, "jwt: four parts refused");
	check(zt_jwt_parse("!!.e30.AA", &j, err, sizeof(err)) != 0 && strstr(err, "base64url"), "jwt: bad base64: '%s'", err);
	make_jwt(k, "{\"iss\":\"https://h:1\",\"jti\":\"x\"}", tok2, sizeof(tok2));
	check(zt_jwt_parse(tok2, &j, err, sizeof(err)) != 0 && strstr(err, "'em'"), "jwt: missing claim: '%s'", err);
	make_jwt(k, "{\"iss\":\"http://h:1\",\"jti\":\"x\",\"em\":\"ott\"}", tok2, sizeof(tok2));
	check(zt_jwt_parse(tok2, &j, err, sizeof(err)) != 0 && strstr(err, "https"), "jwt: http issuer: '%s'", err);
	/* algorithm names shorter than "ES256": refused, nothing read past them (ASan) */
	static const char *const short_alg[] = {
		"eyJhbGciOiIifQ.eyJpc3MiOiJodHRwczovL3giLCJqdGkiOiJhIiwiZW0iOiJvdHQifQ.AAAA", /* "" */
		"eyJhbGciOiJFIn0.eyJpc3MiOiJodHRwczovL3giLCJqdGkiOiJhIiwiZW0iOiJvdHQifQ.AAAA", /* "E" */
		"eyJhbGciOiJFUzI1In0.eyJpc3MiOiJodHRwczovL3giLCJqdGkiOiJhIiwiZW0iOiJvdHQifQ.AAAA", /* "ES25" */
	};
	for (size_t i = 0; i < sizeof(short_alg) / sizeof(short_alg[0]); i++) {
		int prc = zt_jwt_parse(short_alg[i], &j, err, sizeof(err));

		check(prc != 0 || (zt_jwt_verify(&j, k, err, sizeof(err)) != 0 && strstr(err, "not supported")),
		      "jwt: short algorithm name %zu refused: '%s'", i, err);
		if (!prc)
			zt_jwt_free(&j);
	}

	/* CSR carries the subject and the key */
	X509_NAME *nm = X509_NAME_new();

	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"id-1", -1, -1, 0);
	char *csr = zt_pki_csr_pem(k, nm, err, sizeof(err));
	BIO *b = csr ? BIO_new_mem_buf(csr, -1) : NULL;
	X509_REQ *req = b ? PEM_read_bio_X509_REQ(b, NULL, NULL, NULL) : NULL;

	check(req && X509_REQ_verify(req, k) == 1 &&
		      !X509_NAME_cmp(X509_REQ_get_subject_name(req), nm),
	      "pki: CSR signed by the key, with the subject given");
	X509_REQ_free(req);
	BIO_free(b);
	free(csr);
	X509_NAME_free(nm);

	/* atomic replacement keeps the mode; abort leaves nothing */
	char dir[] = "/tmp/zt-stage.XXXXXX", f[300], g[300], cmd[400];
	struct zt_stage st = { 0 };
	struct stat sb;

	if (mkdtemp(dir)) {
		snprintf(f, sizeof(f), "%s/id.json", dir);
		snprintf(g, sizeof(g), "%s/new.json", dir);
		FILE *fp = fopen(f, "w");

		fputs("old", fp);
		fclose(fp);
		chmod(f, 0640);
		int r1 = zt_stage_add(&st, f, "new", 3, 0600, err, sizeof(err));
		int r2 = zt_stage_add(&st, g, "x", 1, 0600, err, sizeof(err));
		char buf[8] = "";

		fp = fopen(f, "r");
		size_t nr = fp ? fread(buf, 1, 7, fp) : 0;

		if (fp)
			fclose(fp);
		check(r1 == 0 && r2 == 0 && nr == 3 && !strcmp(buf, "old") && access(g, F_OK) != 0,
		      "stage: nothing visible before commit");
		check(zt_stage_commit(&st, err, sizeof(err)) == 0 && stat(f, &sb) == 0 && (sb.st_mode & 0777) == 0640 &&
			      sb.st_size == 3 && stat(g, &sb) == 0 && (sb.st_mode & 0777) == 0600,
		      "stage: commit replaces the file (mode 0640 kept), a new file gets 0600");
		zt_stage_add(&st, f, "zzz", 3, 0600, err, sizeof(err));
		zt_stage_abort(&st);
		snprintf(cmd, sizeof(cmd), "test $(ls %s | wc -l) = 2 && grep -q new %s", dir, f);
		check(system(cmd) == 0, "stage: abort leaves the file and no temporary");
		snprintf(f, sizeof(f), "%s/nodir/id.json", dir);
		check(zt_stage_add(&st, f, "x", 1, 0600, err, sizeof(err)) != 0 && strstr(err, "cannot create"),
		      "stage: unwritable place: '%s'", err);
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cleanup failed\n");
	}
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
	EVP_PKEY_free(rsa);
}

/* a self-signed certificate for @k valid @days from now */
static char *self_signed(EVP_PKEY *k, long serial, int days)
{
	X509 *x = X509_new();
	X509_NAME *nm = X509_NAME_new();
	BIO *b = BIO_new(BIO_s_mem());
	char *data = NULL, *out = NULL;

	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"unit", -1, -1, 0);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_set_subject_name(x, nm);
	X509_set_issuer_name(x, nm);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400);
	X509_set_pubkey(x, k);
	X509_sign(x, k, EVP_sha256());
	PEM_write_bio_X509(b, x);
	long n = BIO_get_mem_data(b, &data);

	out = strndup(data, (size_t)n);
	BIO_free(b);
	X509_NAME_free(nm);
	X509_free(x);
	return out;
}

char *zt_test_self_signed(EVP_PKEY *k, long serial, int days);
char *zt_test_self_signed(EVP_PKEY *k, long serial, int days)
{
	return self_signed(k, serial, days);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 65536);

	if (f && buf && fread(buf, 1, 65535, f) == 0)
		buf[0] = 0;
	if (f)
		fclose(f);
	return buf;
}

/* Renewal writes the new certificate where the identity keeps it: inline, or its file. */
static void test_identity_update(void)
{
	char err[512] = "", dir[] = "/tmp/zt-idupd.XXXXXX", path[300], cpath[300], kpath[300], json[4096], cmd[400];
	EVP_PKEY *k = zt_pki_keygen(NULL, err, sizeof(err));
	char *c1 = self_signed(k, 1, 1), *c2 = self_signed(k, 2, 30), *kp = zt_pki_key_pem(k);
	struct zt_stage st = { 0 };
	struct stat sb;

	if (!mkdtemp(dir) || !c1 || !c2 || !kp) {
		check(0, "identity update: setup");
		goto out;
	}
	/* file: references */
	snprintf(cpath, sizeof(cpath), "%s/c.pem", dir);
	snprintf(kpath, sizeof(kpath), "%s/k.pem", dir);
	FILE *f = fopen(cpath, "w");

	fputs(c1, f);
	fclose(f);
	chmod(cpath, 0640);
	f = fopen(kpath, "w");
	fputs(kp, f);
	fclose(f);
	snprintf(json, sizeof(json), "{\"ztAPI\":\"https://h:1\",\"id\":{\"cert\":\"file://%s\",\"key\":\"file:%s\",\"ca\":\"%s\"}}",
		 cpath, kpath, cpath);
	snprintf(path, sizeof(path), "%s/files.json", dir);
	f = fopen(path, "w");
	fputs(json, f);
	fclose(f);
	struct zt_identity *id = zt_identity_load(path, err, sizeof(err));
	int64_t na1 = id ? id->not_after : 0;

	check(id && zt_identity_stage_update(id, c2, NULL, NULL, &st, err, sizeof(err)) == 0 &&
		      zt_stage_commit(&st, err, sizeof(err)) == 0, "identity update (file refs): staged and committed (%s)", err);
	char *now_c = slurp(cpath), *now_j = slurp(path);

	check(now_c && !strcmp(now_c, c2) && now_j && !strcmp(now_j, json) && stat(cpath, &sb) == 0 &&
		      (sb.st_mode & 0777) == 0640,
	      "identity update (file refs): the certificate file replaced (mode 0640 kept), the JSON untouched");
	free(now_c);
	free(now_j);
	check(id && zt_identity_replace(id, c2, NULL, NULL, err, sizeof(err)) == 0 && id->not_after > na1 + 86400,
	      "identity replace: the live identity uses the new certificate (notAfter +29 days)");
	zt_identity_free(id);
	/* inline pem: values, an unknown field kept */
	struct json_object *o = json_object_new_object(), *ido = json_object_new_object();
	char *v = NULL;

	json_object_object_add(o, "ztAPI", json_object_new_string("https://h:1"));
	json_object_object_add(o, "extra", json_object_new_string("kept"));
	if (asprintf(&v, "pem:%s", c1) > 0)
		json_object_object_add(ido, "cert", json_object_new_string(v));
	free(v);
	if (asprintf(&v, "pem:%s", kp) > 0)
		json_object_object_add(ido, "key", json_object_new_string(v));
	free(v);
	if (asprintf(&v, "pem:%s", c1) > 0)
		json_object_object_add(ido, "ca", json_object_new_string(v));
	free(v);
	json_object_object_add(o, "id", ido);
	snprintf(path, sizeof(path), "%s/inline.json", dir);
	json_object_to_file(path, o);
	json_object_put(o);
	chmod(path, 0600);
	id = zt_identity_load(path, err, sizeof(err));
	check(id && zt_identity_stage_update(id, c2, NULL, NULL, &st, err, sizeof(err)) == 0 &&
		      zt_stage_commit(&st, err, sizeof(err)) == 0, "identity update (inline): staged and committed (%s)", err);
	zt_identity_free(id);
	o = json_object_from_file(path);
	struct json_object *x = NULL, *y = NULL;
	const char *nc = o && json_object_object_get_ex(o, "id", &x) && json_object_object_get_ex(x, "cert", &y) ?
				 json_object_get_string(y) : "";

	check(!strncmp(nc, "pem:", 4) && !strcmp(nc + 4, c2) && json_object_object_get_ex(o, "extra", &y) &&
		      stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600,
	      "identity update (inline): id.cert rewritten, other fields kept, mode 0600 kept");
	json_object_put(o);
	id = zt_identity_load(path, err, sizeof(err));
	check(id != NULL, "identity update (inline): the rewritten file loads (%s)", id ? "ok" : err);
	zt_identity_free(id);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
out:
	free(c1);
	free(c2);
	free(kp);
	EVP_PKEY_free(k);
}

/*
 * Output scheduling (zt_sched.c): datagrams of a lossy conn go out before stream data that
 * was queued first, stream data waits once ZT_CHAN_UNREAD bytes are unconfirmed by a Latency
 * probe's answer, datagrams older than the bound are dropped and counted, and a lossy conn
 * stays writable while stream data is congested.
 */
struct sched_out {
	unsigned msgs, probes, dgrams_for_2, stream_before_dgram;
	size_t stream;
	int32_t last_probe;
};

/* take everything in ch->out, as a write to the router would */
static void sched_take(struct zt_chan *ch, struct sched_out *o)
{
	struct zt_msg m;
	size_t used;
	uint32_t id;

	while (zt_buf_used(&ch->out) &&
	       zt_msg_parse(ch->out.data + ch->out.off, zt_buf_used(&ch->out), &m, &used, NULL) == ZT_PARSE_OK) {
		o->msgs++;
		if (m.content_type == ZT_CT_LATENCY) {
			o->probes++;
			o->last_probe = m.seq;
		} else if (m.content_type == ZT_CT_DATA && zt_msg_hdr_u32(&m, ZT_H_CONN_ID, &id)) {
			if (id == 2)
				o->dgrams_for_2++;
			else
				o->stream += used;
			if (id == 1 && !o->dgrams_for_2)
				o->stream_before_dgram++;
		}
		zt_buf_consume(&ch->out, used);
	}
}

/*
 * The scheduling tests' rig: a channel that is UP without a socket (zt_chan_flush leaves
 * everything queued, sched_take takes it), a stream conn @c1 (id 1) and a lossy datagram
 * conn @c2 (id 2) on it.
 */
static void sched_setup(struct zt_ctx *ctx, struct zt_chan *ch, struct zt_conn *c1, struct zt_conn *c2)
{
	struct zt_conn *cv[2] = { c1, c2 };

	ctx->loop = zt_loop_new();
	ctx->o.log_level = -1;
	ch->ctx = ctx;
	ch->name = "test";
	ch->fd = -1;
	ch->state = ZT_CH_UP;
	ch->in_dispatch = true;
	zt_task_init(&ch->flush_task, NULL, NULL);
	zt_timer_init(&ch->mark_timer, zt_chan_mark_timer_cb, ch);
	for (int i = 0; i < 2; i++) {
		cv[i]->ctx = ctx;
		cv[i]->ch = ch;
		cv[i]->id = (uint32_t)i + 1;
		cv[i]->state = ZT_C_UP;
		cv[i]->service = "svc";
		zt_timer_init(&cv[i]->timer, NULL, NULL);
		zt_chan_map_add(ch, cv[i]->id, cv[i], 0);
	}
	c2->datagram = true;
	zt_conn_set_lossy(c2, true);
}

static void sched_teardown(struct zt_ctx *ctx, struct zt_chan *ch)
{
	zt_timer_stop(ctx->loop, &ch->mark_timer);
	zt_chan_map_del(ch, 1);
	zt_chan_map_del(ch, 2);
	zt_chan_cancel_replies(ch, ch);
	zt_chan_sched_free(ch);
	zt_buf_free(&ch->out);
	free(ch->conns);
	zt_loop_free(ctx->loop);
}

static void test_sched(void)
{
	struct zt_ctx ctx = { 0 };
	struct zt_chan ch = { 0 };
	struct zt_conn c1 = { 0 }, c2 = { 0 };
	struct sched_out o = { 0 };
	struct zt_msgb mb;
	struct zt_buf in = { 0 };
	struct zt_msg m;
	size_t used, prev;
	static uint8_t big[1u << 20];

	sched_setup(&ctx, &ch, &c1, &c2);
	/* a bulk transfer queued 1 MiB of stream data, then an RTP datagram comes */
	check(!zt_write(&c1, big, sizeof(big)) && !zt_write(&c2, "rtp0", 4), "sched: 1 MiB of stream data and a datagram queued");
	zt_chan_refill(&ch);
	sched_take(&ch, &o);
	check(o.dgrams_for_2 == 1 && o.stream_before_dgram == 0,
	      "sched: the datagram is written before the stream data queued ahead of it (%u stream messages before it)",
	      o.stream_before_dgram);
	check(o.stream > 0 && o.stream <= ZT_CHAN_OUT_TARGET + ZT_MAX_CHUNK + 64,
	      "sched: one refill takes at most ZT_CHAN_OUT_TARGET of stream data (%zu bytes)", o.stream);
	/*
	 * the router does not answer: stream data stops at ZT_CHAN_UNREAD, with one read-position
	 * probe out (one at a time: unit_chan.c)
	 */
	do {
		prev = o.stream;
		zt_chan_refill(&ch);
		sched_take(&ch, &o);
	} while (o.stream != prev);
	check(o.stream >= ZT_CHAN_UNREAD && o.stream < ZT_CHAN_UNREAD + ZT_MAX_CHUNK + 64 && o.probes == 1,
	      "sched: unconfirmed stream data stops at %zu bytes (bound %u), %u read-position probe out (1)", o.stream,
	      ZT_CHAN_UNREAD, o.probes);
	check(zt_writable(&c2) && !zt_write(&c2, "rtp1", 4), "sched: the lossy conn stays writable meanwhile");
	zt_chan_refill(&ch);
	sched_take(&ch, &o);
	check(o.dgrams_for_2 == 2 && o.stream == prev, "sched: and its datagram goes out at once (%u of 2)", o.dgrams_for_2);
	/* the router answers the last probe: everything before it was read, more stream data flows */
	zt_msgb_begin(&mb, &in, ZT_CT_RESULT, 9);
	zt_msgb_hdr_u32(&mb, ZT_H_REPLY_FOR, (uint32_t)o.last_probe);
	zt_msg_parse(in.data, in.len, &m, &used, NULL);
	zt_chan_dispatch(&ch, &m);
	zt_buf_free(&in);
	zt_chan_refill(&ch);
	sched_take(&ch, &o);
	check(o.stream > prev, "sched: the probe's answer releases more stream data (%zu more bytes)", o.stream - prev);
	/* held back again, and the router leaves the probe unanswered: the timer probes again */
	zt_write(&c1, big, sizeof(big));
	do {
		prev = o.stream;
		zt_chan_refill(&ch);
		sched_take(&ch, &o);
	} while (o.stream != prev);
	unsigned probes = o.probes;

	check(zt_timer_armed(&ch.mark_timer), "sched: held back: a re-probe timer is armed");
	zt_chan_mark_timer_cb(&ch);
	sched_take(&ch, &o);
	check(o.probes == probes + 1, "sched: an unanswered probe is followed by another (%u new)", o.probes - probes);
	zt_msgb_begin(&mb, &in, ZT_CT_RESULT, 10);
	zt_msgb_hdr_u32(&mb, ZT_H_REPLY_FOR, (uint32_t)o.last_probe);
	zt_msg_parse(in.data, in.len, &m, &used, NULL);
	zt_chan_dispatch(&ch, &m);
	zt_buf_free(&in);
	zt_chan_refill(&ch);
	sched_take(&ch, &o);
	check(o.stream > prev, "sched: its answer releases more stream data (%zu more bytes)", o.stream - prev);
	zt_timer_stop(ctx.loop, &ch.mark_timer);
	/*
	 * A datagram that waited past the bound only because the loop did not run (a stalled
	 * process: the socket never refused data) goes out: dropping it shortens no queue, and
	 * the first datagram of a flow has no retransmission (CI at 12c9de8: an echo request
	 * lost on a loaded guest, counted as late).
	 */
	ctx.o.dgram_max_age_ms = 1;
	zt_write(&c2, "stall", 5);
	usleep(20000);
	zt_chan_refill(&ch);
	sched_take(&ch, &o);
	check(o.dgrams_for_2 == 3 && zt_ctx_dgram_dropped(&ctx) == 0,
	      "sched: a datagram late only because the loop stalled (socket never full) is sent (%u of 3 out, "
	      "%" PRIu64 " dropped)", o.dgrams_for_2, zt_ctx_dgram_dropped(&ctx));
	/* one that waited while the socket took nothing (the router link full) is dropped and counted */
	zt_write(&c2, "late", 4);
	zt_chan_write_blocked(&ch);
	usleep(20000);
	ch.out.len = ch.out.off; /* the socket took what it held: refill runs with out empty */
	zt_chan_write_resumed(&ch);
	zt_chan_refill(&ch);
	sched_take(&ch, &o);
	check(o.dgrams_for_2 == 3 && zt_ctx_dgram_dropped(&ctx) == 1,
	      "sched: a datagram older than dgram_max_age_ms that waited on a full socket is dropped and counted "
	      "(%" PRIu64 " dropped)", zt_ctx_dgram_dropped(&ctx));
	/* queued after the socket drained and not late: sent */
	zt_write(&c2, "fresh", 5);
	zt_chan_refill(&ch);
	sched_take(&ch, &o);
	check(o.dgrams_for_2 == 4 && zt_ctx_dgram_dropped(&ctx) == 1,
	      "sched: a datagram queued after the socket drained goes out (%u of 4)", o.dgrams_for_2);
	/* later, late only by a stall: the earlier full socket does not count against it */
	usleep(5000);
	zt_write(&c2, "after", 5);
	usleep(20000);
	zt_chan_refill(&ch);
	sched_take(&ch, &o);
	check(o.dgrams_for_2 == 5 && zt_ctx_dgram_dropped(&ctx) == 1,
	      "sched: a stalled datagram queued well after the socket drained goes out (%u of 5)", o.dgrams_for_2);
	/* queued in the same millisecond as the socket drained, then stalled (review): goes out */
	zt_chan_write_blocked(&ch);
	zt_chan_write_resumed(&ch);
	zt_write(&c2, "same", 4);
	usleep(20000);
	zt_chan_refill(&ch);
	sched_take(&ch, &o);
	check(o.dgrams_for_2 == 6 && zt_ctx_dgram_dropped(&ctx) == 1,
	      "sched: a datagram queued right after the socket drained, then stalled, goes out (%u of 6, %" PRIu64
	      " dropped)", o.dgrams_for_2, zt_ctx_dgram_dropped(&ctx));
	/* stream data keeps its backpressure */
	while (!zt_chan_congested(&ch))
		zt_write(&c1, big, sizeof(big));
	check(!zt_writable(&c1) && zt_writable(&c2), "sched: congested: the stream conn waits, the lossy one does not");
	sched_teardown(&ctx, &ch);
}

/*
 * Review of the d-router x d-rtp merge: a live datagram dial whose circuit closes (StateClosed)
 * is dialed again; its datagrams still queued in the channel's datagram queue must leave with
 * it, not be encoded later for a conn that has no channel (NULL) or a new one.
 */
static void test_sched_redial(void)
{
	struct zt_ctx ctx = { 0 };
	struct zt_chan ch = { 0 };
	struct zt_conn c1 = { 0 }, c2 = { 0 };
	struct sched_out o = { 0 };
	struct zt_msgb mb;
	struct zt_buf in = { 0 };
	struct zt_msg m;
	size_t used;
	static uint8_t big[1u << 20];

	sched_setup(&ctx, &ch, &c1, &c2);
	c2.last_rx_ms = zt_now_ms();
	/* stream data ahead, so the datagrams wait in the datagram queue */
	zt_write(&c1, big, sizeof(big));
	zt_chan_refill(&ch);
	zt_write(&c2, "rtp0", 4);
	zt_write(&c2, "rtp1", 4);
	/* the far router dies: StateClosed for conn 2, a live datagram dial, dialed again */
	zt_msgb_begin(&mb, &in, ZT_CT_STATE_CLOSED, 7);
	zt_msgb_hdr_u32(&mb, ZT_H_CONN_ID, 2);
	zt_msg_parse(in.data, in.len, &m, &used, NULL);
	zt_chan_dispatch(&ch, &m);
	zt_buf_free(&in);
	check(c2.ch == NULL && (c2.redialing || c2.state == ZT_C_DEAD),
	      "sched: StateClosed of a live datagram dial: it leaves the channel to be dialed again");
	ch.out.len = ch.out.off; /* the router read everything: refill from the queues */
	zt_chan_refill(&ch);
	sched_take(&ch, &o);
	check(o.dgrams_for_2 == 0, "sched: its queued datagrams left with it (%u written for it afterwards)",
	      o.dgrams_for_2);
	c2.redialing = false;
	zt_timer_stop(ctx.loop, &c2.timer);
	sched_teardown(&ctx, &ch);
}

static char stale_why[512];

static void stale_on_connect(struct zt_conn *c, int err, const char *why, void *u)
{
	(void)c;
	(void)err;
	(void)u;
	snprintf(stale_why, sizeof(stale_why), "%s", why ? why : "");
}

/*
 * A dial whose Dial session belongs to an API session replaced meanwhile (a login from scratch
 * while it waited: its channel is of the new session) is refused by the v1.6.5 controller
 * through the router "invalid api session id, expected NEW, got OLD" (controller/env/appenv.go,
 * ValidateServiceAccessToken): a stale Dial session, to be fetched again as for "invalid
 * session", not the end of the dial (daemon-ha.sh 2026-12-06 03:41: the call's media flow
 * closed "ziti dial failed: dial refused by network: invalid api session id ...").
 */
static void test_dial_stale_api_session(void)
{
	static const char why[] = "invalid api session id, expected a9d68c46, got 2a9c1cad";
	struct zt_ctx ctx = { 0 };
	struct zt_chan ch = { 0 };
	struct zt_conn c1 = { 0 }, c2 = { 0 };
	struct zt_msgb mb;
	struct zt_buf in = { 0 };
	struct zt_msg m;
	size_t used;

	sched_setup(&ctx, &ch, &c1, &c2);
	c1.state = ZT_C_CONNECTING;
	c1.attempts = 1;
	c1.cbs.on_connect = stale_on_connect;
	stale_why[0] = 0;
	zt_msgb_begin(&mb, &in, ZT_CT_STATE_CLOSED, 8);
	zt_msgb_hdr_u32(&mb, ZT_H_CONN_ID, 1);
	uint8_t *body = zt_msgb_body(&mb, sizeof(why) - 1);

	if (body)
		memcpy(body, why, sizeof(why) - 1);
	zt_msg_parse(in.data, in.len, &m, &used, NULL);
	zt_chan_dispatch(&ch, &m);
	zt_buf_free(&in);
	/* dialed again: the test's context knows no service, so the new attempt ends there */
	check(c1.attempts == 2 && strstr(stale_why, "not found") && !strstr(stale_why, "refused"),
	      "dial refused 'invalid api session id' (a Dial session of a replaced API session): dialed again with a "
	      "new session (attempts %u, ended '%s')", c1.attempts, stale_why);
	zt_timer_stop(ctx.loop, &c1.timer);
	sched_teardown(&ctx, &ch);
}

/* write @s to @path with @mode */
static void put(const char *path, const char *s, mode_t mode)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(s, f);
		fclose(f);
	}
	chmod(path, mode);
}

/*
 * Review findings on renewal's files: a new key keeps the 0644 of the file it replaces (keys
 * must be 0600), and a key roll renames the certificate and the key one after the other (a
 * crash between leaves a pair that does not match). Every prefix of the staged renames is
 * applied here as a crash would leave it: the identity must load after each.
 */
static void test_identity_roll(void)
{
	char err[512] = "", dir[] = "/tmp/zt-idroll.XXXXXX", path[300], cpath[300], kpath[300], json[4096], cmd[400];
	EVP_PKEY *k1 = zt_pki_keygen(NULL, err, sizeof(err)), *k2 = zt_pki_keygen(NULL, err, sizeof(err));
	char *c1 = self_signed(k1, 1, 1), *c2 = self_signed(k2, 2, 30), *kp1 = zt_pki_key_pem(k1), *kp2 = zt_pki_key_pem(k2);
	struct stat sb;
	int loads = 0, states = 0;

	if (!mkdtemp(dir) || !c1 || !c2 || !kp1 || !kp2) {
		check(0, "identity key roll: setup");
		goto out;
	}
	snprintf(cpath, sizeof(cpath), "%s/c.pem", dir);
	snprintf(kpath, sizeof(kpath), "%s/k.pem", dir);
	snprintf(path, sizeof(path), "%s/id.json", dir);
	for (int crash_after = 0; crash_after <= ZT_STAGE_MAX; crash_after++) {
		struct zt_stage st = { 0 };
		struct zt_identity *id;

		put(cpath, c1, 0644);
		put(kpath, kp1, 0644); /* as an admin may have left it */
		snprintf(json, sizeof(json), "{\"ztAPI\":\"https://h:1\",\"id\":{\"cert\":\"file://%s\",\"key\":\"file:%s\",\"ca\":\"%s\"}}",
			 cpath, kpath, cpath);
		put(path, json, 0600);
		id = zt_identity_load(path, err, sizeof(err));
		if (!id || zt_identity_stage_update(id, c2, kp2, NULL, &st, err, sizeof(err))) {
			check(0, "identity key roll: stage (%s)", err);
			zt_identity_free(id);
			break;
		}
		zt_identity_free(id);
		if (crash_after >= st.n) { /* the whole commit */
			check(zt_stage_commit(&st, err, sizeof(err)) == 0, "identity key roll: committed (%s)", err);
			id = zt_identity_load(path, err, sizeof(err));
			check(id && id->not_after > time(NULL) + 86400 * 20,
			      "identity key roll: after the commit the identity loads with the new certificate (%s)",
			      id ? "ok" : err);
			zt_identity_free(id);
			/* the key now in use: the file the identity names */
			char *t = slurp(path), *kref = t ? strstr(t, "\"key\"") : NULL, kfile[300] = "";

			if (kref && (sscanf(kref, "\"key\":\"file:%299[^\"]\"", kfile) == 1 ||
				     sscanf(kref, "\"key\": \"file:%299[^\"]\"", kfile) == 1)) {
				int sr = stat(kfile, &sb);

				check(sr == 0 && (sb.st_mode & 0777) == 0600, "identity key roll: the new key file is mode 0600 (%o)",
				      sr ? 0u : (unsigned)(sb.st_mode & 0777));
			} else
				check(0, "identity key roll: no key file reference in %s", t ? t : "?");
			free(t);
			break;
		}
		/* a crash after @crash_after of the renames */
		for (int i = 0; i < crash_after; i++)
			if (rename(st.tmp[i], st.dst[i]))
				check(0, "identity key roll: rename");
		for (int i = crash_after; i < st.n; i++)
			unlink(st.tmp[i]);
		for (int i = 0; i < st.n; i++) {
			free(st.tmp[i]);
			free(st.dst[i]);
		}
		id = zt_identity_load(path, err, sizeof(err));
		states++;
		loads += id != NULL;
		if (!id)
			printf("# crash after %d of the renames: %s\n", crash_after, err);
		zt_identity_free(id);
	}
	check(states > 0 && loads == states,
	      "identity key roll: a crash between the renames leaves a loadable identity (%d of %d states)", loads, states);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
out:
	free(c1);
	free(c2);
	free(kp1);
	free(kp2);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
}

void test_ctrls(void); /* unit_ctrls.c */
void test_chan_probes(void); /* unit_chan.c */
void test_secret_modes(void); /* unit_files.c */
void test_adopt_cert(void); /* unit_files.c */
void test_posture(void); /* unit_posture.c */
void test_posture_proc(void); /* unit_posture_proc.c */
void test_curl_stale_token(void); /* unit_curl.c */

int main(void)
{
	corpus = getenv("ZT_CORPUS");
	if (corpus)
		mkdir(corpus, 0755);
	test_codec();
	test_multipart();
	test_dispatch();
	test_oversize();
	test_e2e_noalloc();
	test_dgq_noalloc();
	test_batch_clock();
	test_tasks();
	test_held_dial();
	test_dialer_identity();
	test_sched();
	test_sched_redial();
	test_dial_stale_api_session();
	test_chan_probes();
	test_identity();
	test_controller_faults();
	test_edge_error_codes();
	test_ctrls();
	test_resolve();
	test_enroll_parts();
	test_identity_update();
	test_identity_roll();
	test_secret_modes();
	test_adopt_cert();
	test_posture();
	test_posture_proc();
	test_curl_stale_token();
	test_terms_parse();
	return failures ? 1 : 0;
}
