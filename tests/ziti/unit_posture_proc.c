// SPDX-License-Identifier: GPL-2.0
/*
 * PROCESS and PROCESS_MULTI posture checks (daemon/ziti/zt_posture.c, zt_posture_proc.c): the
 * paths a listing asks about, the responses built from facts, and the facts read from this
 * host: a copy of sleep(1) run from a temporary directory is found running, under its path and
 * through a symbolic link, with the SHA-512 of its file; stopped, it is not.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/ziti/zt_internal.h"

void check(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static const char *listing =
	"[{\"id\":\"s1\",\"name\":\"pbx\",\"postureQueries\":[{\"policyId\":\"p1\",\"policyType\":\"Dial\","
	"\"isPassing\":false,\"postureQueries\":["
	"{\"id\":\"q-p\",\"queryType\":\"PROCESS\",\"isPassing\":false,\"process\":{\"osType\":\"Linux\","
	"\"path\":\"/usr/sbin/pbxd\"}},"
	"{\"id\":\"q-w\",\"queryType\":\"PROCESS\",\"isPassing\":false,\"process\":{\"osType\":\"Windows\","
	"\"path\":\"C:\\\\agent.exe\"}},"
	"{\"id\":\"q-m\",\"queryType\":\"PROCESS_MULTI\",\"isPassing\":false,\"processes\":["
	"{\"osType\":\"Linux\",\"path\":\"/usr/bin/a\"},{\"osType\":\"macOS\",\"path\":\"/Applications/x\"},"
	"{\"osType\":\"Linux\",\"path\":\"/usr/bin/b\"},{\"osType\":\"Linux\",\"path\":\"/usr/sbin/pbxd\"}]},"
	"{\"id\":\"q-np\",\"queryType\":\"PROCESS\",\"isPassing\":false}]}]},"
	"{\"id\":\"s2\",\"name\":\"rtp\",\"postureQueries\":[{\"policyId\":\"p2\",\"policyType\":\"Dial\","
	"\"isPassing\":false,\"postureQueries\":["
	"{\"id\":\"q-p\",\"queryType\":\"PROCESS\",\"isPassing\":false,\"process\":{\"osType\":\"Linux\","
	"\"path\":\"/usr/sbin/pbxd\"}}]}]}]";

static const char *plain(struct json_object *o)
{
	return o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : "none";
}

static void sha512_file(const char *path, char *hex)
{
	unsigned char md[64], buf[65536];
	unsigned int len = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	FILE *f = fopen(path, "rb");
	size_t n;

	hex[0] = 0;
	if (!c || !f || !EVP_DigestInit_ex(c, EVP_sha512(), NULL))
		goto out;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		EVP_DigestUpdate(c, buf, n);
	if (EVP_DigestFinal_ex(c, md, &len))
		for (unsigned i = 0; i < len; i++)
			sprintf(hex + 2 * i, "%02x", md[i]);
out:
	if (f)
		fclose(f);
	EVP_MD_CTX_free(c);
}

static const struct zt_posture_proc *fact(const struct zt_posture_facts *f, const char *path)
{
	for (size_t i = 0; i < f->n_procs; i++)
		if (!strcmp(f->procs[i].path, path))
			return &f->procs[i];
	return NULL;
}

static void build_tests(void)
{
	struct json_object *svcs = json_tokener_parse(listing), *r;
	char paths[ZT_POSTURE_MAX_PROCS][ZT_POSTURE_PATH_MAX], unsup[64], want[2048];
	struct zt_posture_facts f = { .os_type = "Linux", .n_procs = 2 };
	size_t n = zt_posture_proc_paths(svcs, paths, ZT_POSTURE_MAX_PROCS);

	check(n == 3 && !strcmp(paths[0], "/usr/sbin/pbxd") && !strcmp(paths[1], "/usr/bin/a") &&
		      !strcmp(paths[2], "/usr/bin/b"),
	      "posture PROCESS: the Linux paths of PROCESS and PROCESS_MULTI queries, each once (%zu: %s %s %s)", n,
	      n > 0 ? paths[0] : "", n > 1 ? paths[1] : "", n > 2 ? paths[2] : "");
	check(zt_posture_proc_paths(svcs, paths, 2) == 2, "posture PROCESS: at most max paths");

	snprintf(f.procs[0].path, sizeof(f.procs[0].path), "/usr/sbin/pbxd");
	f.procs[0].running = true;
	snprintf(f.procs[0].hash, sizeof(f.procs[0].hash), "%0128d", 7);
	snprintf(f.procs[1].path, sizeof(f.procs[1].path), "/usr/bin/a");
	snprintf(f.procs[1].hash, sizeof(f.procs[1].hash), "%0128d", 1);
	r = zt_posture_build(svcs, &f, unsup, sizeof(unsup));
	snprintf(want, sizeof(want),
		 "[{\"id\":\"q-p\",\"typeId\":\"PROCESS\",\"path\":\"/usr/sbin/pbxd\",\"isRunning\":true,"
		 "\"hash\":\"%0128d\",\"signerFingerprints\":[]},"
		 "{\"id\":\"q-m\",\"typeId\":\"PROCESS\",\"path\":\"/usr/bin/a\",\"isRunning\":false,"
		 "\"hash\":\"%0128d\",\"signerFingerprints\":[]},"
		 "{\"id\":\"q-m\",\"typeId\":\"PROCESS\",\"path\":\"/usr/bin/b\",\"isRunning\":false,"
		 "\"hash\":\"\",\"signerFingerprints\":[]},"
		 "{\"id\":\"q-m\",\"typeId\":\"PROCESS\",\"path\":\"/usr/sbin/pbxd\",\"isRunning\":true,"
		 "\"hash\":\"%0128d\",\"signerFingerprints\":[]}]",
		 7, 1, 7);
	check(r && !strcmp(plain(r), want),
	      "posture PROCESS: one response per query and Linux path (a multi check's paths each under its id; "
	      "a path not in the facts: not running, no hash; Windows and macOS paths not answered): %s",
	      plain(r));
	check(!strcmp(unsup, "PROCESS"), "posture PROCESS: a query without a path is reported unanswerable (%s)",
	      unsup);
	json_object_put(r);
	json_object_put(svcs);
}

static void read_tests(void)
{
	char dir[] = "/tmp/zt-unit-proc.XXXXXX", exe[128], link[160], want[129];
	char paths[3][ZT_POSTURE_PATH_MAX];
	struct zt_posture_hash cache[ZT_POSTURE_HASH_CACHE];
	struct zt_posture_facts f;
	const struct zt_posture_proc *p, *l, *x;
	int in, out, rc;
	pid_t pid;
	char buf[65536];
	ssize_t k;

	memset(cache, 0, sizeof(cache));
	if (!mkdtemp(dir)) {
		check(0, "posture PROCESS: mkdtemp: %s", strerror(errno));
		return;
	}
	snprintf(exe, sizeof(exe), "%s/posture-agent", dir);
	snprintf(link, sizeof(link), "%s/agent-link", dir);
	in = open("/bin/sleep", O_RDONLY);
	out = open(exe, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	while (in >= 0 && out >= 0 && (k = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)k) != k)
			break;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	if (symlink(exe, link))
		check(0, "posture PROCESS: symlink: %s", strerror(errno));
	sha512_file(exe, want);
	snprintf(paths[0], sizeof(paths[0]), "%s", exe);
	snprintf(paths[1], sizeof(paths[1]), "%s", link);
	snprintf(paths[2], sizeof(paths[2]), "%s/not-there", dir);

	memset(&f, 0, sizeof(f));
	rc = zt_posture_procs_read(&f, (const char (*)[ZT_POSTURE_PATH_MAX])paths, 3, cache, NULL);
	p = fact(&f, exe);
	check(rc == 0 && p && !p->running && !strcmp(p->hash, want) && want[0],
	      "posture PROCESS: a copy of sleep not started: not running, its file's SHA-512 (rc %d, %s, %.16s...)", rc,
	      p && p->running ? "running" : "not running", p ? p->hash : "");

	pid = fork();
	if (pid == 0) {
		execl(exe, "posture-agent", "30", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) { /* until the child has exec'd */
		char e[256];
		char pe[64];
		ssize_t m;

		snprintf(pe, sizeof(pe), "/proc/%d/exe", (int)pid);
		m = readlink(pe, e, sizeof(e) - 1);
		if (m > 0 && (e[m] = 0, !strcmp(e, exe)))
			break;
		usleep(10000);
	}
	memset(&f, 0, sizeof(f));
	rc = zt_posture_procs_read(&f, (const char (*)[ZT_POSTURE_PATH_MAX])paths, 3, cache, NULL);
	p = fact(&f, exe);
	l = fact(&f, link);
	x = fact(&f, paths[2]);
	check(rc == 0 && p && p->running && !strcmp(p->hash, want),
	      "posture PROCESS: started (pid %d): running, the same SHA-512 (%s)", (int)pid,
	      p && p->running ? "running" : "not running");
	check(l && l->running && !strcmp(l->hash, want),
	      "posture PROCESS: the check's path a symbolic link to it: running, its SHA-512 (%s)",
	      l && l->running ? "running" : "not running");
	check(x && !x->running && !x->hash[0] && f.n_procs == 3,
	      "posture PROCESS: a path with no file: not running, no hash (%zu facts)", f.n_procs);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);

	/* the file replaced (an upgrade): hashed again, not the cached sum */
	out = open(exe, O_WRONLY | O_APPEND);
	if (out >= 0) {
		if (write(out, "x", 1) != 1)
			check(0, "posture PROCESS: append");
		close(out);
	}
	sha512_file(exe, want);
	memset(&f, 0, sizeof(f));
	zt_posture_procs_read(&f, (const char (*)[ZT_POSTURE_PATH_MAX])paths, 3, cache, NULL);
	p = fact(&f, exe);
	check(p && !p->running && !strcmp(p->hash, want),
	      "posture PROCESS: stopped: not running; the file changed: its new SHA-512 (%.16s...)", p ? p->hash : "");
	unlink(link);
	unlink(exe);
	rmdir(dir);
}

void test_posture_proc(void)
{
	build_tests();
	read_tests();
}
