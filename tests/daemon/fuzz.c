// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target of sipovld's I/O-free parsers: the first byte selects intercept.v1,
 * host.v1 (+ host_compute against a fixed app_data), app_data (+ host_compute against a fixed
 * forwarding host.v1), sipovld.conf, or a template expansion; a first byte of 0xf0 or more
 * selects the ip-pool's lease file (odd) or pool service request and reply (even), with the
 * invariant that a loaded file dumps and loads back to the same leases.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/cfg.h"
#include "daemon/pool.h"

static const char *HOST =
	"{\"forwardProtocol\":true,\"allowedProtocols\":[\"udp\",\"tcp\"],\"forwardAddress\":true,"
	"\"allowedAddresses\":[\"10.2.0.0/24\",\"fd02::/64\",\"*.sip.example\"],\"forwardAddressTranslations\":[{\"from\":\"10.2.0.128\","
	"\"to\":\"192.168.7.0\",\"prefixLength\":25}],\"forwardPort\":true,\"allowedPortRanges\":[{\"low\":1,\"high\":65535}],"
	"\"allowedSourceAddresses\":[\"10.1.0.0/16\",\"fd01::/32\"]}";

static const char *fz_attr(void *arg, const char *kind, const char *key)
{
	(void)arg;
	return !strcmp(kind, "tag") && !strcmp(key, "ipaddr") ? "10.1.0.9" : NULL;
}

static const struct tpl_vars GW = { .tunneler_name = "gw", .attr = fz_attr };

/* the ip-pool's parsers: the lease file, or a service request then the bytes as a reply and
 * as an endpoint's state file */
static void fuzz_pool(uint8_t sel, const char *in, size_t len)
{
	struct sipovl_prefix r = { .family = AF_INET, .len = 24, .addr = { 100, 127, 0, 0 } }, a;
	struct pool p, q;
	char err[300], rep[200], *dump;
	size_t dl;

	if (pool_init(&p, "voip-ips", &r, err, sizeof(err)))
		abort();
	pool_claim(&p, "alice", NULL, &a);
	if (sel & 1) {
		if (!pool_load(&p, in, len, err, sizeof(err))) {
			dl = pool_dump(&p, NULL, 0);
			dump = malloc(dl + 1);
			if (dump) {
				pool_dump(&p, dump, dl + 1);
				pool_init(&q, "voip-ips", &r, err, sizeof(err));
				if (pool_load(&q, dump, dl, err, sizeof(err)) || q.n != p.n)
					abort(); /* what was loaded dumps and loads back */
				pool_fini(&q);
				free(dump);
			}
		} else if (p.n != 1) {
			abort(); /* a refused file leaves the leases */
		}
	} else {
		size_t n = pool_serve(&p, "bob", in, len, rep, sizeof(rep));

		if (n >= sizeof(rep) || pool_parse_reply(rep, n, &a, NULL, NULL, err, sizeof(err)) < 0)
			abort(); /* every reply is well-formed */
		pool_parse_reply(in, len, &a, NULL, NULL, err, sizeof(err));
		/* an endpoint's state file: what it reads back, it writes back the same */
		if (pool_state_parse(in, len, "voip-ips", &a, err, sizeof(err)) == 0) {
			char st[160];
			struct sipovl_prefix b;
			size_t sn = pool_state_fmt("voip-ips", &a, st, sizeof(st));

			if (sn >= sizeof(st) || pool_state_parse(st, sn, "voip-ips", &b, err, sizeof(err)) ||
			    memcmp(&a, &b, sizeof(a)))
				abort();
		}
	}
	pool_fini(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[CFG_ERRLEN], *s;

	if (size < 1)
		return 0;
	s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = 0;
	if (data[0] >= 0xf0) {
		fuzz_pool(data[0], (const char *)data + 1, size - 1);
		free(s);
		return 0;
	}
	switch (data[0] % 5) {
	case 0: {
		struct icpt_cfg c;

		if (!icpt_cfg_parse(s, &c, err, sizeof(err))) {
			struct sockaddr_storage a, b;
			struct app_data ad;
			char id[256], unk[64], json[1024];
			struct sipovl_intercept k;

			cfg_parse_hostport("10.1.0.2:40000", &a, NULL);
			cfg_parse_hostport("10.2.0.2:5060", &b, NULL);
			if (!icpt_dial_params(&c, "udp", &a, &b, &GW, &ad, id, sizeof(id), unk, sizeof(unk)))
				app_data_build(&ad, json, sizeof(json));
			icpt_to_kernel(&c, 1, "x", 0, &k);
			icpt_cfg_free(&c);
		}
		break;
	}
	case 1: {
		struct host_cfg h;
		struct app_data ad;
		struct host_target t;
		const char *j = "{\"dst_protocol\":\"udp\",\"dst_ip\":\"10.2.0.200\",\"dst_port\":\"5060\","
				"\"source_addr\":\"10.1.0.2:4000\"}";
		char id[256], unk[64];

		if (!host_cfg_parse(s, &h, err, sizeof(err))) {
			if (!app_data_parse(j, strlen(j), &ad, err, sizeof(err)))
				host_compute(&h, &ad, &t, err, sizeof(err));
			host_compute(&h, NULL, &t, err, sizeof(err));
			host_listen_identity(&h, &GW, id, sizeof(id), unk, sizeof(unk));
			host_cfg_free(&h);
		}
		break;
	}
	case 2: {
		struct host_cfg h;
		struct app_data ad;
		struct host_target t;
		char json[1024];

		if (!app_data_parse(data + 1, size - 1, &ad, err, sizeof(err))) {
			app_data_build(&ad, json, sizeof(json));
			if (!host_cfg_parse(HOST, &h, err, sizeof(err))) {
				host_compute(&h, &ad, &t, err, sizeof(err));
				host_cfg_free(&h);
			}
		}
		break;
	}
	case 3: {
		struct daemon_cfg d;

		daemon_cfg_defaults(&d);
		daemon_cfg_parse(s, &d, err, sizeof(err));
		daemon_cfg_free(&d);
		break;
	}
	default: {
		bool ep = data[0] & 16; /* an endpoint of pool voip-ips, its address claimed or not */
		struct tpl_vars v = { "udp", "10.2.0.2", "5060", NULL, "10.1.0.2", "4000", "gw", fz_attr, NULL,
				      ep ? "voip-ips" : NULL, ep && (data[0] & 32) ? "100.127.0.5" : NULL };
		char out[128], unk[32];

		tpl_expand(s, &v, out, sizeof(out), unk, sizeof(unk));
		tpl_check(s, data[0] & 8, unk, sizeof(unk));
		tpl_check_pool(s, data[0] & 8, ep ? "voip-ips" : NULL, unk, sizeof(unk));
		break;
	}
	}
	free(s);
	return 0;
}
