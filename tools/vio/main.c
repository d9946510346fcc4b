/* SPDX-License-Identifier: BSD-3-Clause */
/* vio: a client that drives VIRTIO devices served by vhost-user back-ends. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "vio.h"
#include "vio/log.h"

struct command {
	const char *group, *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "blk", "info", cmd_blk_info, "features, configuration and serial of a block device" },
	{ "blk", "read", cmd_blk_read, "read a range to a file or stdout" },
	{ "blk", "write", cmd_blk_write, "write a file or stdin to a range" },
	{ "blk", "verify", cmd_blk_verify, "write, read back and check a pattern from every queue" },
	{ "blk", "bench", cmd_blk_bench, "fio-style load: IOPS, bandwidth, latency, CPU" },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vio blk COMMAND SOCKET [options]\n"
		"Drives a virtio device through its vhost-user back-end's socket\n"
		"(vio-blk, qemu-storage-daemon --export type=vhost-user-blk, ...).\n\n"
		"Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s %-8s %s\n", commands[i].group, commands[i].name,
			commands[i].summary);
	fprintf(f, "\n`vio blk COMMAND --help` lists a command's options; see vio(1).\n"
		   "  --help, --version\n");
}

int main(int argc, char **argv)
{
	/* An output pipe that closes is an error to report, not a signal to die of. */
	signal(SIGPIPE, SIG_IGN);
	vio_log_set_level(VIO_LOG_WARN);
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("vio %s\n", VIO_VERSION);
		return 0;
	}
	if (argc < 3) {
		errmsg("'%s' needs a command (try vio --help)", argv[1]);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(argv[1], commands[i].group) && !strcmp(argv[2], commands[i].name))
			/* The command parses "vio blk NAME ..." as its argv[0..]. */
			return commands[i].run(argc - 2, argv + 2);
	}
	errmsg("unknown command '%s %s' (try vio --help)", argv[1], argv[2]);
	return EXIT_USAGE;
}
