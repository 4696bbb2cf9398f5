/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What parse.c shares with parse_config.c, and nothing else: the intercept
 * argument parser with its arena (arrays of a configuration's intercepts) and
 * the FILE:LINE error prefix.
 */
#ifndef SIPOVL_CTL_PARSE_INT_H
#define SIPOVL_CTL_PARSE_INT_H

#include "ctl/parse.h"

struct ctl_arena;

/* parse.c: "proto ... addr ... port ..." into @in, arrays from the arena @a (NULL: calloc) */
int intercept_args(int argc, char **argv, bool full, struct sipovl_intercept *in,
		   struct ctl_arena **a, struct ctl_err *err);
void arena_free(struct ctl_arena *a);

/* parse_config.c: the tokenizer's white space (format.c quotes names that hold any) */
bool is_space(char c);

#endif
