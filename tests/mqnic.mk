# tests/mqnic.mk - the test driver of tests/mqnic.bats: nic_ring plays the
# bridge's side of a slot through the ring API.  Included by the top
# Makefile after mqbridge/mqbridge.mk; built under $(O) for each flavour.

NIC_RING_OBJS = $(RING_OBJS) $(O)/mqbridge/ivpeer.o $(COMMON_OBJS)

$(O)/tests/bin/nic_ring: tests/nic_ring.c $(NIC_RING_OBJS) $(RING_HDRS) \
		mqbridge/ivpeer.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/nic_ring.c $(NIC_RING_OBJS)

TEST_PROGS += $(O)/tests/bin/nic_ring
