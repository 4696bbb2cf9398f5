// SPDX-License-Identifier: GPL-2.0
/*
 * zt-tool: a small CLI over the native edge client, used by the interop tests.
 *
 *   zt-tool services -i ID.json
 *   zt-tool dial  -i ID.json -s SERVICE [--udp] [--mode echo|sink|recv|rtp] [--bytes N] [--conns C]
 *                 [--count K --size S [--pace-ms P]] [--hold [--linger-ms L]] [--timeout-ms T]
 *                 [--app-data JSON]
 *                 --pace-ms: one datagram every P ms (RTP-like); reports the largest, the median
 *                 and the 99th percentile latency of a datagram's echo counted from the moment it
 *                 was due to be sent (a lost datagram counts as slower than every echoed one)
 *   zt-tool host  -i ID.json -s SERVICE [--udp] [--mode echo|sink] [--ready-file F]
 *                 [--terminator-identity X] [--cost N] [--precedence P]
 *   zt-tool probe -i ID.json -s SERVICE --log FILE [--interval-ms I]
 *
 * Data is a deterministic pseudo-random stream per connection, verified byte by byte.
 * dial --mode recv sends nothing and reads N bytes of whatever the service sends (bulk source).
 * dial --udp --mode rtp sends K RTP datagrams (PCMU, one every --pace-ms) of S >= 12 bytes and
 * only counts what comes back; it succeeds once all are sent (RTP quality tests).
 * Exit status: 0 success, 1 failure, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/time.h>
#include <unistd.h>

#include "daemon/ziti/zt.h"
#include "daemon/ziti/tool_request.h"

static struct {
	const char *cmd, *identity, *service, *mode, *ready_file, *term_id, *log_file, *session_file, *app_data, *send;
	bool udp, hold, verbose, accept_close, no_renew;
	uint64_t bytes;
	unsigned conns, count, size, timeout_ms, interval_ms, poll_ms, latency_ms, cost, precedence, start_delay_ms;
	unsigned linger_ms; /* --hold: keep all connections open this long before any data */
	unsigned pace_ms;   /* --udp: send one datagram every pace_ms (0: all at once) */
	int auth_mode;      /* --auth legacy|auto|oidc */
	unsigned token_refresh_ms; /* --token-refresh-ms: OIDC refresh at least this often */
} opt = { .mode = "echo", .no_renew = true, .bytes = 1024, .conns = 1, .count = 20, .size = 512, .timeout_ms = 60000,
	  .interval_ms = 250 };

static struct zt_loop *loop;
static struct zt_ctx *ctx;
static int exit_code = 1;
static uint64_t t0;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "[%7.3f] ", (double)(zt_now_ms() - t0) / 1000.0);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static uint64_t epoch_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* position-addressable pseudo-random byte stream */
static inline uint8_t gen_byte(uint64_t seed, uint64_t i)
{
	uint64_t z = seed * 0x9e3779b97f4a7c15ull + (i >> 3) + 0x632be59bd9b4e019ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return (uint8_t)(z >> (8 * (i & 7)));
}

static void gen_fill(uint64_t seed, uint64_t off, uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = gen_byte(seed, off + i);
}

/* ------------------------------------------------------------------ dial */

struct dconn {
	struct zt_conn *c;
	unsigned idx;
	uint64_t sent, recvd;
	bool connected, eof, done, failed, fin_sent;
	EVP_MD_CTX *md;
	uint8_t digest[32];
	uint8_t got_digest[32];
	unsigned dgram_sent, dgram_recvd;
	uint8_t *seen;
	uint64_t pace_start; /* --pace-ms: when datagram 0 was due */
	uint64_t last_echo;  /* --pace-ms: when the latest echo came */
};

/* --pace-ms: echo latency counted from when each datagram was due */
static uint64_t pace_max_ms, pace_max_at_ms, pace_over100;
/* --pace-ms: the longest time without an echo (from the first echo to the last one due) */
static uint64_t pace_gap_ms, pace_gap_at_ms;
static uint64_t *pace_lat; /* every echoed datagram's latency, for the percentiles */
static size_t pace_nlat;

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* the p-th percentile (nearest rank) of the echo latencies, lost datagrams ranked last */
static void pace_pct(unsigned p, uint64_t total, char *buf, size_t len)
{
	uint64_t rank = (total * p + 99) / 100;

	if (!rank)
		rank = 1;
	if (rank > pace_nlat)
		snprintf(buf, len, "lost");
	else
		snprintf(buf, len, "%" PRIu64, pace_lat[rank - 1]);
}
static struct zt_timer pace_timer, pace_grace;

