// SPDX-License-Identifier: GPL-2.0
/*
 * The facts of PROCESS posture checks: is a process of an executable running on this host, and
 * the SHA-512 of that executable's file (what the controller compares with the check's hashes,
 * as the OpenZiti clients compute it: the file at the path, lower-case hex).
 *
 * One pass over /proc per reading: a process matches a path when its /proc/PID/exe names the
 * path with its symbolic links resolved (realpath), or that path with " (deleted)" (the file was
 * replaced since the process started: an upgrade; the process still runs that program). The
 * kernel lets a process read the exe link of processes of its own user only (ptrace access,
 * CAP_SYS_PTRACE otherwise): processes of other users count in procs_hidden and are not seen
 * (Documentation/sipovld.8.md, "Posture checks", says what that means under the unit).
 *
 * Hashes are cached by path, device, inode, size and modification time: a file is read again
 * only when one of them changed. The first reading of a file costs its size in SHA-512
 * (about 1.4 ms per MiB on the 2-core test machine: openssl speed sha512, 64 KiB blocks, 742 MB/s
 * at load 2.4); files over 256 MiB are not hashed.
 */
#include "zt_internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HASH_MAX_BYTES (256ull << 20)

static void sha512_fd(int fd, char *hex)
{
	unsigned char md[EVP_MAX_MD_SIZE], buf[65536];
	unsigned int len = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	ssize_t n;
	bool ok;

	hex[0] = 0;
	if (!c)
		return;
	ok = EVP_DigestInit_ex(c, EVP_sha512(), NULL);
	while (ok && (n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		ok = n > 0 && EVP_DigestUpdate(c, buf, (size_t)n);
	}
	if (ok && EVP_DigestFinal_ex(c, md, &len) && len == 64)
		for (unsigned int i = 0; i < len; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
	EVP_MD_CTX_free(c);
}

static void file_hash(const char *path, struct zt_posture_hash *cache, char *hex)
{
	struct zt_posture_hash *slot = NULL;
	struct stat st;
	long long mt;
	int fd;

	hex[0] = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (unsigned long long)st.st_size > HASH_MAX_BYTES) {
		close(fd);
		return;
	}
	mt = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
	for (size_t i = 0; cache && i < ZT_POSTURE_HASH_CACHE; i++) {
		struct zt_posture_hash *h = &cache[i];

		if (!strcmp(h->path, path)) {
			if (h->dev == st.st_dev && h->ino == st.st_ino && h->size == (unsigned long long)st.st_size &&
			    h->mtime_ns == mt && h->hash[0]) {
				memcpy(hex, h->hash, sizeof(h->hash));
				close(fd);
				return;
			}
			slot = h;
			break;
		}
		if (!slot && !h->path[0])
			slot = h;
	}
	sha512_fd(fd, hex);
	close(fd);
	if (!cache || !hex[0])
		return;
	if (!slot) /* full: the first entry goes (16 distinct executables in checks is already many) */
		slot = &cache[0];
	snprintf(slot->path, sizeof(slot->path), "%s", path);
	slot->dev = st.st_dev;
	slot->ino = st.st_ino;
	slot->size = (unsigned long long)st.st_size;
	slot->mtime_ns = mt;
	memcpy(slot->hash, hex, sizeof(slot->hash));
}

int zt_posture_procs_read(struct zt_posture_facts *f, const char (*paths)[ZT_POSTURE_PATH_MAX], size_t n,
			  struct zt_posture_hash *cache)
{
	char real[ZT_POSTURE_MAX_PROCS][PATH_MAX];
	struct dirent *e;
	DIR *d;

	if (n > ZT_POSTURE_MAX_PROCS)
		n = ZT_POSTURE_MAX_PROCS;
	f->n_procs = n;
	f->procs_hidden = 0;
	for (size_t i = 0; i < n; i++) {
		struct zt_posture_proc *p = &f->procs[i];

		snprintf(p->path, sizeof(p->path), "%s", paths[i]);
		p->running = false;
		if (!realpath(paths[i], real[i]))
			snprintf(real[i], sizeof(real[i]), "%s", paths[i]);
		file_hash(real[i], cache, p->hash);
	}
	if (!n)
		return 0;
	d = opendir("/proc");
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		char link[sizeof(e->d_name) + 16], exe[PATH_MAX + 16];
		ssize_t m;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		snprintf(link, sizeof(link), "/proc/%s/exe", e->d_name);
		m = readlink(link, exe, sizeof(exe) - 1);
		if (m < 0) {
			/* EACCES: another user's; ENOENT: a kernel thread or gone meanwhile */
			if (errno == EACCES || errno == EPERM)
				f->procs_hidden++;
			continue;
		}
		exe[m] = 0;
		if (m > 10 && !strcmp(exe + m - 10, " (deleted)"))
			exe[m - 10] = 0;
		for (size_t i = 0; i < n; i++)
			if (!f->procs[i].running && !strcmp(exe, real[i]))
				f->procs[i].running = true;
	}
	closedir(d);
	return 0;
}
