// SPDX-License-Identifier: GPL-2.0
/*
 * sipovlctl calls: the "calls" document of sipovld's control socket (Documentation/sipovld.8.md)
 * as a table (one line per call), with -s each call's media streams, or with -j as it is.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/calls.h"
#include "ctl/json.h"
#include "ctl/request.h"

static const char *str(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "";
}

static json_object *get(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static void print_stream(struct json_object *s)
{
	printf("    %-6s %-5s %-22s rtcp %-22s %-8s %s%s\n", str(s, "side"), str(s, "media"),
	       get(s, "rtp") ? str(s, "rtp") : "(refused)", get(s, "rtcp") ? str(s, "rtcp") : "-",
	       str(s, "codec"), str(s, "direction"), json_object_get_boolean(get(s, "hold")) ? " hold" : "");
}

static void print_flows(struct json_object *m)
{
	static const char *const kinds[] = { "rtp", "rtcp" };

	for (int i = 0; i < 2; i++) {
		struct json_object *f = get(m, kinds[i]);

		if (f) {
			struct json_object *q = get(f, "quality");

			printf("    %-5s flow %s %s <-> %s (%s): %s packets to the overlay, %s from it\n", kinds[i],
			       str(f, "flow"), str(f, "local"), str(f, "remote"), str(f, "service"),
			       str(f, "packets_to_ziti"), str(f, "packets_from_ziti"));
			for (int d = 0; q && d < 2; d++) {
				struct json_object *x = get(q, d ? "from_ziti" : "to_ziti");

				if (x && json_object_get_boolean(get(x, "rtp")))
					printf("          %s %s: %s RTP packets, lost %s (%.2f %%), jitter %.1f ms, MOS %.2f\n",
					       d ? "from" : "to  ", str(f, d ? "local" : "remote"), str(x, "packets"),
					       str(x, "lost"), json_object_get_double(get(x, "loss_ratio")) * 100,
					       json_object_get_double(get(x, "jitter_ms")), json_object_get_double(get(x, "mos")));
			}
		} else
			printf("    %-5s no flow steered between the two sides' addresses\n", kinds[i]);
	}
}

/*
 * An ended call's final RTP quality, as in its CDR: of each media stream (media_quality,
 * "final video caller -> callee: ..."), or from a sipovld without it of the first stream
 * (quality, "final caller -> callee: ...").
 */
static void print_final(struct json_object *q, const char *media)
{
	static const char *const dn[2] = { "caller_to_callee", "callee_to_caller" };
	static const char *const label[2] = { "caller -> callee", "callee -> caller" };
	const char *sp = *media ? " " : "";

	for (int d = 0; d < 2; d++) {
		struct json_object *x = get(q, dn[d]);

		if (x && json_object_get_boolean(get(x, "rtp"))) {
			printf("    final %s%s%s: %s RTP packets, lost %s (%.2f %%), jitter %.1f ms", media, sp, label[d],
			       str(x, "packets"), str(x, "lost"), json_object_get_double(get(x, "loss_ratio")) * 100,
			       json_object_get_double(get(x, "jitter_ms")));
			if (!*media || !strcmp(media, "audio")) /* the E-model is for speech: no MOS of video */
				printf(", MOS %.2f", json_object_get_double(get(x, "mos")));
			printf("\n");
		} else if (x)
			printf("    final %s%s%s: no RTP\n", media, sp, label[d]);
	}
}

static void print_finals(struct json_object *c)
{
	struct json_object *mq = get(c, "media_quality");

	if (!mq) {
		if (get(c, "quality"))
			print_final(get(c, "quality"), "");
		return;
	}
	for (size_t k = 0; k < json_object_array_length(mq); k++) {
		struct json_object *q = json_object_array_get_idx(mq, k);

		print_final(q, *str(q, "media") ? str(q, "media") : "-");
	}
}

int calls_show(const char *path, bool json, bool pretty, bool stats, char *err, size_t errlen)
{
	struct json_object *doc, *e, *calls, *st;
	size_t n;

	int rc = sipovld_request(path, "calls", SIPOVLD_CTL_TIMEOUT_S, &doc, err, errlen);

	if (rc)
		return rc;
	if (json_object_object_get_ex(doc, "error", &e)) {
		snprintf(err, errlen, "sipovld: %s", json_object_get_string(e));
		json_object_put(doc);
		return -1;
	}
	if (json) {
		json_emit(stdout, doc, pretty);
		return 0;
	}
	if (!json_object_get_boolean(get(doc, "enabled"))) {
		printf("the SIP view is off (calls_max 0 in sipovld.conf)\n");
		json_object_put(doc);
		return 0;
	}
	calls = get(doc, "calls");
	n = calls ? json_object_array_length(calls) : 0;
	printf("%-5s %-10s %-14s %9s %-8s %-44s %s\n", "ID", "STATE", "END", "DURATION", "CODEC", "CALLER -> CALLEE",
	       "CALL-ID");
	for (size_t i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(calls, i), *ss = get(c, "streams");
		char parties[200];

		snprintf(parties, sizeof(parties), "%s -> %s", str(c, "caller"), str(c, "callee"));
		printf("%-5s %-10s %-14s %8.1fs %-8s %-44s %s\n", str(c, "id"), str(c, "state"),
		       *str(c, "end_reason") ? str(c, "end_reason") : "-",
		       json_object_get_double(get(c, "duration_s")), *str(c, "codec") ? str(c, "codec") : "-", parties,
		       str(c, "call_id"));
		if (stats && ss)
			for (size_t k = 0; k < json_object_array_length(ss); k++)
				print_stream(json_object_array_get_idx(ss, k));
		if (stats && get(c, "media_flows"))
			for (size_t k = 0; k < json_object_array_length(get(c, "media_flows")); k++)
				print_flows(json_object_array_get_idx(get(c, "media_flows"), k));
		if (stats)
			print_finals(c);
	}
	st = get(doc, "stats");
	if (st)
		printf("%zu calls (%s active); %s SIP messages, %s malformed, %s calls not followed (limit %s)\n", n,
		       str(st, "calls_active"), str(st, "messages"), str(st, "malformed"), str(st, "limit_hits"),
		       str(st, "calls_max"));
	json_object_put(doc);
	return 0;
}