static struct dconn *dcs;
static unsigned n_connected, n_done, n_failed, max_open, n_open;
static bool all_connected;
static struct zt_timer deadline;
static uint64_t dial_t0;

/* dial --udp --mode rtp: paced RTP datagrams (PCMU, 20 ms); what comes back is only counted */
static bool rtp_mode(void)
{
	return !strcmp(opt.mode, "rtp");
}

static void dc_finish(struct dconn *d, bool ok, const char *why)
{
	if (d->done)
		return;
	d->done = true;
	n_done++;
	if (!ok) {
		d->failed = true;
		n_failed++;
		logf_("conn %u: FAILED: %s", d->idx, why);
	}
	if (d->c) {
		zt_close(d->c);
		d->c = NULL;
		n_open--;
	}
	if (n_done == opt.conns) {
		uint64_t ms = zt_now_ms() - dial_t0;
		uint64_t tot = 0;

		for (unsigned i = 0; i < opt.conns; i++)
			tot += dcs[i].recvd;
		uint64_t lost = 0;

		for (unsigned i = 0; i < opt.conns; i++)
			lost += opt.count - dcs[i].dgram_recvd;
		if (opt.udp && opt.pace_ms) {
			/* echoes that stopped for good: the gap runs to when the last one was due */
			for (unsigned i = 0; i < opt.conns; i++) {
				uint64_t last_due = dcs[i].pace_start + (uint64_t)(opt.count - 1) * opt.pace_ms;

				if (dcs[i].last_echo && dcs[i].dgram_recvd < opt.count && last_due > dcs[i].last_echo &&
				    last_due - dcs[i].last_echo > pace_gap_ms) {
					pace_gap_ms = last_due - dcs[i].last_echo;
					pace_gap_at_ms = dcs[i].last_echo - t0;
				}
			}
			printf("dial: paced %u ms: latency max %" PRIu64 " ms (at %.3f s), %" PRIu64
			       " datagrams over 100 ms, %" PRIu64 " lost\n", opt.pace_ms, pace_max_ms,
			       (double)pace_max_at_ms / 1000.0, pace_over100, lost);
			printf("dial: paced %u ms: longest gap between echoes %" PRIu64 " ms (from %.3f s)\n",
			       opt.pace_ms, pace_gap_ms, (double)pace_gap_at_ms / 1000.0);
			char p50[24], p99[24];

			qsort(pace_lat, pace_nlat, sizeof(*pace_lat), cmp_u64);
			pace_pct(50, (uint64_t)opt.count * opt.conns, p50, sizeof(p50));
			pace_pct(99, (uint64_t)opt.count * opt.conns, p99, sizeof(p99));
			printf("dial: paced latency p50 %s ms, p99 %s ms\n", p50, p99);
		}
		if (opt.udp)
			printf("dial: %u conns, %u failed, %u datagrams each, max open %u, %" PRIu64 " ms\n", opt.conns,
			       n_failed, opt.count, max_open, ms);
		else
			printf("dial: %u conns, %u failed, %" PRIu64 " bytes sent each, %" PRIu64
			       " bytes received total, max open %u, %" PRIu64 " ms, %.1f MB/s\n",
			       opt.conns, n_failed, opt.bytes, tot, max_open, ms,
			       ms ? (double)opt.bytes * opt.conns / 1e6 / ((double)ms / 1000) : 0.0);
		printf("auth: %s, %" PRIu64 " token refreshes\n", zt_ctx_auth_method(ctx), zt_ctx_token_refreshes(ctx));
		exit_code = n_failed ? 1 : 0;
		zt_loop_stop(loop);
	}
}

