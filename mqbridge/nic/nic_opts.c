/*
 * nic_opts.c - parse and check mqnic's command line.
 *
 * Every bad value is refused here, before anything is opened or created,
 * with one line naming the option, the problem and the fix.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <net/if.h>

#include <ctype.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ivpeer.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/status.h"
#include "mqbridge/nic/nic_opts.h"
#include "mqbridge/slot/ring.h"

enum {
	OPT_MAC = 256,
	OPT_TAP,
	OPT_PCI,
	OPT_OFFSET,
	OPT_BUSY_POLL,
	OPT_NO_OFFLOAD,
	OPT_SYSLOG,
	OPT_STATUS
};

static const struct option long_opts[] = {
	{ "help",	no_argument,		NULL, 'h' },
	{ "verbose",	no_argument,		NULL, 'v' },
	{ "socket",	required_argument,	NULL, 'p' },
	{ "vectors",	required_argument,	NULL, 'n' },
	{ "wait",	required_argument,	NULL, 'w' },
	{ "mac",	required_argument,	NULL, OPT_MAC },
	{ "tap",	required_argument,	NULL, OPT_TAP },
	{ "pci",	required_argument,	NULL, OPT_PCI },
	{ "offset",	required_argument,	NULL, OPT_OFFSET },
	{ "busy-poll",	required_argument,	NULL, OPT_BUSY_POLL },
	{ "no-offload",	no_argument,		NULL, OPT_NO_OFFLOAD },
	{ "syslog",	no_argument,		NULL, OPT_SYSLOG },
	{ "status",	required_argument,	NULL, OPT_STATUS },
	{ NULL,		0,			NULL, 0 }
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: mqnic [-hv] (-p SOCKET | --pci DIR) --mac MAC [--tap NAME]\n"
"             [-n VECTORS] [--offset BYTES] [-w SECONDS] [--busy-poll US]\n"
"             [--no-offload] [--syslog] [--status FILE]\n"
"\n"
"Be one NIC on the shared-memory Ethernet of mqbridge: claim a slot of the\n"
"NIC area for MAC, create a TAP device and move its frames to and from the\n"
"slot's rings.\n"
"\n"
"Attachment (exactly one):\n"
"  -p SOCKET     join the tm_ivshmem_server at SOCKET as a peer (hosts,\n"
"                containers); doorbells through the server's eventfds\n"
"  --pci DIR     use the ivshmem PCI device at DIR inside a guest, e.g.\n"
"                /sys/bus/pci/devices/0000:00:03.0: writes 1 to DIR/enable,\n"
"                maps DIR/resource2 (the region) and DIR/resource0 (the\n"
"                registers: our ID is IVPosition, doorbells are written\n"
"                there); needs root; frames are found by polling\n"
"NIC:\n"
"  --mac MAC     this NIC's unicast address, aa:bb:cc:dd:ee:ff (required);\n"
"                refused if another live slot has it\n"
"  --tap NAME    TAP interface name; %%d picks a free number (default %s)\n"
"                Its MTU is the NIC area's; the link is up, and has carrier\n"
"                while the bridge serves the slot\n"
"Region:\n"
"  -n VECTORS    vectors per peer of the server, 1 to 64: must equal its -n\n"
"                (default 1; -p only)\n"
"  --offset BYTES  where the NIC area starts in the region, a multiple of\n"
"                4096 (K, M, G suffixes; default 0): mqbridge's --offset\n"
"  -w SECONDS    wait this long for mqbridge to format the area (also\n"
"                when the region's file was truncated under us), or for a\n"
"                crashed owner's slot of MAC to be reclaimed (0 to 86400,\n"
"                default %d); a crashed owner with our own peer ID was an\n"
"                earlier run of ours, and we take its slot back at once\n"
"Speed:\n"
"  --busy-poll US  after the last frame, keep polling the rings and the TAP\n"
"                for up to US microseconds before sleeping (the window\n"
"                adapts: longer while polling finds frames, shorter while\n"
"                it does not); 0 sleeps at once (default %d)\n"
"  --no-offload  do not announce large frames: the kernel segments TCP and\n"
"                UDP to the MTU and fills in checksums itself.  By default\n"
"                a bridge that takes them gets segments of up to 64 KiB\n"
"                with a virtio_net_hdr (TSO, USO, checksum offload)\n"
"Other:\n"
"  --status FILE rewrite FILE every second and on USR1 (atomically): the\n"
"                slot, TAP, MAC, peer IDs, link state and counters; a FILE\n"
"                ending in .prom gets Prometheus' text format\n"
"                (node_exporter's textfile collector); give it twice for\n"
"                both\n"
"  --syslog      log to syslog (facility daemon) instead of stderr\n"
"  -v            log more (each frame-path event)\n"
"  -h            show this help\n"
"\n"
"Logs \"mqnic ready: slot S tap NAME mac MAC\" once the TAP is up (and\n"
"tells systemd READY=1 and STATUS=; WATCHDOG=1 at half WATCHDOG_USEC).\n"
"Signals: TERM, INT or HUP release the slot and exit 0; USR1 logs the\n"
"counters (frames, bytes, drops by reason, doorbells) and rewrites the\n"
"status files.\n", NIC_TAP_DEFAULT,
	    NIC_WAIT_DEFAULT, NIC_BUSY_POLL_DEFAULT);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
nic_mac_parse(const char *s, uint8_t mac[6], const char **why)
{
	int i, hi, lo;

	*why = "not a MAC address";
	if (strlen(s) != 17)
		return -1;
	for (i = 0; i < 6; i++) {
		hi = hexval((unsigned char)s[3 * i]);
		lo = hexval((unsigned char)s[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -1;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	if (mac[0] & 1) {
		*why = "a multicast address (lowest bit of the first octet "
		    "set)";
		return -1;
	}
	for (i = 0; i < 6 && mac[i] == 0; i++)
		;
	if (i == 6) {
		*why = "the all-zero address";
		return -1;
	}
	return 0;
}

void
nic_mac_format(const uint8_t m[6], char buf[NIC_MACSTR])
{
	snprintf(buf, NIC_MACSTR, "%02x:%02x:%02x:%02x:%02x:%02x",
	    m[0], m[1], m[2], m[3], m[4], m[5]);
}

static void
parse_mac_opt(const char *arg, struct nic_opts *o)
{
	const char *why;

	if (nic_mac_parse(arg, o->mac, &why) == -1)
		parse_opt_fail("--mac", arg, why, "give a unicast address "
		    "such as 02:00:00:00:00:01");
	nic_mac_format(o->mac, o->macstr);
}

static void
check_tap(const char *arg)
{
	const char *p;

	if (*arg == '\0' || strlen(arg) >= IFNAMSIZ)
		parse_opt_fail("--tap", arg, "not 1 to 15 characters",
		    "give a shorter interface name");
	for (p = arg; *p != '\0'; p++)
		if (*p == '/' || *p == ':' || isspace((unsigned char)*p) ||
		    !isprint((unsigned char)*p))
			parse_opt_fail("--tap", arg, "has '/', ':', a space "
			    "or a control character", "give a plain name "
			    "such as mq0");
	if (strcmp(arg, ".") == 0 || strcmp(arg, "..") == 0)
		parse_opt_fail("--tap", arg, "not an interface name",
		    "give a plain name such as mq0");
}

static void
parse_offset(const char *arg, struct nic_opts *o)
{
	const char *why;

	if (parse_size(arg, PARSE_BARE_BYTES, &o->offset, &why) == -1)
		parse_opt_fail("--offset", arg, why, "give a byte offset "
		    "such as 0, 1M or 4096");
	if (o->offset % RING_PAGE != 0)
		parse_opt_fail("--offset", arg, "not a multiple of 4096",
		    "give mqbridge's --offset, which is page-aligned");
}

/* The combination: one attachment, a MAC, -n only where it means something. */
static void
check_combination(const struct nic_opts *o, int nvec_given)
{
	if (o->sock != NULL && o->pci != NULL)
		fatal("-p and --pci both given; use -p on a host, --pci in a "
		    "guest");
	if (o->sock == NULL && o->pci == NULL)
		fatal("no attachment; give -p SOCKET (a tm_ivshmem_server) or "
		    "--pci DIR (the ivshmem device in a guest)");
	if (o->macstr[0] == '\0')
		fatal("no --mac; give this NIC's address, e.g. --mac "
		    "02:00:00:00:00:01");
	if (o->pci != NULL && nvec_given)
		fatal("-n applies to -p only; drop it (with --pci the "
		    "device's vectors are not used)");
}

