/* SPDX-License-Identifier: GPL-2.0 */
/* sipovld metrics endpoint: metrics.c (the text), metrics_http.c (serving it). */
#ifndef SIPOVLD_METRICS_H
#define SIPOVLD_METRICS_H

#include <stddef.h>

/* The Prometheus text format (0.0.4) of everything sipovld counts, in *@out (free()). 0 or -1. */
int metrics_text(char **out, size_t *len);

/* this process's RTP figures, for its report to the primary (workers.c) */
struct json_object;
struct json_object *metrics_rtp_report(void);

/*
 * Listen on D.cfg.metrics_addr when metrics_listen is set (again if it changed), stop when
 * it is not: at start-up and after each reload. 0, or -1 (logged) when it cannot listen.
 */
int metrics_apply(void);
void metrics_close(void);

/*
 * Parse the start of an HTTP/1.x request in @buf (@n bytes): 1 when the header is not
 * complete yet, 0 with the method and the path (query removed) copied out, -1 if malformed.
 */
int metrics_http_parse(const char *buf, size_t n, char *method, size_t mlen, char *path, size_t plen);

#endif
