// SPDX-License-Identifier: GPL-2.0
/*
 * An HA cluster's members written back into the identity file's ztAPIs (daemon/ziti/zt_ctrls.c,
 * zt_idapis.c), against the scripted controller of unit_ctrl.c and a real file.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "tests/ziti/unit_ctrl.h"

#define MEMBER(n, port) "{\"name\":\"ctrl" #n "\",\"apiAddresses\":{\"edge-client\":[{\"url\":" \
	"\"https://ctrl" #n ".invalid:" #port "/edge/client/v1\"}],\"edge-oidc\":[{\"url\":\"https://x.invalid:1/oidc\"}]}}"
#define NOADDR(n) "{\"name\":\"ctrl" #n "\"}"
#define URL(n, port) "https://ctrl" #n ".invalid:" #port "/edge/client/v1"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *b = calloc(1, 65536);

	if (f && b)
		b[fread(b, 1, 65535, f)] = 0;
	if (f)
		fclose(f);
	return b;
}

/* the identity file's ztAPIs as "u1 u2 ...", and whether every other field equals @orig's */
static void apis_of(const char *path, const char *orig, char *out, size_t len, bool *rest_same)
{
	char *t = slurp(path);
	struct json_object *a = json_tokener_parse(t), *b = json_tokener_parse(orig), *arr = NULL;

	out[0] = 0;
	if (json_object_object_get_ex(a, "ztAPIs", &arr) && json_object_is_type(arr, json_type_array))
		for (size_t i = 0; i < json_object_array_length(arr); i++)
			snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? " " : "",
				 json_object_get_string(json_object_array_get_idx(arr, i)));
	json_object_object_del(a, "ztAPIs");
	json_object_object_del(b, "ztAPIs");
	*rest_same = a && b && json_object_equal(a, b);
	json_object_put(a);
	json_object_put(b);
	free(t);
}

