// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld's DNS responder: the allow-list from the configuration (dns_allow), "connected" read
 * from the host's interface addresses (getifaddrs): the subnets of the interface addresses that
 * are dns_listen addresses (every interface address of the family for a wildcard dns_listen),
 * and loopback; its rate limit's table. Read again on a reload, and when a client outside it
 * comes (at most every ACL_RESCAN_MS: an address given to an interface since is seen).
 */
#include <ifaddrs.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "daemon/cfg.h"
#include "daemon/dns_guard.h"
#include "daemon/dns_server.h"
#include "daemon/sipovld.h"

#define ACL_RESCAN_MS 10000
#define REFUSED_LOG_MS 60000    /* a client refused is logged at most this often */

static struct {
	bool on;
	struct dns_acl acl;             /* dns_allow, "connected" expanded */
	uint64_t read_ms;               /* when "connected" was read */
	uint64_t logged_ms, logged_n;   /* the last refused client logged; the count then */
	struct dns_rrl *rrl;            /* NULL: no rate limit */
	unsigned rate, slip;
} G;

static unsigned mask_len(const struct sockaddr *m, size_t n)
{
	const uint8_t *b = m->sa_family == AF_INET ? (const uint8_t *)&((const struct sockaddr_in *)m)->sin_addr :
			   ((const struct sockaddr_in6 *)m)->sin6_addr.s6_addr;
	unsigned len = 0;

	for (size_t i = 0; i < n && b[i] == 0xff; i++)
		len += 8;
	if (len < n * 8)
		for (uint8_t x = b[len / 8]; x & 0x80; x = (uint8_t)(x << 1))
			len++;
	return len;
}

/* the subnets of @ifa's address when it is a dns_listen address (or one is a wildcard) */
static void add_connected(struct dns_acl *a, const struct daemon_cfg *d, const struct ifaddrs *ifa)
{
	int fam = ifa->ifa_addr->sa_family;
	size_t n = fam == AF_INET ? 4 : 16;
	const uint8_t *addr = fam == AF_INET ? (const uint8_t *)&((const struct sockaddr_in *)ifa->ifa_addr)->sin_addr :
			      ((const struct sockaddr_in6 *)ifa->ifa_addr)->sin6_addr.s6_addr;
	static const uint8_t zero[16];
	bool listen = false;

	for (size_t i = 0; i < d->n_dns_listen && !listen; i++) {
		const struct sockaddr_storage *l = &d->dns_listen[i];

		listen = l->ss_family == fam && (!memcmp(cfg_sa_addr(l), addr, n) || !memcmp(cfg_sa_addr(l), zero, n));
	}
	if (!listen)
		return;
	unsigned len = ifa->ifa_netmask ? mask_len(ifa->ifa_netmask, n) : (unsigned)n * 8;
	struct sipovl_prefix p = { .family = (uint16_t)fam, .len = (uint8_t)len };

	memcpy(p.addr, addr, n);
	dns_acl_add(a, &p);
}

static size_t acl_build(struct dns_acl *a, const struct daemon_cfg *d)
{
	memset(a, 0, sizeof(*a));
	for (size_t i = 0; i < d->n_dns_allow; i++)
		dns_acl_add(a, &d->dns_allow[i]);
	if (!d->dns_allow_connected)
		return a->n;
	struct sipovl_prefix lo4 = { .family = AF_INET, .len = 8, .addr = { 127 } };
	struct sipovl_prefix lo6 = { .family = AF_INET6, .len = 128, .addr = { [15] = 1 } };
	struct ifaddrs *ifs, *ifa;

	dns_acl_add(a, &lo4);
	dns_acl_add(a, &lo6);
	if (getifaddrs(&ifs))
		return a->n;
	for (ifa = ifs; ifa; ifa = ifa->ifa_next)
		if (ifa->ifa_addr && (ifa->ifa_addr->sa_family == AF_INET || ifa->ifa_addr->sa_family == AF_INET6))
			add_connected(a, d, ifa);
	freeifaddrs(ifs);
	return a->n;
}

void dns_guard_apply(bool start)
{
	const struct daemon_cfg *d = &D.cfg;
	char b[64], list[256] = "";
	size_t o = 0;

	if (!start && !G.on)
		return;
	G.on = true;
	G.read_ms = zt_now_ms();
	acl_build(&G.acl, d);
	for (size_t i = 0; i < G.acl.n && o < sizeof(list) - 1; i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? " " : "",
				      cfg_fmt_prefix(&G.acl.p[i], b, sizeof(b)));
	if (start || d->dns_rate_limit != G.rate || d->dns_rate_slip != G.slip) { /* a new table: every bucket full */
		uint8_t key[16];

		randombytes_buf(key, sizeof(key));
		dns_rrl_free(G.rrl);
		G.rrl = d->dns_rate_limit ? dns_rrl_new(d->dns_rate_limit, d->dns_rate_slip, key) : NULL;
		if (d->dns_rate_limit && !G.rrl)
			logm(L_ERR, "dns: out of memory: no rate limit");
		G.rate = d->dns_rate_limit;
		G.slip = d->dns_rate_slip;
	}
	logm(L_NOTICE, "dns: answering %s%s; UDP answers a second per client: %u%s", G.acl.n ? list : "nobody",
	     o >= sizeof(list) - 1 ? " ..." : "", G.rrl ? G.rate : 0, G.rrl ? "" : " (no limit)");
}

void dns_guard_stop(void)
{
	dns_rrl_free(G.rrl);
	memset(&G, 0, sizeof(G));
}

const struct dns_acl *dns_guard_acl(void)
{
	return &G.acl;
}

struct dns_rrl *dns_guard_rrl(void)
{
	return G.rrl;
}

bool dns_guard_allowed(const struct sockaddr_storage *sa, uint64_t now_ms)
{
	if (dns_acl_allows(&G.acl, sa))
		return true;
	if (!D.cfg.dns_allow_connected || now_ms - G.read_ms < ACL_RESCAN_MS)
		return false;
	G.read_ms = now_ms;
	acl_build(&G.acl, &D.cfg);
	return dns_acl_allows(&G.acl, sa);
}

void dns_guard_status(struct json_object *j)
{
	struct json_object *a = json_object_new_array();
	char b[64];

	for (size_t i = 0; i < G.acl.n; i++)
		json_object_array_add(a, JS(cfg_fmt_prefix(&G.acl.p[i], b, sizeof(b))));
	JADD(j, "allow", a);
	JADD(j, "rate_limit", JI(G.rrl ? G.rate : 0));
	JADD(j, "rate_slip", JI(G.slip));
	if (G.rrl) {
		struct dns_rrl_stats rs;

		dns_rrl_stats(G.rrl, &rs);
		JADD(j, "rate_limit_clients", JI(dns_rrl_clients(G.rrl)));
		JADD(j, "rate_limit_shared", JI(rs.shared));
	}
}

void dns_guard_refused(const struct sockaddr_storage *sa, uint64_t now_ms, uint64_t total)
{
	char b[64];

	if (G.logged_ms && now_ms - G.logged_ms < REFUSED_LOG_MS)
		return;
	logm(L_INFO, "dns: %s refused: not in dns_allow (%llu refused in all, %llu since the last of these lines; "
	     "a client subnet of yours? add it to dns_allow)", cfg_fmt_sa(sa, b, sizeof(b)), (unsigned long long)total,
	     (unsigned long long)(total - G.logged_n));
	G.logged_ms = now_ms;
	G.logged_n = total;
}
