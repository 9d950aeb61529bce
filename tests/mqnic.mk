# tests/mqnic.mk - the test driver of tests/mqnic.bats: nic_ring plays the
# bridge's side of a slot through the ring API.  Included by the top
# Makefile after mqbridge/mqbridge.mk; built under $(O) for each flavour.

NIC_RING_OBJS = $(RING_OBJS) $(O)/mqbridge/ivpeer.o $(COMMON_OBJS)

$(O)/tests/bin/nic_ring: tests/nic_ring.c $(NIC_RING_OBJS) $(RING_HDRS) \
		mqbridge/ivpeer.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/nic_ring.c $(NIC_RING_OBJS)

TEST_PROGS += $(O)/tests/bin/nic_ring

# A static mqnic for the busybox guest of the real-guest test.  Never
# sanitized (a static binary cannot carry ASan, and a guest could not
# report it): built from the sources with plain flags in every flavour.
MQNIC_STATIC_SRCS = mqbridge/mqnic.c $(wildcard mqbridge/nic_*.c) \
	$(RING_SRCS) mqbridge/ivpeer.c $(COMMON_SRCS)

$(O)/tests/bin/mqnic-static: $(MQNIC_STATIC_SRCS) $(wildcard mqbridge/*.h) \
		$(wildcard *.h)
	@mkdir -p $(@D)
	$(CC) $(WARN) -O2 -g -I. -static -o $@ $(MQNIC_STATIC_SRCS)

TEST_PROGS += $(O)/tests/bin/mqnic-static