/* --status: one text file and one .prom file at most. */
static void
status_opt(struct nic_opts *o, const char *arg)
{
	const char **slot = status_fmt_of(arg) == STATUS_PROM ?
	    &o->status_prom : &o->status;

	if (*arg == '\0')
		fatal("--status needs a file name, e.g. --status "
		    "/run/mqnic/mq0.status");
	if (*slot != NULL)
		fatal("--status %s: a %s status file is given already (%s); "
		    "give one FILE and one FILE.prom at most", arg,
		    slot == &o->status ? "text" : "Prometheus", *slot);
	*slot = arg;
}

void
nic_opts_parse(int argc, char **argv, struct nic_opts *o)
{
	int c, nvec_given = 0;

	memset(o, 0, sizeof(*o));
	o->tap = NIC_TAP_DEFAULT;
	o->nvec = 1;
	o->wait_s = NIC_WAIT_DEFAULT;
	o->busy_poll_us = NIC_BUSY_POLL_DEFAULT;
	o->offload = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hvp:n:w:", long_opts,
	    NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			exit(0);
		case 'v':
			o->verbosity++;
			break;
		case 'p':
			if (*optarg == '\0')
				fatal("-p: empty socket path; give the "
				    "server's -p, e.g. -p /tmp/ivshmem_socket");
			o->sock = optarg;
			break;
		case 'n':
			o->nvec = (unsigned int)parse_opt_u64("-n", optarg, 1,
			    IVPEER_VECTORS_MAX);
			nvec_given = 1;
			break;
		case 'w':
			o->wait_s = (unsigned int)parse_opt_u64("-w", optarg, 0,
			    86400);
			break;
		case OPT_MAC:
			parse_mac_opt(optarg, o);
			break;
		case OPT_TAP:
			check_tap(optarg);
			o->tap = optarg;
			break;
		case OPT_PCI:
			if (*optarg == '\0')
				fatal("--pci: empty directory; give the "
				    "device's sysfs directory, e.g. "
				    "/sys/bus/pci/devices/0000:00:03.0");
			o->pci = optarg;
			break;
		case OPT_OFFSET:
			parse_offset(optarg, o);
			break;
		case OPT_BUSY_POLL:
			o->busy_poll_us = (int64_t)parse_opt_u64("--busy-poll",
			    optarg, 0, NIC_BUSY_POLL_MAX);
			break;
		case OPT_NO_OFFLOAD:
			o->offload = 0;
			break;
		case OPT_SYSLOG:
			o->syslog = 1;
			break;
		case OPT_STATUS:
			status_opt(o, optarg);
			break;
		case ':':
			fatal("%s needs a value; see mqnic -h",
			    argv[optind - 1]);
		default:
			if (optopt != 0)
				fatal("unknown option -%c; see mqnic -h",
				    optopt);
			fatal("unknown option %s; see mqnic -h",
			    argv[optind - 1]);
		}
	}
	if (optind < argc)
		fatal("unexpected argument %s; every value belongs to an "
		    "option, see mqnic -h", argv[optind]);
	check_combination(o, nvec_given);
}
