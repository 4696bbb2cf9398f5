// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld endpoint mode (`endpoint` in sipovld.conf; design.md, "Endpoints and the ip-pool"):
 * this sipovld runs on a SIP endpoint host and holds one address of a named pool.
 *
 * At start the state file (the address held last) is read and the interface created
 * (endpoint_if.c). Once the identity is ready, the address is claimed through the pool service
 * (pool.c's protocol: "claim POOL [ADDRESS]" -> "ok ADDRESS" | "err CODE text"), on the loop
 * like any dial; while the pool server cannot be reached or refuses, the claim is retried with
 * backoff (1 s doubling to 30 s). Until it is answered the endpoint has no address: nothing
 * that uses $ip_pool[POOL] is bound, and no intercept is installed (kernel_table.c), so no
 * flow uses a stale or foreign address. Then the address goes on the interface, the services
 * whose listenOptions.identity uses $ip_pool[POOL] bind with it, the intercepts are installed
 * without it, and the state file is written (off the loop, pool_writer.c).
 *
 * The address is renewed every renew_s. When no renewal has been confirmed for lease_s/2,
 * measured on CLOCK_BOOTTIME so that a suspend counts, the address is withdrawn as on a refusal
 * and claimed again: the pool server may have expired the lease (it gives every lease at least
 * lease_s/2 from its last renewal, even across its own restart) and given the address to
 * another identity. lease_s is the shorter of endpoint.lease_s and the server's ip_pool.lease_s
 * (told in every "ok", lease_s=N), so a server configured shorter than this endpoint is
 * followed; renewals come at least every lease_s/4.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/endpoint.h"
#include "daemon/pool.h"
#include "daemon/pool_check.h"
#include "daemon/pool_writer.h"

#define EP_BACKOFF_MIN_MS 1000
#define EP_BACKOFF_MAX_MS 30000
#define EP_REPLY_MS 15000       /* a claim not answered by then is dialed again */
#define EP_NOSVC_WARN_MS 10000  /* ready, but the pool service not listed: warned after this */
#define EP_LAPSE_TICK_MS 1000   /* the lapse is checked this often (a resume is noticed then) */

static struct {
	bool on;
	struct ident *id;       /* the identity the claim is dialed with */
	struct zt_conn *c;      /* the claim under way */
	char req[96], buf[160];
	size_t len;
	struct zt_timer timer;  /* next attempt, or the reply's deadline while c */
	unsigned backoff_ms;
	bool has_want, has_addr;
	bool renewing;          /* the request under way is a renewal of addr */
	bool has_avoid;         /* the next claim asks for any address but avoid (local elsewhere) */
	struct sipovl_prefix avoid;
	struct sipovl_prefix want, addr;
	char text[48];
	uint64_t attempts, failures, wait_since, renewals, withdrawals;
	bool warned_nosvc;
	char last_err[200];
	uint64_t state_writes, state_write_errors;
	struct zt_timer repair;  /* E6: the interface or its address removed by someone else */
	bool lost_link, lost_addr;
	uint64_t repairs;
	uint64_t sent_bt, ok_bt; /* CLOCK_BOOTTIME ms: the request under way sent; the last one confirmed */
	struct zt_timer lapse;   /* EP_LAPSE_TICK_MS: no renewal confirmed for lease_s/2: withdrawn */
	uint64_t lapses;
	long srv_lease_s;        /* the pool server's ip_pool.lease_s from its last "ok", -1: not told */
	struct sipovl_prefix range; /* the pool's range from its last "ok" with one (family 0: not told) */
} ep;

/* the lease's life here: endpoint.lease_s, or the server's when shorter (0: never expires) */
static unsigned ep_lease_s(void)
{
	unsigned mine = D.cfg.endpoint.lease_s;

	if (ep.srv_lease_s <= 0)
		return mine;
	return !mine || (unsigned long)ep.srv_lease_s < mine ? (unsigned)ep.srv_lease_s : mine;
}

/* renewals: every endpoint.renew_s, and at least four in a lease's life */
static unsigned ep_renew_ms(void)
{
	uint64_t q = (uint64_t)ep_lease_s() * 250;

	return q && q < D.cfg.endpoint.renew_ms ? (unsigned)q : D.cfg.endpoint.renew_ms;
}

/* milliseconds on CLOCK_BOOTTIME, which (unlike the loop's CLOCK_MONOTONIC) counts a suspend */
static uint64_t ep_boot_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

const char *endpoint_pool(void)
{
	return D.cfg.has_endpoint ? D.cfg.endpoint.pool : NULL;
}

bool endpoint_pool_range(struct sipovl_prefix *out)
{
	if (!ep.on || !ep.has_addr || !ep.range.family)
		return false;
	*out = ep.range;
	return true;
}

const char *endpoint_addr_text(void)
{
	return ep.on && ep.has_addr ? ep.text : NULL;
}

bool endpoint_addr(struct sipovl_prefix *out)
{
	if (!ep.on || !ep.has_addr)
		return false;
	*out = ep.addr;
	return true;
}

bool endpoint_holds_intercepts(void)
{
	return ep.on && !ep.has_addr;
}

static void ep_try(void *arg);

static void ep_close(void)
{
	if (ep.c) {
		zt_close(ep.c);
		ep.c = NULL;
	}
	ep.len = 0;
}

static void __attribute__((format(printf, 2, 3))) ep_fail(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ep.last_err, sizeof(ep.last_err), fmt, ap);
	va_end(ap);
	ep_close();
	ep.failures++;
	logm(prio, "endpoint: pool %s: %s; claiming again in %u s", D.cfg.endpoint.pool, ep.last_err,
	     ep.backoff_ms / 1000);
	zt_timer_stop(D.loop, &ep.timer);
	zt_timer_start(D.loop, &ep.timer, ep.backoff_ms);
	ep.backoff_ms = ep.backoff_ms * 2 > EP_BACKOFF_MAX_MS ? EP_BACKOFF_MAX_MS : ep.backoff_ms * 2;
}

