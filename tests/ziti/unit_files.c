// SPDX-License-Identifier: GPL-2.0
/*
 * zt-unit: the modes of the files renewal and enrollment write. sipovld refuses identity and
 * key files that group or others can read or write (daemon/priv.c); a file holding key
 * material that renewal rewrites must therefore come out 0600 whatever mode it had, or the
 * next start refuses the identity renewal just wrote.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/ziti/zt_internal.h"

void check(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void test_secret_modes(void)
{
	static const mode_t before[] = { 0640, 0644, 0660, 0600 };
	char dir[] = "/tmp/zt-modes.XXXXXX", f[300], err[512] = "";
	unsigned owner_only = 0;

	if (!mkdtemp(dir)) {
		check(0, "secret modes: setup");
		return;
	}
	snprintf(f, sizeof(f), "%s/id.json", dir);
	for (size_t i = 0; i < sizeof(before) / sizeof(before[0]); i++) {
		struct zt_stage st = { 0 };
		struct stat sb;
		FILE *fp = fopen(f, "w");

		if (fp) {
			fputs("old", fp);
			fclose(fp);
		}
		chmod(f, before[i]);
		if (!zt_stage_add(&st, f, "new", 3, 0600 | ZT_STAGE_SECRET, err, sizeof(err)) &&
		    !zt_stage_commit(&st, err, sizeof(err)) && !stat(f, &sb) && (sb.st_mode & 0777) == 0600)
			owner_only++;
		else
			printf("# secret rewritten over a %03o file: mode %03o %s\n", (unsigned)before[i],
			       (unsigned)(sb.st_mode & 0777), err);
	}
	check(owner_only == 4, "secret modes: key material rewritten over 0640/0644/0660/0600 files is 0600 (%u of 4)",
	      owner_only);
	unlink(f);
	rmdir(dir);
}

/*
 * A process that does not renew an identity (renew_off: a sipovld worker) adopts the newer
 * certificate the renewing process (the primary) wrote to the identity file: at once when told
 * (zt_ctx_adopt_cert), and every minute without being told. Before (session 21), a worker
 * kept the certificate it started with: after the primary's renewal the controller accepts
 * only the new one, and the old one expires.
 */
char *zt_test_self_signed(EVP_PKEY *k, long serial, int days); /* unit_ctrl.c */
static int adopt_cbs, adopt_errs;
static void adopt_on_cert(struct zt_ctx *ctx, int err, const char *msg, void *user)
{
	(void)ctx, (void)user;
	if (!err && strstr(msg, "renewed by another process"))
		adopt_cbs++;
	if (err)
		adopt_errs++;
}

static int write_identity(const char *path, const char *cert, const char *key)
{
	char *js = zt_identity_json("https://ctrl.invalid:1280/edge/client/v1", cert, key, cert);
	FILE *f = js ? fopen(path, "w") : NULL;
	int rc = f && fputs(js, f) >= 0 ? 0 : -1;

	if (f && fclose(f))
		rc = -1;
	free(js);
	return rc;
}

