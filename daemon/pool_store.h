/* SPDX-License-Identifier: GPL-2.0 */
/* sipovld ip-pool: the lease file on disk (pool_store.c). */
#ifndef SIPOVL_DAEMON_POOL_STORE_H
#define SIPOVL_DAEMON_POOL_STORE_H

#include <stddef.h>

struct pool;

/* Loads @path into @p: 0; 1 when the file does not exist (@p unchanged: a new pool); -1 with
 * @err naming the file and what was wrong (@p unchanged). */
int pool_store_read(const char *path, struct pool *p, char *err, size_t errlen);
/*
 * A whole file of at most @max bytes into *@out (malloc'd, NUL-terminated, *@len bytes), not
 * following a symbolic link: 0, 1 when there is no such file, -1 with @err (without the path).
 */
int pool_store_slurp(const char *path, size_t max, char **out, size_t *len, char *err, size_t errlen);
/* Replaces @path atomically with @p's leases (mode 0600): 0, or -1 with @err (the old file
 * stays). */
int pool_store_write(const char *path, const struct pool *p, char *err, size_t errlen);
/* The same with the file's text given (@len bytes; pool_store_dump): thread-safe, no pool used. */
int pool_store_write_buf(const char *path, const char *buf, size_t len, char *err, size_t errlen);
/* @p's lease file text, malloc'd (NULL: out of memory), *@len its length. */
char *pool_store_dump(const struct pool *p, size_t *len);
/*
 * The pool server's answer to one request (pool_serve): a change is written to @path before the
 * reply is made, so an "ok" lease is on disk; when it cannot be written the change is undone
 * and the reply is "err store" (@err says why, for the log). Returns the reply's length.
 */
size_t pool_store_serve(struct pool *p, const char *path, const char *caller, const char *req, size_t len,
			char *reply, size_t cap, char *err, size_t errlen);

/*
 * pool_reconcile, persisted: the releases are written to @path before they are kept; when the
 * file cannot be written they are undone (POOL_E_STORE, @err says why). POOL_E_INVAL (@err
 * too) as pool_reconcile. *@released: how many leases went.
 */
int pool_store_reconcile(struct pool *p, const char *path, const char *const *live, size_t n_live, size_t *released,
			 char *err, size_t errlen);

#endif
