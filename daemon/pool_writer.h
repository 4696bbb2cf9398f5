/* SPDX-License-Identifier: GPL-2.0 */
/* sipovld ip-pool: the lease file written by a worker thread, off the event loop (pool_writer.c). */
#ifndef SIPOVL_DAEMON_POOL_WRITER_H
#define SIPOVL_DAEMON_POOL_WRITER_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/ziti/zt_loop.h"

/* on the loop, once the write is done: 0, or -1 with @err naming the file and what failed */
typedef void (*pool_writer_cb)(int rc, const char *err, void *arg);

/*
 * Writes @buf (@len bytes, malloc'd: taken in any case) over @path as pool_store_write_buf does,
 * in the worker thread (started at the first call); @cb runs on @loop when it is done. Writes
 * queue: they are done, and their callbacks run, in the order submitted (a pool server's lease
 * file and an endpoint's state file in one sipovld never refuse each other). 0, or a negative
 * errno when the thread could not be started or memory ran out (@cb is not called then).
 */
int pool_writer_submit(struct zt_loop *loop, const char *path, char *buf, size_t len, pool_writer_cb cb, void *arg);
/* writes submitted whose callbacks have not run yet */
bool pool_writer_busy(void);
/* Finishes the writes submitted, if any (their callbacks are not called), and ends the thread. */
void pool_writer_stop(void);

#endif
