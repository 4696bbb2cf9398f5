// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld: least privilege (Documentation/sipovld.8.md, "Privileges").
 *
 * Start-up needs what it needs (the sipovl netlink family, the transparent listening sockets,
 * the control socket); from then on the daemon keeps only:
 *
 *   CAP_NET_ADMIN         the sipovl generic netlink commands (GENL_ADMIN_PERM is checked at
 *                         every send, not only at open) and IP_TRANSPARENT on the per-flow UDP
 *                         sockets and the hosted sockets that originate from the caller's address
 *   CAP_NET_BIND_SERVICE  those sockets bind the intercepted destination or the caller's address,
 *                         whose port may be below 1024
 *
 * in its effective and permitted sets, and in the bounding set when it may change that (root;
 * under systemd the unit's CapabilityBoundingSet= does it). Inheritable and ambient are emptied,
 * no_new_privs is set. With a user (--user or "user"), it becomes that user and group, with no
 * supplementary groups, keeping those two capabilities.
 */
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/sipovld.h"

static const cap_value_t keep[] = { CAP_NET_ADMIN, CAP_NET_BIND_SERVICE };
#define N_KEEP (sizeof(keep) / sizeof(keep[0]))

static bool kept(cap_value_t c)
{
	for (size_t i = 0; i < N_KEEP; i++)
		if (keep[i] == c)
			return true;
	return false;
}

int priv_user_lookup(const char *spec, struct priv_user *u, char *err, size_t errlen)
{
	char name[64];
	const char *colon = strchr(spec, ':');
	size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
	struct passwd *pw;

	memset(u, 0, sizeof(*u));
	if (!n || n >= sizeof(name) || (colon && !colon[1])) {
		snprintf(err, errlen, "user '%s': expected USER or USER:GROUP", spec);
		return -1;
	}
	memcpy(name, spec, n);
	name[n] = 0;
	errno = 0;
	pw = getpwnam(name);
	if (!pw) {
		snprintf(err, errlen, "user '%s': %s", name, errno ? strerror(errno) : "no such user");
		return -1;
	}
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	if (colon) {
		struct group *gr;

		errno = 0;
		gr = getgrnam(colon + 1);
		if (!gr) {
			snprintf(err, errlen, "group '%s': %s", colon + 1, errno ? strerror(errno) : "no such group");
			return -1;
		}
		u->gid = gr->gr_gid;
	}
	snprintf(u->name, sizeof(u->name), "%s", name);
	u->set = true;
	return 0;
}

int priv_drop(const struct priv_user *u, char *err, size_t errlen)
{
	cap_t now = cap_get_proc(), want = cap_init();
	cap_value_t have[N_KEEP];
	int n_have = 0, rc = -1;

	if (!now || !want) {
		snprintf(err, errlen, "capabilities: %s", strerror(errno));
		goto out;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		snprintf(err, errlen, "no_new_privs: %s", strerror(errno));
		goto out;
	}
	/* the bounding set, while CAP_SETPCAP is ours (root); otherwise systemd's is kept */
	cap_flag_value_t setpcap = CAP_CLEAR;

	cap_get_flag(now, CAP_SETPCAP, CAP_EFFECTIVE, &setpcap);
	if (setpcap == CAP_SET) {
		for (cap_value_t c = 0; cap_get_bound(c) >= 0; c++) {
			if (!kept(c) && cap_get_bound(c) == 1 && cap_drop_bound(c)) {
				snprintf(err, errlen, "bounding set: drop capability %d: %s", (int)c, strerror(errno));
				goto out;
			}
		}
	}
	if (cap_reset_ambient() && errno != EINVAL) {
		snprintf(err, errlen, "ambient capabilities: %s", strerror(errno));
		goto out;
	}
	/* of the two, those we have (a user without them runs without them) */
	for (size_t i = 0; i < N_KEEP; i++) {
		cap_flag_value_t v = CAP_CLEAR;

		cap_get_flag(now, keep[i], CAP_PERMITTED, &v);
		if (v == CAP_SET)
			have[n_have++] = keep[i];
	}
	/*
	 * Already that user (systemd's User= with "user" naming the same one): nothing to switch,
	 * and no right to (the unit has no CAP_SETUID, and its SystemCallFilter refuses set*id).
	 */
	bool already = u->set && getuid() == u->uid && geteuid() == u->uid && getgid() == u->gid &&
		       getegid() == u->gid;

	if (u->set && !already) {
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) || setgroups(0, NULL) || setresgid(u->gid, u->gid, u->gid) ||
		    setresuid(u->uid, u->uid, u->uid)) {
			snprintf(err, errlen, "cannot become user %s (uid %u gid %u): %s", u->name, (unsigned)u->uid,
				 (unsigned)u->gid, strerror(errno));
			goto out;
		}
		prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	}
	if ((n_have && (cap_set_flag(want, CAP_PERMITTED, n_have, have, CAP_SET) ||
			cap_set_flag(want, CAP_EFFECTIVE, n_have, have, CAP_SET))) ||
	    cap_set_proc(want)) {
		snprintf(err, errlen, "capabilities: %s", strerror(errno));
		goto out;
	}
	logm(L_INFO, "privileges: uid %u gid %u, capabilities:%s%s%s", (unsigned)getuid(), (unsigned)getgid(),
	     n_have ? "" : " none", n_have && have[0] == CAP_NET_ADMIN ? " cap_net_admin" : "",
	     (n_have == 2 || (n_have && have[0] == CAP_NET_BIND_SERVICE)) ? " cap_net_bind_service" : "");
	rc = 0;
out:
	cap_free(now);
	cap_free(want);
	return rc;
}

int priv_check_secret(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st))
		return 0; /* the loader says why it cannot read it */
	if (st.st_mode & 0044) {
		snprintf(err, errlen, "%s holds key material and is readable by group or others (mode %03o): chmod 600 it",
			 path, (unsigned)(st.st_mode & 0777));
		return -1;
	}
	if (st.st_mode & 0022) {
		snprintf(err, errlen, "%s holds key material and is writable by group or others (mode %03o): chmod 600 it",
			 path, (unsigned)(st.st_mode & 0777));
		return -1;
	}
	return 0;
}

/*
 * Whether the daemon, as it now runs (after priv_drop), can create files in the directory of
 * @path: certificate renewal writes the new key, certificate and identity JSON there (temporary
 * file, rename). 0, or -1 with @err saying why not (permissions, read-only file system).
 */
int priv_check_writable_dir(const char *path, char *err, size_t errlen)
{
	char *copy = strdup(path);
	const char *dir;
	int rc = 0;

	if (!copy)
		return 0; /* out of memory: no warning rather than a wrong one */
	dir = dirname(copy);
	if (access(dir, W_OK | X_OK)) {
		snprintf(err, errlen, "its directory %s is not writable by sipovld (uid %u: %s)", dir,
			 (unsigned)geteuid(), strerror(errno));
		rc = -1;
	}
	free(copy);
	return rc;
}
