/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _SIPOVL_VERSION_H
#define _SIPOVL_VERSION_H
#define SIPOVL_VERSION "0.1.0"
#endif