/* ------------------------------------------------------------------ the state file */

static void ep_written(int rc, const char *err, void *arg)
{
	(void)arg;
	if (rc) {
		ep.state_write_errors++;
		logm(L_ERR, "endpoint: %s (the address is kept; the next start claims without it)", err);
	} else {
		ep.state_writes++;
		logm(L_INFO, "endpoint: %s: %s", D.cfg.endpoint.state_file, ep.text);
	}
}

static void ep_write_state(void)
{
	char line[128], *buf;
	size_t n = pool_state_fmt(D.cfg.endpoint.pool, &ep.addr, line, sizeof(line));

	if (n >= sizeof(line) || !(buf = malloc(n))) {
		ep_written(-1, "out of memory writing the state file", NULL);
		return;
	}
	memcpy(buf, line, n);
	/* queued behind the pool server's lease file when this sipovld serves a pool too */
	if (pool_writer_submit(D.loop, D.cfg.endpoint.state_file, buf, n, ep_written, NULL))
		ep_written(-1, "the state file writer could not start", NULL);
}

/* The state file at start: the address held last, asked for again (a missing file: none). */
static void ep_read_state(void)
{
	const char *path = D.cfg.endpoint.state_file;
	char buf[256], err[160];
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;
	ssize_t n;

	if (fd < 0) {
		if (errno != ENOENT)
			logm(L_WARN, "endpoint: state file %s: %s; claiming without it", path, strerror(errno));
		return;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0) {
		logm(L_WARN, "endpoint: state file %s: %s; claiming without it", path, strerror(errno));
		return;
	}
	rc = pool_state_parse(buf, (size_t)n, D.cfg.endpoint.pool, &ep.want, err, sizeof(err));
	if (rc) {
		logm(L_WARN, "endpoint: state file %s: %s; claiming without it", path, err);
		return;
	}
	ep.has_want = true;
	pool_fmt(&ep.want, buf, sizeof(buf));
	logm(L_INFO, "endpoint: state file %s: %s held last; asking for it again", path, buf);
}

/* ------------------------------------------------------------------ the claim */

/* the services that use $ip_pool[...]: hosted with the address, or unbound without it */
static void ep_rebind(void)
{
	for (struct ident *id = D.idents; id; id = id->next)
		for (struct svc *s = id->svcs; s; s = s->next)
			if (s->has_host && s->host.listen_identity && strstr(s->host.listen_identity, "$ip_pool["))
				listener_start(s);
	kernel_schedule_apply();
}

