# SPDX-License-Identifier: GPL-2.0
# Data-plane benchmark (bench/dataplane/run.sh): the receiver and the traffic
# generator the VM runs, built on the host into $(O)/bench/.
DP_BENCH := $(O)/bench

$(DP_BENCH)/dp-sink: bench/dataplane/sink.c $(CTL_LIB) ctl/libsipovl.h
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -o $@ $< $(CTL_LIB) $(shell pkg-config --libs libmnl)

$(DP_BENCH)/dp-load: bench/dataplane/load.c
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -o $@ $<

BENCH_BUILD += $(DP_BENCH)/dp-sink $(DP_BENCH)/dp-load

.PHONY: dataplane-bench
dataplane-bench: $(DP_BENCH)/dp-sink $(DP_BENCH)/dp-load $(O)/sipovlctl
