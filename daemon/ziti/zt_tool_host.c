// SPDX-License-Identifier: GPL-2.0
/*
 * zt-tool host: listeners on one or more services, echo or sink (zt_tool.c has the options
 * and main).
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
void run_host(void)
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

void host_cleanup(void)
{
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
}
