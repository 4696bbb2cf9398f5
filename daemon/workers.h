/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sipovld worker processes (workers.c; Documentation/design.md "Workers"): the primary starts
 * workers 1..n-1, restarts them when they die, forwards SIGHUP and aggregates their reports.
 */
#ifndef SIPOVLD_WORKERS_H
#define SIPOVLD_WORKERS_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/sipovld.h"

#define WORKERS_MAX 64

/* the number of workers for D.cfg.workers (0: one per online CPU) */
unsigned workers_count(unsigned cfg);

/* primary */
void workers_set_argv(int argc, char **argv);
void workers_start(void);      /* after start-up: fork and exec workers 1..D.n_workers-1 */
void workers_on_sigchld(void); /* reap, log, schedule restarts */
void workers_reload(void);     /* SIGHUP to every live worker */
void workers_stop(void);       /* SIGTERM, wait (bounded), SIGKILL */
/* the sums over the workers' last reports (the primary's own not included) */
void workers_sum(struct counters *c, unsigned n_flows[4], uint64_t *mem_used, int64_t *dgram_late);
/* a service's dials, dials_failed, accepted, refused, active at the workers (added to v[]) */
void workers_svc_sum(const char *ident_path, const char *svc, uint64_t v[5]);
struct json_object *workers_json(void);          /* status "workers" (the primary first) */
void workers_flows(struct json_object *arr);     /* append the workers' flows (each with "worker") */

/*
 * worker: the command line's --worker W,CHAN,T4,U4,T6,U6; 0 or -1 (a bad argument).
 * fds[] receives the intercept sockets (-1: none).
 */
int worker_parse_arg(const char *arg, int fds[4]);
extern unsigned worker_reloads;  /* reloads done by this worker */
int worker_init(void);          /* the channel and the report timer (after the loop exists) */
void worker_fini(void);

#endif
