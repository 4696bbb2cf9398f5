// SPDX-License-Identifier: GPL-2.0
/*
 * RTP statistics benchmark: rtpq_update per datagram of a synthetic stream.
 *
 *   bench [-m rtp|other|rtcp] [-n packets] [-s seed]
 *
 * rtp: a G.711 stream, 20 ms packets, 1% random loss, 0.5% of the packets swapped with
 * the next, arrival jitter uniform in 0..10 ms; other: SIP-like text datagrams (the
 * direction is given up as not RTP after RTPQ_GIVEUP of them); rtcp: an RR with one block
 * every 250th datagram of the rtp stream. The datagrams are built first; under
 * `valgrind --tool=callgrind --toggle-collect=rtpq_update` only the updates are counted
 * (bench/rtpq/run.sh). Natively it prints the CPU ns per update and the figures found.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/rtpq.h"

static uint64_t rng = 88172645463325252ULL;

static uint32_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545f4914f6cdd1dULL) >> 32);
}

struct pk {
	uint8_t b[172];
	uint16_t len;
	uint64_t t;
};

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void mk(struct pk *k, const char *mode, unsigned i)
{
	if (!strcmp(mode, "other")) {
		k->len = (uint16_t)snprintf((char *)k->b, sizeof(k->b), "OPTIONS sip:%u@example.com SIP/2.0\r\n", i);
		return;
	}
	if (!strcmp(mode, "rtcp") && i % 250 == 249) {
		static const uint8_t rr[32] = { 0x81, 201, 0, 7, 0, 0, 0xaa, 0xaa, 0, 0, 0x12, 0x34, 3, 0, 0, 9 };

		memcpy(k->b, rr, sizeof(rr));
		k->len = sizeof(rr);
		return;
	}
	memset(k->b, 0xd5, sizeof(k->b));
	k->b[0] = 0x80;
	k->b[1] = 0;
	k->b[2] = (uint8_t)(i >> 8);
	k->b[3] = (uint8_t)i;
	put32(k->b + 4, 160 * i);
	put32(k->b + 8, 0x1234);
	k->len = 172;
}

int main(int argc, char **argv)
{
	const char *mode = "rtp";
	unsigned n = 200000;
	int o;

	while ((o = getopt(argc, argv, "m:n:s:")) != -1) {
		if (o == 'm')
			mode = optarg;
		else if (o == 'n')
			n = (unsigned)strtoul(optarg, NULL, 0);
		else if (o == 's')
			rng = strtoull(optarg, NULL, 0) | 1;
		else
			return 2;
	}
	if (strcmp(mode, "rtp") && strcmp(mode, "other") && strcmp(mode, "rtcp")) {
		fprintf(stderr, "bench: -m rtp, other or rtcp\n");
		return 2;
	}
	struct pk *k = calloc(n, sizeof(*k));
	unsigned m = 0;

	if (!k)
		return 1;
	for (unsigned i = 0; i < n; i++) {
		if (rnd() % 100 == 0) /* 1% lost */
			continue;
		mk(&k[m], mode, i);
		k[m].t = 1000000 + 20000ull * i + rnd() % 10000;
		m++;
	}
	for (unsigned i = 0; i + 1 < m; i++)
		if (rnd() % 200 == 0) { /* 0.5% swapped */
			struct pk t = k[i];

			k[i] = k[i + 1];
			k[i + 1] = t;
			i++;
		}
	struct rtpq_dir d;
	struct rtpq_snap s;
	struct timespec a, b;
	double best = 1e30;

	for (int rep = 0; rep < 3; rep++) {
		memset(&d, 0, sizeof(d));
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
		for (unsigned i = 0; i < m; i++)
			rtpq_update(&d, k[i].b, k[i].len, k[i].t);
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
		double ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / m;

		if (ns < best)
			best = ns;
	}
	rtpq_snapshot(&d, NULL, k[m - 1].t, &s);
	printf("updates=%u cpu_ns=%.1f packets=%llu lost=%lld reordered=%llu jitter_ms=%.2f other=%llu mos=%.2f\n", 3 * m,
	       best, (unsigned long long)s.packets, (long long)s.lost, (unsigned long long)s.reordered, s.jitter_ms,
	       (unsigned long long)s.other, s.mos);
	free(k);
	return 0;
}
