// SPDX-License-Identifier: GPL-2.0
/*
 * Posture responses (daemon/ziti/zt_posture.c): the answers built from a service listing's
 * postureQueries, and the OS version a Linux release gives. No I/O but reading this host's
 * own facts once.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "daemon/ziti/zt_internal.h"

void check(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void os_version_is(const char *release, const char *want)
{
	char v[24];

	zt_posture_os_version(release, v, sizeof(v));
	check(!strcmp(v, want), "posture: OS version of release '%s' is %s (got %s)", release, want, v);
}

static const char *listing =
	"[{\"id\":\"s1\",\"name\":\"pbx\",\"postureQueries\":[{\"policyId\":\"p1\",\"policyType\":\"Dial\","
	"\"isPassing\":false,\"postureQueries\":[{\"id\":\"q-os\",\"queryType\":\"OS\",\"isPassing\":false},"
	"{\"id\":\"q-mac\",\"queryType\":\"MAC\",\"isPassing\":false}]}]},"
	"{\"id\":\"s2\",\"name\":\"rtp\",\"postureQueries\":[{\"policyId\":\"p2\",\"policyType\":\"Dial\","
	"\"isPassing\":false,\"postureQueries\":[{\"id\":\"q-os\",\"queryType\":\"OS\",\"isPassing\":false},"
	"{\"id\":\"q-mfa\",\"queryType\":\"MFA\",\"isPassing\":false},"
	"{\"id\":\"q-proc\",\"queryType\":\"PROCESS\",\"isPassing\":false},"
	"{\"id\":\"q-mfa2\",\"queryType\":\"MFA\",\"isPassing\":false},"
	"{\"queryType\":\"OS\"},{\"id\":\"q-bad\"}]}]},"
	"{\"id\":\"s3\",\"name\":\"plain\"},{\"id\":\"s4\",\"name\":\"odd\",\"postureQueries\":{}}]";

void test_posture(void)
{
	struct zt_posture_facts f = { .os_type = "Linux", .os_version = "6.1.0", .os_build = "#1 SMP",
				      .macs = { "52:54:00:12:34:56", "02:00:00:00:00:01" }, .n_macs = 2 };
	struct json_object *svcs = json_tokener_parse(listing), *r, *os = NULL, *mac = NULL;
	char unsup[64];

	os_version_is("6.1.0-57-amd64", "6.1.0");
	os_version_is("6.12.118+deb12-amd64", "6.12.118");
	os_version_is("5.4", "5.4.0");
	os_version_is("6", "6.0.0");
	os_version_is("4.19.0.1-rt", "4.19.0");
	os_version_is("unknown", "0.0.0");
	os_version_is("99999999999999999999.1", "999999.1.0");

	r = zt_posture_build(svcs, &f, unsup, sizeof(unsup));
	check(r && json_object_array_length(r) == 2,
	      "posture: one response per OS/MAC query id over all services (2, got %zu)",
	      r ? json_object_array_length(r) : 0);
	for (size_t i = 0; r && i < json_object_array_length(r); i++) {
		struct json_object *o = json_object_array_get_idx(r, i), *v;

		if (json_object_object_get_ex(o, "typeId", &v) && !strcmp(json_object_get_string(v), "OS"))
			os = o;
		else
			mac = o;
	}
	check(os && !strcmp(json_object_to_json_string_ext(os, JSON_C_TO_STRING_PLAIN),
			    "{\"id\":\"q-os\",\"typeId\":\"OS\",\"type\":\"Linux\",\"version\":\"6.1.0\",\"build\":\"#1 SMP\"}"),
	      "posture: the OS response (%s)", os ? json_object_to_json_string_ext(os, JSON_C_TO_STRING_PLAIN) : "none");
	check(mac && !strcmp(json_object_to_json_string_ext(mac, JSON_C_TO_STRING_PLAIN),
			     "{\"id\":\"q-mac\",\"typeId\":\"MAC\",\"macAddresses\":[\"02:00:00:00:00:01\",\"52:54:00:12:34:56\"]}"),
	      "posture: the MAC response, addresses sorted (%s)",
	      mac ? json_object_to_json_string_ext(mac, JSON_C_TO_STRING_PLAIN) : "none");
	{
		/* the interfaces listed in another order: the same answer (else it is posted again) */
		struct zt_posture_facts g = f;
		struct json_object *r2;
		char a[512];

		snprintf(a, sizeof(a), "%s", json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN));
		memcpy(g.macs[0], f.macs[1], sizeof(g.macs[0]));
		memcpy(g.macs[1], f.macs[0], sizeof(g.macs[1]));
		r2 = zt_posture_build(svcs, &g, NULL, 0);
		check(r2 && !strcmp(a, json_object_to_json_string_ext(r2, JSON_C_TO_STRING_PLAIN)),
		      "posture: MAC addresses in another order give the same answer");
		json_object_put(r2);
	}
	check(!strcmp(unsup, "MFA, PROCESS"), "posture: the checks it cannot answer, each once (%s)", unsup);
	json_object_put(r);

	r = zt_posture_build(json_object_array_get_idx(svcs, 2), &f, unsup, sizeof(unsup));
	check(r && json_object_array_length(r) == 0 && !unsup[0], "posture: no queries, no responses");
	json_object_put(r);
	r = zt_posture_build(NULL, &f, NULL, 0);
	check(r && json_object_array_length(r) == 0, "posture: no listing, no responses");
	json_object_put(r);
	json_object_put(svcs);

	struct zt_posture_facts h;
	int rc = zt_posture_facts_read(&h);
	unsigned a, b, c;
	char tail;

	check(rc == 0 && !strcmp(h.os_type, "Linux") && sscanf(h.os_version, "%u.%u.%u%c", &a, &b, &c, &tail) == 3,
	      "posture: this host's facts (rc %d, %s %s, %zu MAC addresses)", rc, h.os_type, h.os_version, h.n_macs);
}