void test_adopt_cert(void);
void test_adopt_cert(void)
{
	char err[512] = "", dir[] = "/tmp/zt-adopt.XXXXXX", path[300], fp1[128] = "", fp2[128] = "";
	EVP_PKEY *k = zt_pki_keygen(NULL, err, sizeof(err));
	char *kp = k ? zt_pki_key_pem(k) : NULL;
	char *c1 = k ? zt_test_self_signed(k, 21, 10) : NULL, *c2 = k ? zt_test_self_signed(k, 22, 40) : NULL;
	char *c3 = k ? zt_test_self_signed(k, 23, 90) : NULL;
	struct zt_loop *loop = zt_loop_new();
	struct zt_identity *id = NULL;
	struct zt_ctx *ctx = NULL;
	struct zt_cert_status st;
	int lock = -1, r1, r2, r3, r4;
	bool made = false;

	if (!kp || !c1 || !c2 || !c3 || !loop || !(made = mkdtemp(dir) != NULL)) {
		check(0, "adopt: setup");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/id.json", dir);
	if (write_identity(path, c1, kp) || !(id = zt_identity_load(path, err, sizeof(err)))) {
		check(0, "adopt: identity (%s)", err);
		goto out;
	}
	struct zt_opts o = { .renew_off = true, .log_level = -1 };
	struct zt_ctx_cbs cbs = { .on_cert = adopt_on_cert };

	ctx = zt_ctx_new(loop, id, &o, &cbs, NULL);
	if (!ctx) {
		zt_identity_free(id);
		check(0, "adopt: context");
		goto out;
	}
	zt_ctx_cert_status(ctx, &st);
	snprintf(fp1, sizeof(fp1), "%s", st.fingerprint ? st.fingerprint : "");
	r1 = zt_ctx_adopt_cert(ctx); /* the file holds the certificate in use */
	write_identity(path, c2, kp); /* "the primary renewed it" */
	r2 = zt_ctx_adopt_cert(ctx);
	zt_ctx_cert_status(ctx, &st);
	snprintf(fp2, sizeof(fp2), "%s", st.fingerprint ? st.fingerprint : "");
	check(r1 == 0 && r2 == 1 && adopt_cbs == 1 && *fp1 && *fp2 && strcmp(fp1, fp2) && st.renewals == 1 &&
	      !strcmp(st.state, "disabled"),
	      "adopt: renew_off takes the newer certificate another process wrote to the identity file "
	      "(before %d, after %d, %d reports, fingerprint changed %s, renewals %u, state %s)", r1, r2, adopt_cbs,
	      strcmp(fp1, fp2) ? "yes" : "no", st.renewals, st.state);
	/* a reader never makes the writer's lock file (another uid's renewals would need it) */
	char lockp[320];
	struct stat sb;

	snprintf(lockp, sizeof(lockp), "%s/.id.json.lock", dir);
	check(stat(lockp, &sb) != 0, "adopt: reading creates no lock file (%s)", lockp);
	/* an older certificate in the file is not taken */
	write_identity(path, c1, kp);
	r3 = zt_ctx_adopt_cert(ctx);
	check(r3 == 0 && adopt_cbs == 1, "adopt: an older certificate in the file is left (%d)", r3);
	/* a file that cannot be read is reported once, not at every look */
	FILE *g = fopen(path, "w");

	if (g) {
		fputs("{ not json", g);
		fclose(g);
	}
	adopt_errs = 0;
	r3 = zt_ctx_adopt_cert(ctx);
	r4 = zt_ctx_adopt_cert(ctx);
	check(r3 == -1 && r4 == -1 && adopt_errs == 1, "adopt: an unreadable identity file: reported once over two looks "
	      "(%d, %d, %d reports)", r3, r4, adopt_errs);
	/* a renewal writing the file holds its lock: looked at again 250 ms later, then taken */
	write_identity(path, c3, kp);
	lock = zt_identity_lock(id, err, sizeof(err));
	r3 = zt_ctx_adopt_cert(ctx);
	if (lock >= 0)
		close(lock);
	lock = -1;
	for (uint64_t end = zt_now_ms() + 1000; adopt_cbs < 2 && zt_now_ms() < end;)
		zt_loop_run(loop, 20);
	r4 = adopt_cbs;
	check(r3 == 2 && r4 == 2, "adopt: while the file's lock is held: not read (%d), taken by the timer "
	      "within a second of its release (%d reports)", r3, r4);
out:
	if (lock >= 0)
		close(lock);
	if (ctx)
		zt_ctx_free(ctx);
	if (loop)
		zt_loop_free(loop);
	if (made) {
		snprintf(path, sizeof(path), "rm -rf %s", dir);
		if (system(path)) {
		}
	}
	if (kp)
		OPENSSL_cleanse(kp, strlen(kp));
	free(kp);
	free(c1);
	free(c2);
	free(c3);
	EVP_PKEY_free(k);
}