/* the address is ours: on the interface, the services bound with it, the intercepts without it */
static void ep_have(const struct sipovl_prefix *a)
{
	char err[200];

	zt_timer_stop(D.loop, &ep.timer);
	zt_timer_start(D.loop, &ep.timer, ep_renew_ms()); /* re-confirmed then (E1) */
	if (ep.has_addr && !memcmp(ep.addr.addr, a->addr, sizeof(a->addr)) && ep.addr.family == a->family) {
		ep.ok_bt = ep.sent_bt;
		return;
	}
	char other[IFNAMSIZ + 4], t[48];
	int rc = epif_addr_elsewhere(a, other, sizeof(other));

	if (rc == 1) { /* never on the host twice: another one is asked for */
		ep.avoid = *a;
		ep.has_avoid = true;
		ep.has_want = false;
		ep_fail(L_ERR, "%s is already an address of interface %s on this host: not added to %s (it would be "
			"there twice); asking the pool server for another", pool_fmt(a, t, sizeof(t)), other,
			D.cfg.endpoint.ifname);
		return;
	}
	if (rc < 0)
		logm(L_WARN, "endpoint: cannot list this host's addresses (%s); adding %s without that check",
		     strerror(-rc), pool_fmt(a, t, sizeof(t)));
	if (epif_addr(a, true, err, sizeof(err))) {
		/* E6: not this address again (the lease moves: "claim POOL not ADDRESS") */
		ep.avoid = *a;
		ep.has_avoid = true;
		ep.has_want = false;
		ep_fail(L_ERR, "%s; asking the pool server for another address", err);
		return;
	}
	ep.addr = *a;
	ep.has_addr = true;
	ep.ok_bt = ep.sent_bt; /* the lease's life counts from the claim's sending */
	ep.has_avoid = false;
	pool_fmt(a, ep.text, sizeof(ep.text));
	ep.backoff_ms = EP_BACKOFF_MIN_MS;
	ep.last_err[0] = 0;
	logm(L_NOTICE, "endpoint: pool %s: address %s (%s/%u on %s); binding the services that use $ip_pool[%s]",
	     D.cfg.endpoint.pool, ep.text, ep.text, a->family == AF_INET ? 32 : 128, D.cfg.endpoint.ifname,
	     D.cfg.endpoint.pool);
	if (!ep.has_want || memcmp(&ep.want, a, sizeof(*a))) {
		ep.want = *a;
		ep.has_want = true;
		ep_write_state();
	}
	ep_rebind();
}

/*
 * The pool server says the address this endpoint holds is not its own (another identity's, or
 * no longer in the range: its lease file was restored from an older backup and another endpoint
 * got it meanwhile), or (@again) no renewal was confirmed for lease_s/2 and the server may have
 * expired it. Off the interface, its services unbound and its intercepts removed before an
 * address is claimed (@again: the same one first, from this endpoint's state): never two
 * endpoints on one address.
 */
static void ep_withdraw(const char *why, bool again)
{
	char err[200];

	ep.withdrawals++;
	ep.has_addr = false;
	memset(&ep.range, 0, sizeof(ep.range)); /* the next accepted "ok" tells it again */
	if (epif_addr(&ep.addr, false, err, sizeof(err)))
		logm(L_ERR, "endpoint: %s", err);
	logm(L_ERR, "endpoint: pool %s: %s withdrawn from %s: %s; its services unbound, its intercepts removed; "
	     "claiming %s", D.cfg.endpoint.pool, ep.text, D.cfg.endpoint.ifname, why,
	     again ? "it again" : "another address");
	snprintf(ep.last_err, sizeof(ep.last_err), "%.46s withdrawn: %.130s", ep.text, why);
	ep.text[0] = 0;
	ep.has_want = again;
	if (again)
		ep.want = ep.addr;
	ep_rebind();
	zt_timer_stop(D.loop, &ep.timer);
	zt_timer_start(D.loop, &ep.timer, 0);
}

