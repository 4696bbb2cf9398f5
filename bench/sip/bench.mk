# SPDX-License-Identifier: GPL-2.0
# SIP benchmark (bench/sip/run.sh): the RTP generator/echo the VM runs, built on the host
# into $(O)/bench/.
SIP_BENCH := $(O)/bench

$(SIP_BENCH)/sip-rtp: bench/sip/rtp.c
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -o $@ $< -lpthread

BENCH_BUILD += $(SIP_BENCH)/sip-rtp

.PHONY: sip-bench
sip-bench: $(SIP_BENCH)/sip-rtp $(O)/sipovld $(O)/sipovlctl