static void dc_pump(struct dconn *d)
{
	uint8_t buf[16384];

	if (opt.udp) {
		uint64_t now = zt_now_ms();

		if (opt.pace_ms && !d->pace_start)
			d->pace_start = now;
		while (d->dgram_sent < opt.count && zt_writable(d->c) &&
		       (!opt.pace_ms || now >= d->pace_start + (uint64_t)d->dgram_sent * opt.pace_ms)) {
			uint32_t seq = d->dgram_sent;

			memcpy(buf, &seq, 4);
			gen_fill(d->idx * 100000ull + seq, 0, buf + 4, opt.size - 4);
			if (rtp_mode()) { /* RTP version 2, PCMU, 20 ms of 8 kHz per datagram */
				uint32_t ts = seq * 160, ssrc = 0x5a000000u | d->idx;

				buf[0] = 0x80;
				buf[1] = 0;
				buf[2] = (uint8_t)(seq >> 8);
				buf[3] = (uint8_t)seq;
				for (int i = 0; i < 4; i++) {
					buf[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
					buf[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
				}
			}
			int rc = zt_write(d->c, buf, opt.size);

			if (rc) {
				dc_finish(d, false, zt_strerror(rc));
				return;
			}
			d->dgram_sent++;
			if (rtp_mode() && d->dgram_sent == opt.count) {
				dc_finish(d, true, NULL);
				return;
			}
		}
		return;
	}
	if (!strcmp(opt.mode, "recv"))
		return;
	while (d->sent < opt.bytes && zt_writable(d->c)) {
		size_t n = opt.bytes - d->sent > sizeof(buf) ? sizeof(buf) : opt.bytes - d->sent;

		gen_fill(d->idx, d->sent, buf, n);
		if (d->md)
			EVP_DigestUpdate(d->md, buf, n);
		int rc = zt_write(d->c, buf, n);

		if (rc) {
			dc_finish(d, false, zt_strerror(rc));
			return;
		}
		d->sent += n;
	}
	if (d->sent == opt.bytes && !d->fin_sent) {
		d->fin_sent = true;
		if (d->md) {
			unsigned int l = 0;

			EVP_DigestFinal_ex(d->md, d->digest, &l);
		}
		zt_close_write(d->c);
	}
}

static void d_on_writable(struct zt_conn *c, void *u)
{
	(void)c;
	struct dconn *d = u;

	if (!d->done)
		dc_pump(d);
}

static struct zt_timer linger;

static void start_all(void)
{
	all_connected = true;
	for (unsigned i = 0; i < opt.conns; i++)
		if (dcs[i].connected && !dcs[i].done)
			dc_pump(&dcs[i]);
}

static void linger_cb(void *arg)
{
	(void)arg;
	start_all();
}

static void d_on_connect(struct zt_conn *c, int err, const char *reason, void *u)
{
	(void)c;
	struct dconn *d = u;

	if (err) {
		d->c = NULL; /* dc_finish closes: keep the handle for it */
		d->c = c;
		dc_finish(d, false, reason);
		return;
	}
	d->connected = true;
	n_connected++;
	n_open++;
	if (n_open > max_open)
		max_open = n_open;
	if (opt.verbose)
		logf_("conn %u connected (id %u, %s)", d->idx, zt_conn_id(c), zt_conn_encrypted(c) ? "e2e" : "plain");
	if (opt.hold && !all_connected) {
		if (n_connected == opt.conns) {
			logf_("all %u connections open", opt.conns);
			if (opt.linger_ms) {
				zt_timer_init(&linger, linger_cb, NULL);
				zt_timer_start(loop, &linger, opt.linger_ms);
			} else {
				start_all();
			}
		}
		return;
	}
	dc_pump(d);
}

static void d_on_data(struct zt_conn *c, const uint8_t *p, size_t n, void *u)
{
	(void)c;
	struct dconn *d = u;
	char why[128];

	if (d->done)
		return;
	if (n == 0) {
		d->eof = true;
		if (opt.udp)
			return;
		if (!strcmp(opt.mode, "sink")) {
			if (d->recvd != 32 || memcmp(d->got_digest, d->digest, 32))
				dc_finish(d, false, "SHA-256 of the data seen by the host differs");
			else
				dc_finish(d, true, NULL);
			return;
		}
		if (d->recvd != opt.bytes) {
			snprintf(why, sizeof(why), "EOF after %" PRIu64 " of %" PRIu64 " bytes", d->recvd, opt.bytes);
			dc_finish(d, false, why);
		} else {
			dc_finish(d, true, NULL);
		}
		return;
	}
	if (opt.udp && rtp_mode()) { /* whatever the other side sends: counted only */
		d->recvd += n;
		d->dgram_recvd += d->dgram_recvd < opt.count;
		return;
	}
	if (opt.udp) {
		uint32_t seq;

		if (n != opt.size) {
			snprintf(why, sizeof(why), "datagram of %zu bytes, expected %u", n, opt.size);
			dc_finish(d, false, why);
			return;
		}
		memcpy(&seq, p, 4);
		if (seq >= opt.count || d->seen[seq]) {
			snprintf(why, sizeof(why), "unexpected or duplicate datagram seq %u", seq);
			dc_finish(d, false, why);
			return;
		}
		for (unsigned i = 4; i < opt.size; i++)
			if (p[i] != gen_byte(d->idx * 100000ull + seq, i - 4)) {
				snprintf(why, sizeof(why), "datagram %u corrupted at byte %u", seq, i);
				dc_finish(d, false, why);
				return;
			}
		d->seen[seq] = 1;
		d->recvd += n;
		if (opt.pace_ms) {
			uint64_t now = zt_now_ms(), due = d->pace_start + (uint64_t)seq * opt.pace_ms;
			uint64_t lat = now > due ? now - due : 0;

			if (lat > pace_max_ms) {
				pace_max_ms = lat;
				pace_max_at_ms = now - t0;
			}
			if (lat > 100)
				pace_over100++;
			if (d->last_echo && now - d->last_echo > pace_gap_ms) {
				pace_gap_ms = now - d->last_echo;
				pace_gap_at_ms = d->last_echo - t0;
			}
			d->last_echo = now;
			if (pace_lat)
				pace_lat[pace_nlat++] = lat;
		}
		if (++d->dgram_recvd == opt.count)
			dc_finish(d, true, NULL);
		return;
	}
	if (!strcmp(opt.mode, "recv")) {
		d->recvd += n;
		if (d->recvd >= opt.bytes)
			dc_finish(d, true, NULL);
		return;
	}
	if (!strcmp(opt.mode, "sink")) {
		if (d->recvd + n > 32) {
			dc_finish(d, false, "more than a digest came back");
			return;
		}
		memcpy(d->got_digest + d->recvd, p, n);
		d->recvd += n;
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (p[i] != gen_byte(d->idx, d->recvd + i)) {
			snprintf(why, sizeof(why), "byte %" PRIu64 " differs", d->recvd + i);
			dc_finish(d, false, why);
			return;
		}
	d->recvd += n;
	if (d->recvd > opt.bytes)
		dc_finish(d, false, "more bytes than sent");
}

static void d_on_close(struct zt_conn *c, int err, const char *reason, void *u)
{
	(void)c;
	(void)err;
	struct dconn *d = u;
	char why[600];

	if (d->done)
		return;
	if (opt.udp && d->dgram_recvd == opt.count) {
		dc_finish(d, true, NULL);
		return;
	}
	/* --accept-close: a peer that closes (instead of FIN) after echoing everything is fine */
	if (opt.accept_close && !opt.udp && !strcmp(opt.mode, "echo") && d->fin_sent && d->recvd == opt.bytes) {
		dc_finish(d, true, NULL);
		return;
	}
	snprintf(why, sizeof(why), "closed before completion: %s", reason ? reason : "?");
	dc_finish(d, false, why);
}

static const struct zt_conn_cbs dial_cbs = {
	.on_connect = d_on_connect, .on_data = d_on_data, .on_close = d_on_close, .on_writable = d_on_writable,
};

static void deadline_cb(void *arg)
{
	(void)arg;
	printf("dial: timeout after %u ms: %u of %u done, %u connected\n", opt.timeout_ms, n_done, opt.conns,
	       n_connected);
	for (unsigned i = 0; i < opt.conns && i < 5; i++)
		if (!dcs[i].done)
			logf_("conn %u: sent %" PRIu64 " recvd %" PRIu64 " dgrams %u/%u", i, dcs[i].sent, dcs[i].recvd,
			      dcs[i].dgram_sent, dcs[i].dgram_recvd);
	exit_code = 1;
	zt_loop_stop(loop);
}

/* --pace-ms: 2 s after the last datagram was sent, what did not come back is lost */
static void pace_grace_cb(void *arg)
{
	char why[64];

	(void)arg;
	for (unsigned i = 0; i < opt.conns; i++)
		if (!dcs[i].done) {
			snprintf(why, sizeof(why), "%u of %u datagrams echoed", dcs[i].dgram_recvd, opt.count);
			dc_finish(&dcs[i], false, why);
		}
}

static void pace_cb(void *arg)
{
	bool all_sent = true;

	(void)arg;
	for (unsigned i = 0; i < opt.conns; i++) {
		if (dcs[i].connected && !dcs[i].done)
			dc_pump(&dcs[i]);
		if (dcs[i].dgram_sent < opt.count && !dcs[i].done)
			all_sent = false;
	}
	if (all_sent) {
		zt_timer_init(&pace_grace, pace_grace_cb, NULL);
		zt_timer_start(loop, &pace_grace, 2000);
		return;
	}
	zt_timer_start(loop, &pace_timer, opt.pace_ms);
}

static void run_dial(void)
{
	struct zt_dial_opts o = { .datagram = opt.udp, .lossy = opt.udp, .terminator_identity = opt.term_id, .app_data = opt.app_data,
				  .app_data_len = opt.app_data ? strlen(opt.app_data) : 0 };

	dcs = calloc(opt.conns, sizeof(*dcs));
	dial_t0 = zt_now_ms();
	for (unsigned i = 0; i < opt.conns; i++) {
		struct dconn *d = &dcs[i];

		d->idx = i;
		if (!strcmp(opt.mode, "sink")) {
			d->md = EVP_MD_CTX_new();
			EVP_DigestInit_ex(d->md, EVP_sha256(), NULL);
		}
		if (opt.udp)
			d->seen = calloc(opt.count, 1);
		if (opt.udp && opt.pace_ms && !pace_lat)
			pace_lat = calloc((size_t)opt.count * opt.conns, sizeof(*pace_lat));
		d->c = zt_dial(ctx, opt.service, &o, &dial_cbs, d);
		if (!d->c)
			dc_finish(d, false, "zt_dial failed");
	}
	zt_timer_init(&deadline, deadline_cb, NULL);
	zt_timer_start(loop, &deadline, opt.timeout_ms);
	if (opt.udp && opt.pace_ms) {
		zt_timer_init(&pace_timer, pace_cb, NULL);
		zt_timer_start(loop, &pace_timer, opt.pace_ms);
	}
}

/* ------------------------------------------------------------------ host */

struct hconn {
	struct zt_conn *c;
	EVP_MD_CTX *md;
	uint64_t bytes;
	struct hconn *next, *prev;
};
static struct hconn *hconns;

static void hconn_free(struct hconn *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		hconns = h->next;
	if (h->next)
		h->next->prev = h->prev;
	EVP_MD_CTX_free(h->md);
	free(h);
}

static unsigned h_accepted, h_active;
static bool h_ready_written;

static void h_on_data(struct zt_conn *c, const uint8_t *p, size_t n, void *u)
{
	struct hconn *h = u;

	if (n == 0) { /* peer FIN */
		if (h->md) {
			uint8_t dg[32];
			unsigned int l = 0;

			EVP_DigestFinal_ex(h->md, dg, &l);
			zt_write(c, dg, 32);
		}
		if (opt.verbose)
			logf_("host: conn %u EOF after %" PRIu64 " bytes", zt_conn_id(c), h->bytes);
		zt_close_write(c);
		return;
	}
	h->bytes += n;
	if (h->md)
		EVP_DigestUpdate(h->md, p, n);
	else
		zt_write(c, p, n); /* echo; the library queues (no flow control needed for tests) */
}

static void h_on_close(struct zt_conn *c, int err, const char *reason, void *u)
{
	struct hconn *h = u;

	(void)err;
	if (opt.verbose)
		logf_("host: conn %u closed (%s) after %" PRIu64 " bytes", zt_conn_id(c), reason ? reason : "", h->bytes);
	zt_close(c);
	hconn_free(h);
	h_active--;
}

static const struct zt_conn_cbs host_cbs = { .on_data = h_on_data, .on_close = h_on_close };

static void h_on_dial(struct zt_listener *l, struct zt_dial_req *r, void *u)
{
	(void)l;
	(void)u;
	struct hconn *h = calloc(1, sizeof(*h));
	size_t adl = 0;
	const uint8_t *ad = zt_dial_req_app_data(r, &adl);

	if (!strcmp(opt.mode, "sink") && !opt.udp) {
		h->md = EVP_MD_CTX_new();
		EVP_DigestInit_ex(h->md, EVP_sha256(), NULL);
	}
	h->c = zt_accept(r, &host_cbs, h);
	if (!h->c) {
		EVP_MD_CTX_free(h->md);
		free(h);
		return;
	}
	h_accepted++;
	h_active++;
	h->next = hconns;
	if (hconns)
		hconns->prev = h;
	hconns = h;
	if (opt.verbose)
		logf_("host: accepted conn %u from '%s' app_data=%.*s", zt_conn_id(h->c),
		      zt_dial_req_caller(r) ? zt_dial_req_caller(r) : "", (int)(adl > 200 ? 200 : adl),
		      ad ? (const char *)ad : "");
}

static unsigned h_established, nlisteners;

static void h_on_status(struct zt_listener *l, int err, const char *msg, void *u)
{
	(void)l;
	logf_("host %s: %s%s", (const char *)u, err ? "error: " : "", msg);
	if (!err && !h_ready_written)
		h_established++;
	if (!err && opt.ready_file && !h_ready_written && h_established == nlisteners) {
		FILE *f = fopen(opt.ready_file, "w");

		if (f) {
			fprintf(f, "ready %" PRIu64 "\n", epoch_ms());
			fclose(f);
		}
		h_ready_written = true;
	} else if (!err && opt.ready_file) {
		FILE *f = fopen(opt.ready_file, "a");

		if (f) {
			fprintf(f, "rebound %" PRIu64 "\n", epoch_ms());
			fclose(f);
		}
	}
}

#define MAX_LISTENERS 16
static struct zt_listener *listeners[MAX_LISTENERS];

/* -s "svc[:udp],svc2[:udp],..." : one listener per service */
static void run_host(void)
{
	char *list = strdup(opt.service), *save = NULL;

	for (char *it = strtok_r(list, ",", &save); it && nlisteners < MAX_LISTENERS; it = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(it, ':');
		bool udp = opt.udp;

		if (colon) {
			*colon = 0;
			udp = !strcmp(colon + 1, "udp");
		}
		struct zt_listen_opts o = { .terminator_identity = opt.term_id, .cost = (uint16_t)opt.cost,
					    .precedence = (uint8_t)opt.precedence, .datagram = udp };
		struct zt_listener_cbs cbs = { .on_status = h_on_status, .on_dial = h_on_dial };

		listeners[nlisteners++] = zt_listen(ctx, it, &o, &cbs, strdup(it));
	}
	free(list);
}

/* ------------------------------------------------------------------ probe */

static FILE *probe_log;
static struct zt_timer probe_timer, probe_tmo;
static struct zt_conn *probe_c;
static uint64_t probe_start;
static uint8_t probe_buf[64];
static size_t probe_got;
static unsigned probe_n;

static void probe_done(bool ok, const char *why)
{
	if (probe_c) {
		zt_close(probe_c);
		probe_c = NULL;
	}
	zt_timer_stop(loop, &probe_tmo);
	if (ok)
		fprintf(probe_log, "ok %" PRIu64 " %" PRIu64 "\n", epoch_ms(), zt_now_ms() - probe_start);
	else
		fprintf(probe_log, "fail %" PRIu64 " %s\n", epoch_ms(), why ? why : "?");
	fflush(probe_log);
	zt_timer_start(loop, &probe_timer, opt.interval_ms);
}

static void p_on_connect(struct zt_conn *c, int err, const char *reason, void *u)
{
	(void)u;
	if (err) {
		probe_done(false, reason);
		return;
	}
	gen_fill(probe_n, 0, probe_buf, sizeof(probe_buf));
	zt_write(c, probe_buf, sizeof(probe_buf));
	zt_close_write(c);
}

static void p_on_data(struct zt_conn *c, const uint8_t *p, size_t n, void *u)
{
	(void)c;
	(void)u;
	if (n == 0) {
		probe_done(probe_got == sizeof(probe_buf), probe_got == sizeof(probe_buf) ? NULL : "short echo");
		return;
	}
	if (probe_got + n > sizeof(probe_buf) || memcmp(probe_buf + probe_got, p, n)) {
		probe_done(false, "echo mismatch");
		return;
	}
	probe_got += n;
}

static void p_on_close(struct zt_conn *c, int err, const char *reason, void *u)
{
	(void)c;
	(void)err;
	(void)u;
	probe_done(false, reason ? reason : "closed");
}

static const struct zt_conn_cbs probe_cbs = { .on_connect = p_on_connect, .on_data = p_on_data, .on_close = p_on_close };

static void probe_tmo_cb(void *arg)
{
	(void)arg;
	probe_done(false, "probe timed out");
}

static void probe_cb(void *arg)
{
	(void)arg;
	probe_n++;
	probe_got = 0;
	probe_start = zt_now_ms();
	probe_c = zt_dial(ctx, opt.service, NULL, &probe_cbs, NULL);
	zt_timer_start(loop, &probe_tmo, 8000);
}

static void run_probe(void)
{
	probe_log = fopen(opt.log_file, "a");
	if (!probe_log) {
		perror(opt.log_file);
		exit(1);
	}
	setvbuf(probe_log, NULL, _IOLBF, 0);
	zt_timer_init(&probe_timer, probe_cb, NULL);
	zt_timer_init(&probe_tmo, probe_tmo_cb, NULL);
	zt_timer_start(loop, &probe_timer, opt.start_delay_ms);
}

/* ------------------------------------------------------------------ main */

static void on_ready(struct zt_ctx *c, int err, const char *msg, void *u)
{
	(void)u;
	if (err) {
		fprintf(stderr, "zt-tool: %s\n", msg);
		exit_code = 1;
		zt_loop_stop(loop);
		return;
	}
	if (opt.verbose)
		logf_("ready, api session %s", zt_ctx_api_session_id(c) ? zt_ctx_api_session_id(c) : "?");
	if (opt.session_file) {
		FILE *f = fopen(opt.session_file, "w");

		if (f) {
			fprintf(f, "%s\n", zt_ctx_api_session_id(c) ? zt_ctx_api_session_id(c) : "");
			fclose(f);
		}
	}
	if (!strcmp(opt.cmd, "services")) {
		for (size_t i = 0; zt_service_at(c, i); i++) {
			const struct zt_service *s = zt_service_at(c, i);

			printf("%s perms=%s%s encryption=%s intercept.v1=%s host.v1=%s\n", s->name,
			       (s->perms & ZT_PERM_DIAL) ? "D" : "", (s->perms & ZT_PERM_BIND) ? "B" : "",
			       s->encryption_required ? "required" : "off",
			       s->intercept_v1_json ? s->intercept_v1_json : "-", s->host_v1_json ? s->host_v1_json : "-");
		}
		exit_code = 0;
		zt_loop_stop(loop);
	} else if (!strcmp(opt.cmd, "dial")) {
		run_dial();
	} else if (!strcmp(opt.cmd, "host")) {
		run_host();
	} else if (!strcmp(opt.cmd, "probe")) {
		run_probe();
	} else if (!strcmp(opt.cmd, "request")) {
		run_request(c, loop, opt.service, opt.send, opt.timeout_ms, &exit_code); /* tool_request.c */
	}
}

static void on_log(struct zt_ctx *c, int level, const char *msg, void *u)
{
	(void)c;
	(void)u;
	static const char *lv[] = { "ERROR", "WARN", "INFO", "DEBUG" };

	logf_("%s %s", lv[level < 0 ? 0 : level > 3 ? 3 : level], msg);
	if (probe_log) /* so tests can order client events and probe results on one clock */
		fprintf(probe_log, "log %" PRIu64 " %s\n", epoch_ms(), msg);
}

static struct zt_io sig_io;
static int sig_fd;

static void on_signal(void *arg, uint32_t ev)
{
	(void)arg;
	(void)ev;
	struct signalfd_siginfo si;

	if (read(sig_fd, &si, sizeof(si)) > 0) {
		if (si.ssi_signo == SIGUSR1) { /* probe: start now instead of after --start-delay-ms */
			if (!strcmp(opt.cmd, "probe") && !probe_c && zt_timer_armed(&probe_timer))
				zt_timer_start(loop, &probe_timer, 0);
			return;
		}
		if (!strcmp(opt.cmd, "host") || !strcmp(opt.cmd, "probe"))
			exit_code = 0;
		zt_loop_stop(loop);
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: zt-tool services|dial|host|probe|request -i IDENTITY.json [-s SERVICE] [options]\n"
		"  request: --send LINE (one line to SERVICE, the reply on standard output)\n"
		"  --udp  --mode echo|sink|recv  --bytes N  --conns C  --count K  --size S  --pace-ms P  --hold  --linger-ms L\n"
		"  --accept-close\n"
		"  --timeout-ms T  --ready-file F  --terminator-identity X  --cost N  --precedence P\n"
		"  --log FILE  --interval-ms I  --start-delay-ms D  --poll-ms P  --latency-ms L  --session-file F  -v\n"
		"  --renew (renew the identity certificate when due and write it to the identity file;\n"
		"           off by default: a test tool must not rewrite an identity a daemon uses)\n"
		"  --auth legacy|auto|oidc (default legacy)  --token-refresh-ms N (OIDC: refresh at least this often)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "identity", 1, 0, 'i' }, { "service", 1, 0, 's' }, { "udp", 0, 0, 'u' },
		{ "mode", 1, 0, 'm' }, { "bytes", 1, 0, 'b' }, { "conns", 1, 0, 'c' },
		{ "count", 1, 0, 'k' }, { "size", 1, 0, 'z' }, { "hold", 0, 0, 'H' },
		{ "timeout-ms", 1, 0, 't' }, { "ready-file", 1, 0, 'r' }, { "terminator-identity", 1, 0, 'T' },
		{ "cost", 1, 0, 'C' }, { "precedence", 1, 0, 'P' }, { "log", 1, 0, 'l' },
		{ "interval-ms", 1, 0, 'I' }, { "poll-ms", 1, 0, 'p' }, { "latency-ms", 1, 0, 'L' },
		{ "session-file", 1, 0, 'S' }, { "start-delay-ms", 1, 0, 'D' }, { "accept-close", 0, 0, 'A' }, { "verbose", 0, 0, 'v' },
		{ "app-data", 1, 0, 'a' }, { "linger-ms", 1, 0, 'g' }, { "pace-ms", 1, 0, 'R' },
		{ "no-renew", 0, 0, 'N' }, { "renew", 0, 0, 'W' }, { "auth", 1, 0, 'U' }, { "token-refresh-ms", 1, 0, 'F' },
		{ "send", 1, 0, 'Q' }, { 0, 0, 0, 0 },
	};
	int ch;

	t0 = zt_now_ms();
	if (argc < 2)
		usage();
	opt.cmd = argv[1];
	optind = 2;
	while ((ch = getopt_long(argc, argv, "i:s:vu", lo, NULL)) != -1) {
		switch (ch) {
		case 'i': opt.identity = optarg; break;
		case 's': opt.service = optarg; break;
		case 'u': opt.udp = true; break;
		case 'm': opt.mode = optarg; break;
		case 'b': opt.bytes = strtoull(optarg, NULL, 0); break;
		case 'c': opt.conns = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'k': opt.count = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'z': opt.size = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'H': opt.hold = true; break;
		case 'g': opt.linger_ms = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'R': opt.pace_ms = (unsigned)strtoul(optarg, NULL, 0); break;
		case 't': opt.timeout_ms = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'r': opt.ready_file = optarg; break;
		case 'T': opt.term_id = optarg; break;
		case 'C': opt.cost = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'P': opt.precedence = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'l': opt.log_file = optarg; break;
		case 'I': opt.interval_ms = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'p': opt.poll_ms = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'L': opt.latency_ms = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'S': opt.session_file = optarg; break;
		case 'A': opt.accept_close = true; break;
		case 'D': opt.start_delay_ms = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'v': opt.verbose = true; break;
		case 'a': opt.app_data = optarg; break;
		case 'N': opt.no_renew = true; break;
		case 'U':
			if (!strcmp(optarg, "legacy"))
				opt.auth_mode = ZT_AUTH_MODE_LEGACY;
			else if (!strcmp(optarg, "auto"))
				opt.auth_mode = ZT_AUTH_MODE_AUTO;
			else if (!strcmp(optarg, "oidc"))
				opt.auth_mode = ZT_AUTH_MODE_OIDC;
			else
				usage();
			break;
		case 'F': opt.token_refresh_ms = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'Q': opt.send = optarg; break;
		case 'W': opt.no_renew = false; break;
		default: usage();
		}
	}
	bool known = !strcmp(opt.cmd, "services") || !strcmp(opt.cmd, "dial") || !strcmp(opt.cmd, "host") ||
		     !strcmp(opt.cmd, "probe") || !strcmp(opt.cmd, "request");

	if (!known || !opt.identity || (strcmp(opt.cmd, "services") && !opt.service) ||
	    (!strcmp(opt.cmd, "probe") && !opt.log_file) || (!strcmp(opt.cmd, "request") && !opt.send) || opt.conns == 0 || (opt.udp && (opt.size < 4 || opt.size > 65000)) ||
	    (strcmp(opt.mode, "echo") && strcmp(opt.mode, "sink") &&
	     (strcmp(opt.mode, "recv") || strcmp(opt.cmd, "dial") || opt.udp) &&
	     (strcmp(opt.mode, "rtp") || strcmp(opt.cmd, "dial") || !opt.udp || opt.size < 12)))
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);

	char err[512];
	struct zt_identity *id = zt_identity_load(opt.identity, err, sizeof(err));

	if (!id) {
		fprintf(stderr, "zt-tool: %s\n", err);
		return 1;
	}
	loop = zt_loop_new();
	struct zt_opts zo = { .svc_poll_ms = opt.poll_ms, .latency_ms = opt.latency_ms,
			      .log_level = opt.verbose ? 2 : 1, .app_id = "zt-tool", .renew_off = opt.no_renew,
			      .auth_mode = opt.auth_mode, .token_refresh_ms = opt.token_refresh_ms };
	struct zt_ctx_cbs cbs = { .on_ready = on_ready, .on_log = on_log };

	ctx = zt_ctx_new(loop, id, &zo, &cbs, NULL);
	if (!ctx) {
		fprintf(stderr, "zt-tool: cannot create context\n");
		return 1;
	}
	sigset_t ss;

	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGUSR1);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	sig_fd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
	zt_io_init(&sig_io, sig_fd, on_signal, NULL);
	zt_io_set(loop, &sig_io, EPOLLIN);
	zt_ctx_start(ctx);
	zt_loop_run(loop, -1);

	for (unsigned i = 0; i < nlisteners; i++) {
		free(zt_listener_user(listeners[i]));
		zt_listener_close(listeners[i]);
	}
	if (!strcmp(opt.cmd, "host"))
		logf_("host: %u connections accepted", h_accepted);
	while (hconns) {
		zt_close(hconns->c);
		hconn_free(hconns);
	}
	if (probe_c)
		zt_close(probe_c);
	if (dcs) {
		for (unsigned i = 0; i < opt.conns; i++) {
			if (dcs[i].c)
				zt_close(dcs[i].c);
			EVP_MD_CTX_free(dcs[i].md);
			free(dcs[i].seen);
		}
		free(dcs);
		free(pace_lat);
	}
	zt_ctx_free(ctx);
	zt_io_del(loop, &sig_io);
	close(sig_fd);
	zt_loop_free(loop);
	if (probe_log)
		fclose(probe_log);
	return exit_code;
}