/*
 * The pool's range from an "ok" whose address was taken (@a): kept while the address is held,
 * so that pool_check.c asks only about the pool's addresses; none (ask about every source)
 * when the reply tells none (a server before range=) or one that does not hold @a.
 */
static void ep_take_range(const struct sipovl_prefix *range, const struct sipovl_prefix *a)
{
	char rb[64];

	if (!range->family || !cfg_prefix_contains(range, a->family, a->addr)) {
		if (ep.range.family)
			logm(L_INFO, "endpoint: pool %s: the pool server's reply tells no range that holds the address: "
			     "every claimed source is asked about", D.cfg.endpoint.pool);
		memset(&ep.range, 0, sizeof(ep.range));
		return;
	}
	if (!memcmp(range, &ep.range, sizeof(*range)))
		return;
	ep.range = *range;
	logm(L_INFO, "endpoint: pool %s: the pool's range is %s", D.cfg.endpoint.pool,
	     pool_fmt_range(range, rb, sizeof(rb)));
}

static void ep_reply(void)
{
	struct sipovl_prefix a = { 0 }, range;
	char err[160], w[48];
	long lease_s;
	int rc;

	zt_timer_stop(D.loop, &ep.timer);
	rc = pool_parse_reply(ep.buf, ep.len, &a, &lease_s, &range, err, sizeof(err));
	ep_close();
	if (rc == 0 && lease_s >= 0 && lease_s != ep.srv_lease_s) {
		unsigned before = ep_lease_s(), after;
		char what[96];

		ep.srv_lease_s = lease_s; /* kept: a server of an earlier version answering later tells none */
		after = ep_lease_s();
		if (after)
			snprintf(what, sizeof(what), "an address not renewed for %u s is withdrawn, renewals every %.1f s",
				 after / 2, ep_renew_ms() / 1000.0);
		else
			snprintf(what, sizeof(what), "an address is never withdrawn");
		if (after != before || (unsigned long)lease_s != D.cfg.endpoint.lease_s)
			logm(after && (!before || after < before) ? L_NOTICE : L_INFO,
			     "endpoint: pool %s: the pool server's lease_s is %ld (endpoint.lease_s %u): %s",
			     D.cfg.endpoint.pool, lease_s, D.cfg.endpoint.lease_s, what);
	}
	if (rc == 0 && a.family && pool_addr_usable(&a, err, sizeof(err))) {
		pool_fmt(&a, w, sizeof(w));
		ep_fail(L_ERR, "the pool server's reply names %s: %s; not taken", w, err);
		return;
	}
	if (ep.renewing && ep.has_addr) {
		if (rc == 0 && a.family == ep.addr.family && !memcmp(a.addr, ep.addr.addr, sizeof(a.addr))) {
			ep.renewals++;
			ep_take_range(&range, &a);
			ep.ok_bt = ep.sent_bt;
			ep.backoff_ms = EP_BACKOFF_MIN_MS;
			ep.last_err[0] = 0;
			logm(L_DEBUG, "endpoint: pool %s: %s renewed", D.cfg.endpoint.pool, ep.text);
			zt_timer_start(D.loop, &ep.timer, ep_renew_ms());
			return;
		}
		if (rc == POOL_E_TAKEN || rc == POOL_E_RANGE) {
			char why[200];

			snprintf(why, sizeof(why), "the pool server refused its renewal: %s (%.100s)", pool_strerror(rc), err);
			ep_withdraw(why, false);
			return;
		}
		if (rc == 0) {
			pool_fmt(&a, w, sizeof(w));
			ep_fail(L_ERR, "the pool server's reply to a renewal names %s, not %s; kept", w, ep.text);
		} else {
			ep_fail(L_WARN, "renewal of %s not confirmed: %s (%s); kept", ep.text,
				rc < 0 ? "malformed reply" : pool_strerror(rc), err);
		}
		return;
	}
	if (rc == 0 && a.family) {
		ep_take_range(&range, &a);
		ep_have(&a);
		return;
	}
	if (rc == 0 || rc < 0) {
		ep_fail(L_ERR, "the pool server's reply is not an address (%s)", rc ? err : "\"ok\" alone");
		return;
	}
	if (ep.has_want)
		pool_fmt(&ep.want, w, sizeof(w));
	if ((rc == POOL_E_TAKEN || rc == POOL_E_RANGE) && ep.has_want) {
		/* the address held before is another identity's now, or outside the pool's range: a new one */
		logm(L_ERR, "endpoint: pool %s: %s, held last (state file %s), %s: %s; claiming another address",
		     D.cfg.endpoint.pool, w, D.cfg.endpoint.state_file,
		     rc == POOL_E_TAKEN ? "is leased to another identity" : "is not in the pool's range", err);
		ep.has_want = false;
		ep.failures++;
		snprintf(ep.last_err, sizeof(ep.last_err), "%s: %.140s", w, err);
		zt_timer_start(D.loop, &ep.timer, 0);
		return;
	}
	ep_fail(L_ERR, "the pool server refused the claim: %s (%s)", pool_strerror(rc), err);
}

