# bench/bench.mk - build rules for the benchmarks (included by the top
# Makefile).  `make bench` builds them and runs bench/run; binaries go to
# $(O)/bench/bin.

BENCH_BIN	= $(O)/bench/bin
BENCH_PROGS	= $(BENCH_BIN)/connect_latency $(BENCH_BIN)/doorbell \
		  $(BENCH_BIN)/ring_bench
BENCH_LIB	= $(BENCH_BIN)/benchlib.o $(O)/send_scm.o

bench-progs: $(BENCH_PROGS) $(O)/tm_ivshmem_server

# What net_bench.sh builds on its own: the bridge and the endpoint once
# their sources exist.  Apart, so that a broken bridge only skips its
# part of the run.
bench-net-progs: $(O)/tm_ivshmem_server $(filter $(O)/mqbridge/%,$(PROGS))

# bench/run builds bench-progs itself, in the same O.
bench:
	O=$(O) bash bench/run

$(BENCH_BIN)/%.o: bench/%.c bench/benchlib.h send_scm.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BENCH_BIN)/connect_latency: $(BENCH_BIN)/connect_latency.o $(BENCH_LIB)
	$(CC) $(LDFLAGS) -o $@ $^

$(BENCH_BIN)/doorbell: $(BENCH_BIN)/doorbell.o $(BENCH_LIB)
	$(CC) $(LDFLAGS) -o $@ $^

$(BENCH_BIN)/ring_bench.o: mqbridge/ring.h

$(BENCH_BIN)/ring_bench: $(BENCH_BIN)/ring_bench.o $(BENCH_BIN)/benchlib.o \
		$(O)/send_scm.o $(RING_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^

CLEAN_EXTRA += bench/bin

.PHONY: bench bench-progs bench-net-progs
