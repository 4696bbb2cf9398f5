// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target of daemon/rtpq.c: the input is a sequence of records
 * [flags][len][len bytes]; flags bit 0 picks the direction, bits 1-7 the time step (ms).
 * Each record goes to rtpq_update, rtpq_classify and rtpq_rtcp_parse; a record whose flags
 * are 0xff is an SDP rtpmap line for direction 0 instead. Snapshots of both directions and
 * the one-way check run after every record, and their figures are checked for sanity.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/rtpq.h"

static void check(const struct rtpq_snap *s)
{
	if (s->loss_ratio < 0 || s->loss_ratio > 1 || s->jitter_ms < 0 || (s->mos && (s->mos < 1 || s->mos > 4.5)))
		abort();
	if (s->expected > 0 && s->lost > (int64_t)s->expected)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rtpq_dir d[2];
	struct rtpq_snap s;
	struct rtpq_rtcp r;
	uint64_t now = 1000000;
	char err[128];

	memset(d, 0, sizeof(d));
	while (size >= 2) {
		unsigned fl = data[0], len = data[1];

		data += 2;
		size -= 2;
		if (len > size)
			len = (unsigned)size;
		if (fl == 0xff) {
			rtpq_rtpmap(&d[0], (const char *)data, len);
		} else {
			now += 1000u * (fl >> 1);
			rtpq_classify(data, len);
			rtpq_rtcp_parse(data, len, &r, err, sizeof(err));
			rtpq_update(&d[fl & 1], data, len, now);
			rtpq_oneway(&d[0], &d[1], now, 2000000);
		}
		data += len;
		size -= len;
		rtpq_snapshot(&d[0], &d[1], now, &s);
		check(&s);
		rtpq_snapshot(&d[1], &d[0], now, &s);
		check(&s);
	}
	return 0;
}
