# mqbridge/mqbridge.mk - the message-queue bridge's pieces, included by the
# top Makefile: the ring ABI objects, their unit test program and the
# libFuzzer target (`make fuzz`, clang only, never part of `all`).
#
# Objects go to $(O)/mqbridge/, so O=build/asan SAN=1 instruments them.

RING_HDRS = mqbridge/ring.h mqbridge/ring_check.h
RING_SRCS = mqbridge/ring.c mqbridge/ring_check.c
RING_OBJS = $(O)/mqbridge/ring.o $(O)/mqbridge/ring_check.o

TEST_PROGS += $(O)/tests/bin/ring_test

# A shorter stem than the top Makefile's $(O)/%.o, so this rule wins.
$(O)/mqbridge/%.o: mqbridge/%.c $(wildcard mqbridge/*.h)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/tests/bin/ring_test: tests/ring_test.c $(RING_OBJS) $(RING_HDRS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/ring_test.c $(RING_OBJS)

# libFuzzer needs clang; the binary is always ASan+UBSan instrumented.
FUZZ_CC	?= clang
FUZZ_CFLAGS = $(WARN) -O1 -g -I. -fsanitize=fuzzer,address,undefined \
	      -fno-sanitize-recover=undefined -fno-omit-frame-pointer

fuzz: $(O)/mqbridge/bin/fuzz_ring

$(O)/mqbridge/bin/fuzz_ring: mqbridge/fuzz_ring.c $(RING_SRCS) $(RING_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ mqbridge/fuzz_ring.c $(RING_SRCS)

.PHONY: fuzz