static void ep_on_connect(struct zt_conn *c, int err, const char *reason, void *u)
{
	(void)u;
	if (c != ep.c)
		return;
	if (err) {
		ep_fail(L_WARN, "cannot reach the pool server (service %s): %s", D.cfg.endpoint.service,
			reason ? reason : zt_strerror(err));
		return;
	}
	if (zt_write(c, ep.req, strlen(ep.req)) || zt_close_write(c))
		ep_fail(L_WARN, "cannot send the claim");
}

static void ep_on_data(struct zt_conn *c, const uint8_t *d, size_t n, void *u)
{
	(void)u;
	if (c != ep.c)
		return;
	if (!n) { /* FIN: the whole reply is here */
		ep_reply();
		return;
	}
	if (ep.len + n > sizeof(ep.buf)) {
		ep_fail(L_ERR, "the pool server's reply is too long");
		return;
	}
	memcpy(ep.buf + ep.len, d, n);
	ep.len += n;
}

static void ep_on_close(struct zt_conn *c, int err, const char *reason, void *u)
{
	(void)err;
	(void)u;
	if (c != ep.c)
		return;
	if (ep.len && ep.buf[ep.len - 1] == '\n')
		ep_reply();
	else
		ep_fail(L_WARN, "the pool server closed before its reply (%s)", reason ? reason : "closed");
}

static const struct zt_conn_cbs ep_cbs = { .on_connect = ep_on_connect, .on_data = ep_on_data,
					   .on_close = ep_on_close };

static bool ep_has_service(struct ident *id)
{
	for (struct svc *s = id->svcs; s; s = s->next)
		if (!strcmp(s->name, D.cfg.endpoint.service))
			return (s->perms & ZT_PERM_DIAL) != 0;
	return false;
}

static void ep_try(void *arg)
{
	struct ident *id = D.idents;
	struct zt_dial_opts o = { 0 };

	(void)arg;
	if (ep.c) { /* the reply's deadline */
		ep_fail(L_WARN, "no reply from the pool server in %u s", EP_REPLY_MS / 1000);
		return;
	}
	if (!id || !id->ready || !id->ctx || !ep_has_service(id)) {
		uint64_t now = zt_now_ms();

		if (!ep.wait_since)
			ep.wait_since = now;
		if (id && id->ready && !ep.warned_nosvc && now - ep.wait_since >= EP_NOSVC_WARN_MS) {
			ep.warned_nosvc = true;
			snprintf(ep.last_err, sizeof(ep.last_err), "identity %s has no Dial permission on service %s",
				 id->name ? id->name : id->path, D.cfg.endpoint.service);
			logm(L_WARN, "endpoint: pool %s: %s (yet); no address until it has", D.cfg.endpoint.pool,
			     ep.last_err);
		}
		zt_timer_start(D.loop, &ep.timer, 250);
		return;
	}
	ep.wait_since = 0;
	ep.id = id;
	ep.len = 0;
	ep.renewing = ep.has_addr;
	if (ep.renewing)
		pool_renew_req(D.cfg.endpoint.pool, &ep.addr, ep.req, sizeof(ep.req));
	else if (ep.has_avoid)
		pool_claim_other_req(D.cfg.endpoint.pool, &ep.avoid, ep.req, sizeof(ep.req));
	else
		pool_claim_req(D.cfg.endpoint.pool, ep.has_want ? &ep.want : NULL, ep.req, sizeof(ep.req));
	ep.attempts++;
	ep.sent_bt = ep_boot_ms();
	logm(ep.renewing ? L_DEBUG : L_INFO, "endpoint: pool %s: %.*s through %s", D.cfg.endpoint.pool, (int)strcspn(ep.req, "\n"), ep.req,
	     D.cfg.endpoint.service);
	ep.c = zt_dial(id->ctx, D.cfg.endpoint.service, &o, &ep_cbs, NULL);
	if (!ep.c) {
		ep_fail(L_WARN, "cannot dial service %s", D.cfg.endpoint.service);
		return;
	}
	zt_timer_start(D.loop, &ep.timer, EP_REPLY_MS);
}

