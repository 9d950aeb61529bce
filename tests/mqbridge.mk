# tests/mqbridge.mk - the bridge suite's own programs (tests/mqbridge.bats):
# mqpeer, a scriptable NIC endpoint, and ring_scribble, which writes
# garbage into one slot of a region file.  Both use the ring API, so they
# link the same objects as the bridge; under $(O) each flavour has its own.

$(O)/tests/bin/mqpeer: tests/mqpeer.c $(MQ_OBJS) $(RING_HDRS) mqbridge/ivpeer.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/mqpeer.c $(MQ_OBJS)

$(O)/tests/bin/ring_scribble: tests/ring_scribble.c $(RING_OBJS) $(RING_HDRS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/ring_scribble.c $(RING_OBJS)

TEST_PROGS += $(O)/tests/bin/mqpeer $(O)/tests/bin/ring_scribble
