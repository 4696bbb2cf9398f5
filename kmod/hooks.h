/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _SIPOVL_HOOKS_H
#define _SIPOVL_HOOKS_H

struct sipovl_net;

int sipovl_hooks_register(struct sipovl_net *sn);
void sipovl_hooks_unregister(struct sipovl_net *sn);

#endif