void endpoint_ident_stop(struct ident *id)
{
	if (!ep.on || !ep.c || ep.id != id)
		return;
	ep_close(); /* before its context frees the connection under us */
	zt_timer_stop(D.loop, &ep.timer);
	zt_timer_start(D.loop, &ep.timer, EP_BACKOFF_MIN_MS);
}

/*
 * E6: the interface, or the address on it, was removed by someone else (an admin): made again
 * and the address put back, on the loop (epif_watch's notification); retried every second
 * while that fails
 */
static void ep_repair(void *arg)
{
	char err[256];
	bool link = ep.lost_link;

	(void)arg;
	if (!ep.on)
		return;
	if (link) {
		epif_forget();
		if (epif_create(D.cfg.endpoint.ifname, err, sizeof(err))) {
			logm(L_ERR, "endpoint.interface %s was deleted (not by sipovld) and cannot be made again: %s; "
			     "trying again in 1 s", D.cfg.endpoint.ifname, err);
			zt_timer_start(D.loop, &ep.repair, 1000);
			return;
		}
	}
	ep.lost_link = ep.lost_addr = false;
	if (!ep.has_addr) {
		if (link)
			logm(L_WARN, "endpoint.interface %s was deleted (not by sipovld): made again (no address yet)",
			     D.cfg.endpoint.ifname);
		return;
	}
	if (epif_addr(&ep.addr, true, err, sizeof(err))) {
		logm(L_ERR, "endpoint: %s (removed by someone else); trying again in 1 s", err);
		ep.lost_addr = true;
		zt_timer_start(D.loop, &ep.repair, 1000);
		return;
	}
	ep.repairs++;
	if (link)
		logm(L_WARN, "endpoint.interface %s was deleted (not by sipovld): made again, %s put back",
		     D.cfg.endpoint.ifname, ep.text);
	else
		logm(L_NOTICE, "endpoint: %s was removed from %s (not by sipovld): put back", ep.text,
		     D.cfg.endpoint.ifname);
}

/*
 * Every EP_LAPSE_TICK_MS: the address whose last confirmed renewal was sent lease_s/2 ago or
 * more is withdrawn (the pool server cannot be reached, does not answer, or this host was
 * suspended), then claimed again
 */
static void ep_lapse(void *arg)
{
	uint64_t life = (uint64_t)ep_lease_s() * 500, age;
	char why[200];

	(void)arg;
	zt_timer_start(D.loop, &ep.lapse, EP_LAPSE_TICK_MS);
	if (!ep.on || !ep.has_addr || !life)
		return;
	age = ep_boot_ms() - ep.ok_bt;
	if (age < life)
		return;
	ep.lapses++;
	ep_close(); /* a renewal under way is not waited for */
	snprintf(why, sizeof(why), "no renewal confirmed for %llu s (%.60s; lease_s %u: the pool server "
		 "may have expired the lease)", (unsigned long long)(age / 1000),
		 ep.last_err[0] ? ep.last_err : "no answer", ep_lease_s());
	ep_withdraw(why, true);
}

static void ep_lost(bool link, bool addr)
{
	/* our own removal (a withdrawal) is no loss: the address is not ours then */
	if (!link && (!addr || !ep.has_addr))
		return;
	ep.lost_link |= link;
	ep.lost_addr |= addr;
	zt_timer_stop(D.loop, &ep.repair);
	zt_timer_start(D.loop, &ep.repair, 0);
}

