/*
 * client_cmd.c - the client tool's command line: options, the command and
 * its arguments, each refused in one line that says how to fix it.
 *
 * Copyright (C) the tm-ivshmem-server authors.  GPLv2, see COPYING.
 */
#include <sys/un.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client_cmd.h"
#include "lib/log.h"
#include "lib/parse.h"

#define DEFAULT_SOCKET	"/tmp/ivshmem_socket"
#define DEFAULT_WAIT	10
#define MAX_WAIT	(UINT64_C(10) * 366 * 86400)
#define EVENTFD_MAX	UINT64_C(0xfffffffffffffffe)
#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

static const char usage_text[] =
"usage: tm_ivshmem_client [-hl] [-p SOCKET] [-n VECTORS] [-w SECONDS]\n"
"           COMMAND [ARGS]\n"
"\n"
"Connect to an ivshmem server the way a QEMU ivshmem-doorbell device does.\n"
"Output lines are \"key value...\"; errors go to stderr.\n"
"\n"
"Options (before the command):\n"
"  -p SOCKET   server socket (default " DEFAULT_SOCKET ")\n"
"  -n VECTORS  vectors the server gives each peer, 1 to 64 (default 1);\n"
"              must match the server's -n\n"
"  -w SECONDS  give up after this long, exit 3 (default 10; 0 = never);\n"
"              monitor stops counting once it prints ready\n"
"  -l          legacy protocol (server started with -l, QEMU before 2.5)\n"
"  -h          show this help\n"
"\n"
"Commands:\n"
"  info             print version 0 (not with -l), id N, size BYTES and one\n"
"                   \"peer P vectors V\" line per other peer\n"
"  monitor          info, then ready, then until the server hangs up or\n"
"                   SIGTERM/SIGINT: connect P vector V, disconnect P,\n"
"                   rung V COUNT (one of our own vectors was rung)\n"
"  raw [COUNT]      print each message as \"msg HEX fd|nofd\" (wire bytes),\n"
"                   without interpreting it; stop after COUNT or at EOF\n"
"  ring P V [COUNT] add COUNT (default 1) to vector V of peer P, print\n"
"                   rang P V; exit 2 if P has no vector V within -w\n"
"  wait [V|any] [COUNT]\n"
"                   print ready, then rung V COUNT per wakeup until our\n"
"                   vector V (default any) was rung COUNT (default 1) times\n"
"  read OFF LEN     copy LEN bytes of the region at OFF to stdout\n"
"  write OFF        copy stdin into the region at OFF; nothing is written\n"
"                   if it would pass the region end\n"
"OFF and LEN take K, M, G or T suffixes; a bare number means bytes.\n"
"\n"
"Exit status: 0 ok, 1 bad usage or input, 2 protocol or server error,\n"
"3 timeout.\n";

static uint64_t
num(const char *s, uint64_t min, uint64_t max, const char *what)
{
	const char *why;
	uint64_t v;

	if (parse_u64(s, min, max, &v, &why) == -1)
		fatal("bad %s '%s': %s; give %" PRIu64 " to %" PRIu64, what, s,
		    why, min, max);
	return v;
}

static uint64_t
bytes(const char *s, const char *what)
{
	const char *why;
	uint64_t v;

	if (parse_size(s, PARSE_BARE_BYTES, &v, &why) == -1)
		fatal("bad %s '%s': %s; give bytes, or K, M, G, T", what, s,
		    why);
	return v;
}

static void
parse_cmd(int argc, char **argv, unsigned int nvec, struct cmd *cmd)
{
	static const struct {
		const char	*name;
		enum cmd_kind	 kind;
		int		 min, max;
	} cmds[] = {
		{ "info", CMD_INFO, 0, 0 }, { "monitor", CMD_MONITOR, 0, 0 },
		{ "raw", CMD_RAW, 0, 1 }, { "ring", CMD_RING, 2, 3 },
		{ "wait", CMD_WAIT, 0, 2 }, { "read", CMD_READ, 2, 2 },
		{ "write", CMD_WRITE, 1, 1 }
	};
	size_t i;

	if (argc < 1)
		fatal("no command given; try info, or run tm_ivshmem_client -h");
	for (i = 0; i < NITEMS(cmds); i++)
		if (strcmp(argv[0], cmds[i].name) == 0)
			break;
	if (i == NITEMS(cmds))
		fatal("unknown command '%s'; run tm_ivshmem_client -h", argv[0]);
	if (argc - 1 < cmds[i].min || argc - 1 > cmds[i].max)
		fatal("%s takes %d to %d arguments; run tm_ivshmem_client -h",
		    argv[0], cmds[i].min, cmds[i].max);
	memset(cmd, 0, sizeof(*cmd));
	cmd->kind = cmds[i].kind;
	cmd->count = 1;
	switch (cmd->kind) {
	case CMD_RAW:
		cmd->count = argc > 1 ? num(argv[1], 1, UINT64_MAX, "count") : 0;
		break;
	case CMD_RING:
		cmd->peer = num(argv[1], 0, CLIENT_MAX_ID, "peer ID");
		cmd->vec = num(argv[2], 0, nvec - 1, "vector (see -n)");
		if (argc > 3)
			cmd->count = num(argv[3], 1, EVENTFD_MAX, "count");
		break;
	case CMD_WAIT:
		cmd->any_vec = argc < 2 || strcmp(argv[1], "any") == 0;
		if (!cmd->any_vec)
			cmd->vec = num(argv[1], 0, nvec - 1, "vector (see -n)");
		if (argc > 2)
			cmd->count = num(argv[2], 1, UINT64_MAX, "count");
		break;
	case CMD_READ:
		cmd->len = bytes(argv[2], "length");
		/* FALLTHROUGH */
	case CMD_WRITE:
		cmd->off = bytes(argv[1], "offset");
		break;
	default:
		break;
	}
}

void
client_parse(int argc, char **argv, struct client_opts *c, struct cmd *cmd)
{
	struct sockaddr_un sun;
	int ch;

	c->proto = SCM_PROTO_V0;
	c->path = DEFAULT_SOCKET;
	c->nvec = 1;
	c->wait_s = DEFAULT_WAIT;

	while ((ch = getopt(argc, argv, "+hln:p:w:")) != -1) {
		switch (ch) {
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case 'l':
			c->proto = SCM_PROTO_LEGACY;
			break;
		case 'n':
			c->nvec = (unsigned int)num(optarg, 1, CLIENT_MAX_VECTORS,
			    "-n");
			break;
		case 'p':
			c->path = optarg;
			break;
		case 'w':
			c->wait_s = num(optarg, 0, MAX_WAIT, "-w");
			break;
		default:
			fatal("bad option; run tm_ivshmem_client -h");
		}
	}
	if (c->path[0] == '\0' || strlen(c->path) >= sizeof(sun.sun_path))
		fatal("socket path '%s' must be 1 to %zu bytes; use a shorter "
		    "-p", c->path, sizeof(sun.sun_path) - 1);
	parse_cmd(argc - optind, argv + optind, c->nvec, cmd);
}
