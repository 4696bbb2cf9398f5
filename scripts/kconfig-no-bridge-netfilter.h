/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Forced into every kmod/ file after the kernel's own configuration by
 * `make kmod-nobrnf`: the module must build for a kernel configured without
 * br_netfilter, which Debian's kernels (CONFIG_BRIDGE_NETFILTER=m) do not show.
 */
#undef CONFIG_BRIDGE_NETFILTER
#undef CONFIG_BRIDGE_NETFILTER_MODULE
