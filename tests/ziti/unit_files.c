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
