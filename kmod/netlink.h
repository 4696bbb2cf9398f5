/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _SIPOVL_NETLINK_H
#define _SIPOVL_NETLINK_H

int sipovl_genl_init(void);
void sipovl_genl_exit(void);

#endif