static unsigned count_of(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* files in @dir other than the identity and its lock */
static int strays(const char *dir)
{
	char cmd[400], line[64] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | grep -v -x -e id.json -e .id.json.lock | wc -l", dir);
	p = popen(cmd, "r");
	if (p && !fgets(line, sizeof(line), p))
		line[0] = 0;
	if (p)
		pclose(p);
	return atoi(line);
}

/* ask for the members again and let the reply arrive */
static void learn_again(void)
{
	unsigned n = fk.n_ctrls;

	zt_ctx_learn_ctrls(h.ctx);
	for (int i = 0; i < 100 && fk.n_ctrls == n; i++)
		zt_loop_run(h.loop, 10);
	run_until(NULL, 30);
}

/*
 * An identity with one controller (ztAPI, no ztAPIs) in an HA cluster: the members learned
 * from /controllers are written into its ztAPIs, everything else kept, mode 0600; the same
 * set is not written again; a reply with members lacking addresses keeps the others; a
 * changed set is written; a failed write leaves the file as it was, logged once.
 */
void test_save_members(void)
{
	static const char orig[] = "{\"ztAPI\":\"https://ctrl.invalid:1280/edge/client/v1\",\"ztAPIs\":null,"
		"\"configTypes\":null,\"id\":{\"key\":\"pem:K\",\"cert\":\"pem:C\",\"ca\":\"pem:A\"},"
		"\"x\":{\"n\":1.50,\"s\":\"a/b\",\"l\":[1,true,null]}}";
	char dir[] = "/tmp/zt-unit-apis.XXXXXX", path[300], apis[600], *before;
	struct stat st0, st;
	struct rlimit rl0, rl;
	bool same = false, ok;

	if (!mkdtemp(dir)) {
		check(0, "ztAPIs: temporary directory: %s", strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "%s/id.json", dir);
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(orig, f);
		fclose(f);
	}
	chmod(path, 0644);
	fk.id_path = path;
	fk.version_caps = "\"capabilities\":[\"HA_CONTROLLER\"],";
	fk.ctrls = "[" MEMBER(1, 1280) "," MEMBER(2, 1281) "," MEMBER(3, 1282) "]";
	fk.n_ctrls = 0;
	ctx_up();
	run_until(&h.ready, 2000);
	for (int i = 0; i < 100 && fk.n_ctrls == 0; i++)
		zt_loop_run(h.loop, 10);
	run_until(NULL, 50);
	apis_of(path, orig, apis, sizeof(apis), &same);
	stat(path, &st0);
	check(!strcmp(apis, URL(1, 1280) " " URL(2, 1281) " " URL(3, 1282)) && same && (st0.st_mode & 07777) == 0600 &&
		      !strays(dir),
	      "ztAPIs: the three members learned are written into the identity (%s), other fields kept: %s, "
	      "mode %o (0600), %d stray files", apis, same ? "yes" : "no", st0.st_mode & 07777, strays(dir));

	learn_again();
	stat(path, &st);
	check(st.st_ino == st0.st_ino,
	      "ztAPIs: the same members again: not written again (inode %s)", st.st_ino == st0.st_ino ? "kept" : "changed");

	fk.ctrls = "[" MEMBER(1, 1280) "," NOADDR(2) "," NOADDR(3) "]";
	learn_again();
	stat(path, &st);
	apis_of(path, orig, apis, sizeof(apis), &same);
	check(st.st_ino == st0.st_ino && !strcmp(apis, URL(1, 1280) " " URL(2, 1281) " " URL(3, 1282)),
	      "ztAPIs: a reply with members lacking addresses (v1.6.5 after a start) drops none (%s)", apis);
	unsigned n = fk.n_ctrls;

	run_until(NULL, 200); /* service polls every 50 ms: the incomplete reply is asked again */
	check(fk.n_ctrls >= n + 2, "ztAPIs: an incomplete member list is asked again at the polls (%u times in 200 ms)",
	      fk.n_ctrls - n);

	fk.ctrls = "[" MEMBER(1, 1280) "," MEMBER(2, 1281) "," MEMBER(4, 1284) "]";
	learn_again();
	stat(path, &st);
	apis_of(path, orig, apis, sizeof(apis), &same);
	check(st.st_ino != st0.st_ino && !strcmp(apis, URL(1, 1280) " " URL(2, 1281) " " URL(4, 1284)) && same,
	      "ztAPIs: ctrl4 replaced ctrl3: written (%s)", apis);

	/* a failed write: the file may not grow past 64 bytes (write fails with EFBIG) */
	before = slurp(path);
	stat(path, &st0);
	getrlimit(RLIMIT_FSIZE, &rl0);
	rl = rl0;
	rl.rlim_cur = 64;
	signal(SIGXFSZ, SIG_IGN);
	setrlimit(RLIMIT_FSIZE, &rl);
	fk.ctrls = "[" MEMBER(1, 1280) "," MEMBER(2, 1281) "," MEMBER(3, 1282) "]";
	learn_again();
	learn_again();
	setrlimit(RLIMIT_FSIZE, &rl0);
	signal(SIGXFSZ, SIG_DFL);
	char *after = slurp(path);

	stat(path, &st);
	ok = before && after && !strcmp(before, after) && st.st_ino == st0.st_ino && !strays(dir);
	check(ok && count_of(h.log, "cannot write the cluster's controllers") == 1 && strstr(h.log, "File too large"),
	      "ztAPIs: a failed write (file size limit) leaves the file as it was (%s, %d stray files), logged once (%u)",
	      ok ? "same bytes" : "CHANGED", strays(dir), count_of(h.log, "cannot write the cluster's controllers"));
	free(after);
	learn_again();
	apis_of(path, orig, apis, sizeof(apis), &same);
	check(!strcmp(apis, URL(1, 1280) " " URL(2, 1281) " " URL(3, 1282)) && same,
	      "ztAPIs: written at the next reply once writing works again (%s)", apis);
	free(before);
	ctx_down();
	fk.id_path = NULL;
	fk.ctrls = NULL;
	fk.version_caps = NULL;
	unlink(path);
	snprintf(path, sizeof(path), "%s/.id.json.lock", dir);
	unlink(path);
	rmdir(dir);
}
