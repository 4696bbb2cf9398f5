// SPDX-License-Identifier: GPL-2.0
/*
 * sipovld ip-pool: the lease file on disk (the pool server's side of pool.h). Reads it whole,
 * parses it with pool_load (I/O free); writes it to a temporary file beside it, fsyncs it,
 * renames it over the old one and fsyncs the directory, so after a crash the file is the old
 * one or the new one, never a mix, and a lease acknowledged after pool_store_write is on disk.
 * Blocking file I/O: read at start; sipovld writes from a worker thread (pool_writer.c), after
 * each change of a pool of at most POOL_MAX_LEASES leases (under 400 KiB).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/errf.h"
#include "daemon/pool.h"
#include "daemon/pool_store.h"

#define STORE_MAX (512u << 10)

int pool_store_slurp(const char *path, size_t max, char **out, size_t *len, char *err, size_t errlen)
{
	char *buf = NULL;
	struct stat st;
	size_t n = 0;
	int fd;

	*out = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		return errf(err, errlen, "%s", strerror(errno));
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (unsigned long long)st.st_size > max) {
		errf(err, errlen, "not a regular file of at most %zu bytes", max);
		goto fail;
	}
	if (!(buf = malloc((size_t)st.st_size + 1))) {
		errf(err, errlen, "out of memory");
		goto fail;
	}
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			errf(err, errlen, "%s", r ? strerror(errno) : "shorter than its size");
			goto fail;
		}
		n += (size_t)r;
	}
	buf[n] = 0;
	close(fd);
	*out = buf;
	*len = n;
	return 0;
fail:
	free(buf);
	close(fd);
	return -1;
}

int pool_store_read(const char *path, struct pool *p, char *err, size_t errlen)
{
	char *buf, lerr[300];
	size_t n;
	int rc = pool_store_slurp(path, STORE_MAX, &buf, &n, lerr, sizeof(lerr));

	if (rc)
		return rc > 0 ? 1 : errf(err, errlen, "%s: %s", path, lerr);
	rc = 0;
	if (pool_load(p, buf, n, lerr, sizeof(lerr)))
		rc = errf(err, errlen, "%s: %s", path, lerr);
	free(buf);
	return rc;
}

char *pool_store_dump(const struct pool *p, size_t *len)
{
	size_t n = pool_dump(p, NULL, 0);
	char *buf = malloc(n + 1);

	if (buf)
		pool_dump(p, buf, n + 1);
	*len = n;
	return buf;
}

int pool_store_write(const char *path, const struct pool *p, char *err, size_t errlen)
{
	size_t len;
	char *buf = pool_store_dump(p, &len);
	int rc;

	if (!buf)
		return errf(err, errlen, "out of memory");
	rc = pool_store_write_buf(path, buf, len, err, errlen);
	free(buf);
	return rc;
}

int pool_store_write_buf(const char *path, const char *buf, size_t len, char *err, size_t errlen)
{
	char *tmp = NULL, *dcopy = NULL;
	size_t off = 0;
	int fd = -1, dfd, rc = -1;

	if (asprintf(&tmp, "%s.tmp", path) < 0)
		tmp = NULL;
	if (!tmp || !(dcopy = strdup(path))) {
		errf(err, errlen, "out of memory");
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		errf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	while (off < len) {
		ssize_t w = write(fd, buf + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			errf(err, errlen, "%s: %s", tmp, strerror(errno));
			goto out_unlink;
		}
		off += (size_t)w;
	}
	if (fsync(fd)) {
		errf(err, errlen, "%s: fsync: %s", tmp, strerror(errno));
		goto out_unlink;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, path)) {
		errf(err, errlen, "%s: rename: %s", path, strerror(errno));
		goto out_unlink;
	}
	dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	rc = 0;
	goto out;
out_unlink:
	unlink(tmp);
out:
	if (fd >= 0)
		close(fd);
	free(tmp);
	free(dcopy);
	return rc;
}

size_t pool_store_serve(struct pool *p, const char *path, const char *caller, const char *req, size_t len,
			char *reply, size_t cap, char *err, size_t errlen)
{
	struct pool_lease *save = malloc((p->n ? p->n : 1) * sizeof(*save));
	size_t save_n = p->n, n;
	uint64_t gen = p->gen;

	if (err && errlen)
		err[0] = 0;
	if (!save)
		return pool_reply_err(reply, cap, POOL_E_NOMEM);
	if (p->n)
		memcpy(save, p->leases, p->n * sizeof(*save));
	n = pool_serve(p, caller, req, len, reply, cap);
	if (p->gen != gen && pool_store_write(path, p, err, errlen)) {
		free(p->leases);
		p->leases = save;
		p->n = save_n;
		p->gen = gen;
		return pool_reply_err(reply, cap, POOL_E_STORE);
	}
	free(save);
	return n;
}

int pool_store_reconcile(struct pool *p, const char *path, const char *const *live, size_t n_live, size_t *released,
			 char *err, size_t errlen)
{
	struct pool_lease *save = malloc((p->n ? p->n : 1) * sizeof(*save));
	size_t save_n = p->n;
	uint64_t gen = p->gen;
	enum pool_err e;

	*released = 0;
	if (err && errlen)
		err[0] = 0;
	if (!save)
		return POOL_E_NOMEM;
	if (p->n)
		memcpy(save, p->leases, p->n * sizeof(*save));
	e = pool_reconcile(p, live, n_live, released);
	if (e) {
		errf(err, errlen, "pool %s: reconcile: %s; nothing released", p->name,
		     n_live ? "a malformed identity id in the list" : "the identity list is empty");
		free(save);
		return e;
	}
	if (p->gen != gen && pool_store_write(path, p, err, errlen)) {
		free(p->leases);
		p->leases = save;
		p->n = save_n;
		p->gen = gen;
		*released = 0;
		return POOL_E_STORE;
	}
	free(save);
	return POOL_OK;
}