int endpoint_start(void)
{
	char err[256];

	if (!D.cfg.has_endpoint)
		return 0;
	memset(&ep, 0, sizeof(ep));
	zt_timer_init(&ep.timer, ep_try, NULL);
	zt_timer_init(&ep.repair, ep_repair, NULL);
	zt_timer_init(&ep.lapse, ep_lapse, NULL);
	ep.backoff_ms = EP_BACKOFF_MIN_MS;
	ep.srv_lease_s = -1;
	ep_read_state();
	if (epif_create(D.cfg.endpoint.ifname, err, sizeof(err))) {
		logm(L_ERR, "endpoint: %s", err);
		return -1;
	}
	ep.on = true;
	logm(L_NOTICE, "endpoint: pool %s through service %s; interface %s (%s) created, no address until the pool "
	     "server answers", D.cfg.endpoint.pool, D.cfg.endpoint.service, D.cfg.endpoint.ifname, epif_kind());
	if (!strcmp(epif_kind(), "ifb"))
		logm(L_WARN, "endpoint.interface %s: this kernel has no dummy driver, so it is an ifb interface; the ifb "
		     "module, when it loads, also creates its default ifb0 and ifb1 (unused; a kernel with the dummy "
		     "driver avoids them)", D.cfg.endpoint.ifname);
	return 0;
}

void endpoint_run(void)
{
	char err[256];

	if (!ep.on)
		return;
	if (epif_watch(D.loop, ep_lost, err, sizeof(err)))
		logm(L_WARN, "endpoint.interface %s: %s; an interface or address removed by someone else is not "
		     "noticed", D.cfg.endpoint.ifname, err);
	zt_timer_start(D.loop, &ep.timer, 0);
	zt_timer_start(D.loop, &ep.lapse, EP_LAPSE_TICK_MS);
}

void endpoint_stop(void)
{
	if (!ep.on)
		return;
	ep_close();
	zt_timer_stop(D.loop, &ep.timer);
	zt_timer_stop(D.loop, &ep.repair);
	zt_timer_stop(D.loop, &ep.lapse);
	epif_remove();
	ep.on = false;
}

struct json_object *endpoint_json(void)
{
	struct json_object *o;

	if (!ep.on || !(o = json_object_new_object()))
		return NULL;
	JADD(o, "pool", JS(D.cfg.endpoint.pool));
	JADD(o, "service", JS(D.cfg.endpoint.service));
	JADD(o, "interface", JS(D.cfg.endpoint.ifname));
	JADD(o, "interface_kind", JS(epif_kind() ? epif_kind() : ""));
	JADD(o, "state", JS(ep.has_addr ? "claimed" : ep.c ? "claiming" : "waiting"));
	JADD(o, "address", ep.has_addr ? JS(ep.text) : NULL);
	JADD(o, "claims", JI(ep.attempts));
	JADD(o, "claim_failures", JI(ep.failures));
	JADD(o, "renewals", JI(ep.renewals));
	JADD(o, "withdrawals", JI(ep.withdrawals));
	JADD(o, "lapses", JI(ep.lapses));
	if (ep.range.family) {
		char rb[64];

		JADD(o, "range", JS(pool_fmt_range(&ep.range, rb, sizeof(rb))));
	} else {
		JADD(o, "range", NULL);
	}
	JADD(o, "lease_s", JI(ep_lease_s()));
	JADD(o, "lease_s_configured", JI(D.cfg.endpoint.lease_s));
	JADD(o, "lease_s_server", ep.srv_lease_s >= 0 ? JI(ep.srv_lease_s) : NULL);
	JADD(o, "interface_repairs", JI(ep.repairs));
	JADD(o, "renew_s", JI(D.cfg.endpoint.renew_ms / 1000));
	JADD(o, "renew_ms", JI(ep_renew_ms()));
	JADD(o, "last_error", ep.last_err[0] ? JS(ep.last_err) : NULL);
	JADD(o, "state_file_writes", JI(ep.state_writes));
	JADD(o, "state_file_write_errors", JI(ep.state_write_errors));
	JADD(o, "lease_checks", pool_check_json()); /* pool_check.c: dialers' claimed sources */
	return o;
}
