// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target of sipovld's SIP view (sip_msg.c, sip_sdp.c, calls.c): the input is parsed
 * as a datagram, as an SDP body, and as a TCP stream cut where its first byte says; every
 * message that parses goes through a dialog tracker with a small limit (timeouts ticked).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/calls.h"

static struct calls *T;
static uint64_t now;

static void on_msg(void *arg, const struct sip_msg *m)
{
	(void)arg;
	calls_msg(T, m, NULL, NULL, now);
}

static void on_bad(void *arg, const char *why)
{
	(void)arg;
	calls_malformed(T, why);
}

static long mem;
static bool on_mem(void *arg, long d)
{
	(void)arg;
	if (mem + d > 32768)
		return false;
	mem += d;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sip_msg m;
	static struct sdp s;
	struct calls_cfg cfg = { .max_calls = 4, .setup_timeout_ms = 1000, .idle_timeout_ms = 2000, .linger_ms = 500 };
	struct sip_stream_ops ops = { on_msg, on_bad, on_mem, NULL };
	struct sip_stream st = { 0 };
	char err[128];
	size_t cut;

	if (!T)
		T = calls_new(&cfg);
	if (!size)
		return 0;
	now += 100;
	cut = data[0] % (size ? size : 1);
	if (sip_parse((const char *)data, size, false, &m, err, sizeof(err)) == SIP_OK) {
		calls_msg(T, &m, NULL, NULL, now);
		if (m.body.n)
			sdp_parse(m.body.p, m.body.n, &s, err, sizeof(err));
	}
	sdp_parse((const char *)data, size, &s, err, sizeof(err));
	sip_sniff((const char *)data, size);
	sip_stream_feed(&st, data, cut, &ops);
	sip_stream_feed(&st, data + cut, size - cut, &ops);
	sip_stream_free(&st, &ops);
	if (mem)
		abort(); /* the stream's memory was not given back */
	calls_tick(T, now);
	return 0;
}
