// SPDX-License-Identifier: GPL-2.0
/*
 * zt-tool dial: connections that echo, sink, receive or pace datagrams (RTP-like), every byte
 * verified (zt_tool.c has the options and main).
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

#include "daemon/ziti/zt_tool.h"

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
	static uint8_t buf[65536]; /* --udp --size: at most 65000 */

	if (opt.udp) {
		uint64_t now = zt_now_ms();

		if (opt.pace_ms && !d->pace_start)
			d->pace_start = now;
		while (d->dgram_sent < opt.count && zt_writable(d->c) &&
		       (!opt.pace_ms || now >= d->pace_start + (uint64_t)d->dgram_sent * opt.pace_ms)) {
			uint32_t seq = d->dgram_sent;

			size_t len = opt.size;

			memcpy(buf, &seq, 4);
			gen_fill(d->idx * 100000ull + seq, 0, buf + 4, opt.size - 4);
			if (opt.send) { /* --send TEXT: every datagram is that text (e.g. a SIP message) */
				len = strlen(opt.send); /* at most 65000 (zt_tool.c) */
				memcpy(buf, opt.send, len);
			}
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
			int rc = zt_write(d->c, buf, len);

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

		if (opt.send) { /* --send: each echo is the text, in order */
			if (n != strlen(opt.send) || memcmp(p, opt.send, n) || d->dgram_recvd >= opt.count) {
				snprintf(why, sizeof(why), "datagram %u of %zu bytes is not the text sent", d->dgram_recvd, n);
				dc_finish(d, false, why);
				return;
			}
			seq = d->dgram_recvd;
			goto verified;
		}
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
verified:
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

void run_dial(void)
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

void dial_cleanup(void)
{
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
}
