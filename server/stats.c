/*
 * stats.c - what the server tells about itself while it runs: the
 * status files of -i (peers and counters, as text or in Prometheus' text
 * exposition format) and the STATUS= line for a service manager.
 *
 * The text file is one record per line, a tag then "key value" pairs:
 *
 *   pid 1234
 *   uptime 12
 *   socket /run/ivshmem/sock activated 1
 *   region /var/lib/ivshmem/region size 67108864 vectors 1 protocol 0
 *   peers 2 max 65536 kept 0 pending 0
 *   connections accepted 3 joined 3 left 1
 *   refused allow_list 0
 *   dropped stalled 0
 *   peer 0 pid 812 uid 0 gid 0 kind tool greeting done connected_seconds 9
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/svc.h"
#include "server/server.h"

static const char *refusal_names[REFUSALS] = {
	[REFUSE_ALLOW_LIST] = "allow_list",
	[REFUSE_PER_USER] = "per_user",
	[REFUSE_FULL] = "full",
	[REFUSE_REGION] = "region_size",
	[REFUSE_DESCRIPTORS] = "descriptors",
	[REFUSE_OTHER] = "other",
};

static const char *drop_names[DROPS] = {
	[DROP_STALLED] = "stalled",
	[DROP_LAGGING] = "lagging",
	[DROP_TALKED] = "sent_data",
};

/* Any peer that is not one of our own tools is treated as QEMU. */
static const char *
kind(const struct peer *p)
{
	return p->witness ? "qemu" : "tool";
}

static int
fill_text(FILE *f)
{
	int64_t now = clock_ms();
	const struct peer *p;
	int i;

	fprintf(f, "pid %ld\nuptime %" PRId64 "\n", (long)getpid(),
	    (now - srv.start_ms) / 1000);
	fprintf(f, "socket %s activated %d\n", srv.sock_path, srv.activated);
	fprintf(f, "region %s size %" PRIu64 " vectors %u protocol %s\n",
	    srv.region.name, srv.region.size, srv.opt.vectors,
	    srv.opt.proto == SCM_PROTO_V0 ? "0" : "pre-2.5");
	fprintf(f, "peers %zu max %zu kept %zu pending %zu\n",
	    srv.table.nlive, srv.opt.max_peers, srv.table.nkept,
	    srv.npending);
	fprintf(f, "connections accepted %" PRIu64 " joined %" PRIu64
	    " left %" PRIu64 "\n", srv.n.accepted, srv.n.joined, srv.n.left);
	for (i = 0; i < REFUSALS; i++)
		fprintf(f, "refused %s %" PRIu64 "\n", refusal_names[i],
		    srv.n.refused[i]);
	for (i = 0; i < DROPS; i++)
		fprintf(f, "dropped %s %" PRIu64 "\n", drop_names[i],
		    srv.n.dropped[i]);
	for (i = 0; i < srv.table.high; i++) {
		if ((p = srv.table.by_id[i]) == NULL)
			continue;
		fprintf(f, "peer %d pid %d uid %u gid %u kind %s greeting %s "
		    "connected_seconds %" PRId64 "\n", i, (int)p->pid,
		    (unsigned)p->uid, (unsigned)p->gid, kind(p),
		    p->cur.ph < PH_LOG ? "sending" : "done",
		    (now - p->joined_ms) / 1000);
	}
	return 0;
}

#define PREFIX	"tm_ivshmem_server_"

static void
family(FILE *f, const char *name, const char *type, const char *help)
{
	char full[128];

	snprintf(full, sizeof(full), PREFIX "%s", name);
	prom_family(f, full, type, help);
}

/* A family of one sample, labelled with the socket. */
static void
one(FILE *f, const char *sock, const char *name, const char *type,
    const char *help, uint64_t v)
{
	family(f, name, type, help);
	fprintf(f, PREFIX "%s{socket=\"%s\"} %" PRIu64 "\n", name, sock, v);
}

