// SPDX-License-Identifier: GPL-2.0
/*
 * The controller's listing of a service's terminators (zt_terms.c's parser): the router of each
 * named from the identity's edge routers, the total beyond a page, every malformed form refused
 * naming what was wrong (the pool server then does not count it as "only mine").
 */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "tests/ziti/unit_ctrl.h"

void test_terms_parse(void);
void test_terms_parse(void)
{
	struct json_object *routers = json_tokener_parse("[{\"id\":\"R1id\",\"name\":\"r1\"},{\"id\":\"R2id\",\"name\":\"r2\"}]");
	struct zt_term_info *t;
	size_t n, total;
	char err[256];
	int rc;

	rc = zt_terms_parse("{\"data\":[{\"id\":\"T1\",\"routerId\":\"R1id\",\"createdAt\":\"2026-12-07T10:00:00.000Z\"},"
			    "{\"id\":\"T2\",\"routerId\":\"R9id\"}],\"meta\":{\"pagination\":{\"totalCount\":2}}}",
			    routers, &t, &n, &total, err, sizeof(err));
	check(!rc && n == 2 && total == 2 && !strcmp(t[0].id, "T1") && !strcmp(t[0].router, "r1") &&
	      !strcmp(t[0].router_id, "R1id") && !strcmp(t[0].created, "2026-12-07T10:00:00.000Z") &&
	      !strcmp(t[1].router, "") && !strcmp(t[1].router_id, "R9id"),
	      "terms: two terminators, one router named, one unknown to the identity");
	free(t);
	rc = zt_terms_parse("{\"data\":[{\"id\":\"T1\",\"routerId\":\"R2id\"}],\"meta\":{\"pagination\":{\"totalCount\":7}}}",
			    routers, &t, &n, &total, err, sizeof(err));
	check(!rc && n == 1 && total == 7 && !strcmp(t[0].router, "r2"), "terms: a page of 1 of 7: total 7");
	free(t);
	rc = zt_terms_parse("{\"data\":[],\"meta\":{}}", routers, &t, &n, &total, err, sizeof(err));
	check(!rc && n == 0 && total == 0, "terms: none listed");
	free(t);
	static const char *const bad[] = {
		"", "[]", "{\"data\":{}}", "{\"data\":[{\"routerId\":\"R1id\"}]}", "{\"data\":[{\"id\":\"T1\"}]}",
		"{\"data\":[{\"id\":\"\",\"routerId\":\"R1id\"}]}",
		"{\"data\":[{\"id\":\"T1\",\"routerId\":\"R1id\"},{\"id\":7,\"routerId\":\"R1id\"}]}",
		"{\"data\":[{\"id\":\"T1xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\",\"routerId\":\"R1id\"}]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		t = (void *)1;
		rc = zt_terms_parse(bad[i], routers, &t, &n, &total, err, sizeof(err));
		check(rc < 0 && !t && n == 0 && !strncmp(err, "terminators: ", 13),
		      "terms: malformed listing %zu refused (%s)", i, err);
	}
	json_object_put(routers);
}
