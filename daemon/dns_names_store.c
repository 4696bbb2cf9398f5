// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld's DNS responder: its name table kept in a file (dns_names_file; by default dns-names
 * in systemd's StateDirectory, /var/lib/sipovld with the packaged unit), so that a restart of
 * sipovld gives every name the address it had: phones and PBXs that cached an answer (TTL 60 s,
 * often longer in practice) still reach the same service. The text is dns_zone_file.c's.
 *
 * Read once when the responder starts (a small local file, as /etc/resolv.conf is); on a reload
 * that restarts the responder the names come from the previous zone instead. Written, when names
 * got or lost addresses, at most once a second (a burst of new names is one write) by
 * pool_writer.c's thread: off the event loop, to a temporary file beside it, fsynced, renamed
 * over the old one, so the file is the old table or the new one, never a mix. One write in
 * flight at a time: the pool server's lease writes, which share the thread, wait for at most one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/dns_names_store.h"
#include "daemon/dns_zone.h"
#include "daemon/pool_store.h"
#include "daemon/pool_writer.h"
#include "daemon/sipovld.h"

#define STORE_DELAY_MS 1000
#define STORE_RETRY_MS 30000 /* a write that failed: tried again this much later */
#define STORE_MAX (5u << 20) /* 4096 names of the longest presentation form, IPv6 addresses */

static struct {
	struct dns_zone *z;
	char *path;
	uint64_t saved_gen;     /* the zone's generation last submitted */
	bool failed;            /* the last write failed: the table is written again (STORE_RETRY_MS) */
	bool timer_init;
	struct zt_timer timer;
	unsigned writing;       /* submitted, callback not run */
	uint64_t writes, errors;
	char last_err[256];     /* logged once until a write succeeds */
} W;

const char *dns_names_path(const struct daemon_cfg *d, char *buf, size_t len)
{
	const char *sd;
	size_t l;

	if (d->has_dns_names_file)
		return d->dns_names_file && *d->dns_names_file ? d->dns_names_file : NULL;
	sd = getenv("STATE_DIRECTORY"); /* systemd: the first of StateDirectory='s, ':'-separated */
	if (!sd || sd[0] != '/')
		return NULL;
	l = strcspn(sd, ":");
	if ((size_t)snprintf(buf, len, "%.*s/dns-names", (int)l, sd) >= len)
		return NULL;
	return buf;
}

/* 1: no such file; 0: loaded; -1: unreadable or not a table; -2: for other ranges */
static int names_read(struct dns_zone *z, const char *path, char *err, size_t errlen)
{
	char *buf;
	size_t n;
	int rc = pool_store_slurp(path, STORE_MAX, &buf, &n, err, errlen);

	if (rc)
		return rc;
	rc = dns_zone_load(z, buf, n, err, errlen) < 0 ? -1 : 0;
	if (rc && !strncmp(err, "for the ranges", 14))
		rc = -2;
	free(buf);
	return rc;
}

static void flush(void *unused);

static void written(int rc, const char *err, void *unused)
{
	(void)unused;
	W.writing--;
	if (rc) {
		W.errors++;
		if (strcmp(W.last_err, err ? err : "")) {
			snprintf(W.last_err, sizeof(W.last_err), "%s", err ? err : "");
			logm(L_WARN, "dns: the name table could not be written: %s (a restart would give names new "
			     "addresses; tried again every %d s)", W.last_err, STORE_RETRY_MS / 1000);
		}
		W.failed = true;
		if (W.z && W.path && !zt_timer_armed(&W.timer))
			zt_timer_start(D.loop, &W.timer, STORE_RETRY_MS);
		return;
	} else {
		W.writes++;
		if (W.last_err[0]) {
			logm(L_NOTICE, "dns: the name table is written again");
			W.last_err[0] = 0;
		}
	}
	dns_names_changed(); /* what changed meanwhile */
}

/* the table as it is now, to the writer thread */
static void submit(void)
{
	size_t len;
	char *text = dns_zone_dump(W.z, &len);
	int rc;

	W.saved_gen = dns_zone_gen(W.z);
	W.failed = false;
	rc = text ? pool_writer_submit(D.loop, W.path, text, len, written, NULL) : -ENOMEM;
	if (rc) {
		W.errors++;
		W.failed = true;
		logm(L_WARN, "dns: the name table could not be written: %s", text ? strerror(-rc) : "out of memory");
		if (!zt_timer_armed(&W.timer))
			zt_timer_start(D.loop, &W.timer, STORE_RETRY_MS);
		return;
	}
	W.writing++;
}

static void flush(void *unused)
{
	(void)unused;
	if (W.z && W.path && !W.writing && (dns_zone_gen(W.z) != W.saved_gen || W.failed))
		submit();
}

void dns_names_changed(void)
{
	if (!W.z || !W.path || W.writing || (dns_zone_gen(W.z) == W.saved_gen && !W.failed) ||
	    zt_timer_armed(&W.timer))
		return;
	zt_timer_start(D.loop, &W.timer, STORE_DELAY_MS);
}

void dns_names_start(struct dns_zone *z, const char *path, const char *carry, size_t carry_len)
{
	char err[300] = "";
	int rc;

	dns_names_stop();
	if (!W.timer_init) {
		zt_timer_init(&W.timer, flush, NULL);
		W.timer_init = true;
	}
	if (carry) {
		rc = dns_zone_load(z, carry, carry_len, err, sizeof(err));
		if (rc >= 0)
			logm(L_INFO, "dns: %d names keep their addresses", rc);
		else if (rc == -2)
			logm(L_NOTICE, "dns: the virtual ranges changed (the names were %s): names get new addresses",
			     err + strlen("for the ranges "));
		else
			logm(L_ERR, "dns: the names could not be kept (%s): names get new addresses", err);
	} else if (path) {
		rc = names_read(z, path, err, sizeof(err));
		if (rc == 1)
			logm(L_INFO, "dns: %s: no name table yet", path);
		else if (!rc)
			logm(L_NOTICE, "dns: %zu names restored from %s: their addresses kept", dns_zone_names(z), path);
		else if (rc == -2)
			logm(L_NOTICE, "dns: %s is %s: the virtual ranges changed, names get new addresses (the file is "
			     "replaced at the first change)", path, err);
		else
			logm(L_WARN, "dns: %s: %s; not restored, names get new addresses (the file is replaced at the "
			     "first change)", path, err);
	}
	W.z = z;
	W.path = path ? strdup(path) : NULL;
	if (path && !W.path)
		logm(L_ERR, "dns: out of memory: the name table is not kept");
	/* carried over a reload: written (the file may be another one now); read: the file has it */
	W.saved_gen = dns_zone_gen(z) - (carry ? 1 : 0);
	W.failed = false;
	dns_names_changed();
}

void dns_names_stop(void)
{
	if (W.timer_init)
		zt_timer_stop(D.loop, &W.timer);
	if (W.z && W.path && (dns_zone_gen(W.z) != W.saved_gen || W.failed))
		submit(); /* written even when the loop stops now: pool_writer_stop finishes it */
	W.z = NULL;
	free(W.path);
	W.path = NULL;
}

void dns_names_stats(struct dns_names_stats *st)
{
	st->path = W.path;
	st->writes = W.writes;
	st->write_errors = W.errors;
}