static void
prom_counts(FILE *f, const char *sock)
{
	int i;

	one(f, sock, "connections_total", "counter",
	    "Connections accepted on the socket.", srv.n.accepted);
	family(f, "refused_connections_total", "counter",
	    "Connections refused, by reason.");
	for (i = 0; i < REFUSALS; i++)
		fprintf(f, PREFIX "refused_connections_total{socket=\"%s\","
		    "reason=\"%s\"} %" PRIu64 "\n", sock, refusal_names[i],
		    srv.n.refused[i]);
	one(f, sock, "peers_joined_total", "counter",
	    "Connections that became peers.", srv.n.joined);
	one(f, sock, "peers_left_total", "counter",
	    "Peers gone, by themselves or dropped.", srv.n.left);
	family(f, "peers_dropped_total", "counter",
	    "Peers the server dropped, by reason.");
	for (i = 0; i < DROPS; i++)
		fprintf(f, PREFIX "peers_dropped_total{socket=\"%s\","
		    "reason=\"%s\"} %" PRIu64 "\n", sock, drop_names[i],
		    srv.n.dropped[i]);
}

static void
prom_peers(FILE *f, const char *sock)
{
	const struct peer *p;
	size_t n[2] = { 0, 0 };
	int i;

	for (i = 0; i < srv.table.high; i++)
		if ((p = srv.table.by_id[i]) != NULL)
			n[p->witness]++;
	family(f, "peers", "gauge", "Peers connected now, by kind (qemu: "
	    "any peer that is not one of our tools).");
	fprintf(f, PREFIX "peers{socket=\"%s\",kind=\"tool\"} %zu\n", sock,
	    n[0]);
	fprintf(f, PREFIX "peers{socket=\"%s\",kind=\"qemu\"} %zu\n", sock,
	    n[1]);
	family(f, "peer_info", "gauge", "One sample per connected peer: its "
	    "ID, uid and kind.");
	for (i = 0; i < srv.table.high; i++) {
		if ((p = srv.table.by_id[i]) == NULL)
			continue;
		fprintf(f, PREFIX "peer_info{socket=\"%s\",peer=\"%d\","
		    "uid=\"%u\",kind=\"%s\"} 1\n", sock, i, (unsigned)p->uid,
		    kind(p));
	}
}

static int
fill_prom(FILE *f)
{
	char sock[2 * PATH_MAX];

	prom_escape(srv.sock_path, sock, sizeof(sock));
	one(f, sock, "start_time_seconds", "gauge",
	    "When the server started, in seconds since the epoch.",
	    (uint64_t)srv.start_s);
	one(f, sock, "region_size_bytes", "gauge",
	    "Size of the shared memory region.", srv.region.size);
	one(f, sock, "vectors", "gauge", "MSI vectors per peer (-n).",
	    srv.opt.vectors);
	one(f, sock, "peers_limit", "gauge", "Peers admitted at most (-c).",
	    srv.opt.max_peers);
	one(f, sock, "pending_connections", "gauge",
	    "Connections waiting for their identity.", srv.npending);
	one(f, sock, "kept_ids", "gauge", "IDs whose departed peer's "
	    "eventfds are kept for live QEMU peers.", srv.table.nkept);
	prom_peers(f, sock);
	prom_counts(f, sock);
	return 0;
}

static int
fill(FILE *f, enum status_fmt fmt, void *arg)
{
	(void)arg;
	return fmt == STATUS_PROM ? fill_prom(f) : fill_text(f);
}

void
stats_write(void)
{
	int i;

	for (i = 0; i < 2; i++)
		status_write(&srv.status[i], fill, NULL);
}

/* The manager's one-line status, sent when the number of peers moves. */
void
stats_notify(void)
{
	if (srv.told_peers == srv.table.nlive + 1)
		return;
	srv.told_peers = srv.table.nlive + 1;
	(void)svc_notify("STATUS=%zu peer%s on %s", srv.table.nlive,
	    srv.table.nlive == 1 ? "" : "s", srv.sock_path);
}
