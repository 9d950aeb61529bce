# mqbridge/mqbridge.mk - the message-queue bridge's pieces, included by the
# top Makefile: the ring ABI objects, their unit test program and the
# libFuzzer target (`make fuzz`, clang only, never part of `all`).
#
# Objects go to $(O)/mqbridge/, so O=build/asan SAN=1 instruments them.

RING_HDRS = mqbridge/ring.h mqbridge/ring_check.h
RING_SRCS = mqbridge/ring.c mqbridge/ring_check.c
RING_OBJS = $(O)/mqbridge/ring.o $(O)/mqbridge/ring_check.o

# What the bridge and the endpoint share: the ring ABI, joining a server
# as a peer, and the top level's wire layer, logging and value parsing.
MQ_OBJS	= $(RING_OBJS) $(O)/mqbridge/ivpeer.o $(COMMON_OBJS)

# The bridge is mqbridge.c plus bridge_*.c; the endpoint mqnic.c plus
# nic_*.c.  Each is built once its main file exists.
BRIDGE_OBJS = $(patsubst %.c,$(O)/%.o,mqbridge/mqbridge.c \
	      $(wildcard mqbridge/bridge_*.c)) $(MQ_OBJS)
MQNIC_OBJS = $(patsubst %.c,$(O)/%.o,mqbridge/mqnic.c \
	     $(wildcard mqbridge/nic_*.c)) $(MQ_OBJS)

ifneq ($(wildcard mqbridge/mqbridge.c),)
PROGS	+= $(O)/mqbridge/mqbridge
endif
ifneq ($(wildcard mqbridge/mqnic.c),)
PROGS	+= $(O)/mqbridge/mqnic
endif

$(O)/mqbridge/mqbridge: $(BRIDGE_OBJS)
	$(CC) $(LDFLAGS) -o $@ $(BRIDGE_OBJS)

$(O)/mqbridge/mqnic: $(MQNIC_OBJS)
	$(CC) $(LDFLAGS) -o $@ $(MQNIC_OBJS)

TEST_PROGS += $(O)/tests/bin/ring_test

# A shorter stem than the top Makefile's $(O)/%.o, so this rule wins.
$(O)/mqbridge/%.o: mqbridge/%.c $(wildcard mqbridge/*.h) $(wildcard *.h)
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
