/* SPDX-License-Identifier: BSD-3-Clause */
/* vio blk info: what a block device offers, its configuration and its serial. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vio.h"
#include "vio/vhost_user.h"

enum { OPT_JSON = OPT_CMD };

static const struct option long_options[] = {
	BLK_COMMON_LONG_OPTIONS,
	{ "json", no_argument, NULL, OPT_JSON },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: vio blk info SOCKET [--json] [options]\n"
		   "Prints the device's features by name, its configuration and its serial.\n\n"
		   "  --json                  one JSON object instead of text\n%s",
		blk_common_help);
}

struct info {
	const struct vio_blk_drv_info *in;
	uint64_t backend_features, protocol_offered, protocol;
	uint16_t queue_num;
	char serial[VIRTIO_BLK_ID_BYTES + 1];
	int serial_err;
};

static int get_serial(struct blk_dev *d, struct info *x)
{
	struct vio_blk_drv_queue *q = vio_blk_drv_queue(d->drv, 0);
	struct vio_blk_req req = { 0 };
	int r = vio_blk_drv_get_id(q, &req, x->serial);

	if (!r)
		r = blk_wait(d, q, &req, "GET_ID");
	x->serial_err = r;
	/* UNSUPP / IOERR: no serial; anything else: the device is broken. */
	return r == -ENOTSUP || r == -EIO ? 0 : r;
}

/* ---- text ---- */

static void print_names(const char *label, uint64_t bits, const char *(*name)(unsigned))
{
	printf("%-22s", label);
	if (!bits)
		printf(" (none)");
	for (unsigned b = 0; b < 64; b++) {
		if (!(bits >> b & 1))
			continue;
		if (name(b))
			printf(" %s", name(b));
		else
			printf(" bit%u", b);
	}
	printf("\n");
}

static void print_text(const struct info *x)
{
	const struct vio_blk_drv_info *in = x->in;
	uint64_t f = in->features;

	print_names("device features:", in->device_features, blk_feature_name);
	print_names("negotiated:", f, blk_feature_name);
	print_names("vhost-user protocol:", x->protocol_offered, vu_protocol_feature_name);
	printf("%-22s %" PRIu64 " sectors (%" PRIu64 " bytes)\n", "capacity:", in->capacity,
	       in->capacity * VIRTIO_BLK_SECTOR_SIZE);
	printf("%-22s %u bytes\n", "block size:", in->blk_size);
	printf("%-22s %u (back-end: %u)\n", "queues:", in->device_queues, x->queue_num);
	printf("%-22s %s\n", "ring:", blk_ring_name(f));
	printf("%-22s %s\n", "read-only:", vio_has_feature(f, VIRTIO_BLK_F_RO) ? "yes" : "no");
	printf("%-22s %s\n", "write cache:", vio_has_feature(f, VIRTIO_BLK_F_FLUSH)
					     ? "writeback (flush)" : "writethrough");
	if (vio_has_feature(f, VIRTIO_BLK_F_SIZE_MAX))
		printf("%-22s %u bytes\n", "size_max:", in->size_max);
	if (vio_has_feature(f, VIRTIO_BLK_F_SEG_MAX))
		printf("%-22s %u\n", "seg_max:", in->seg_max);
	if (vio_has_feature(f, VIRTIO_BLK_F_GEOMETRY))
		printf("%-22s %u cylinders, %u heads, %u sectors\n", "geometry:", in->cylinders,
		       in->heads, in->sectors);
	if (vio_has_feature(f, VIRTIO_BLK_F_TOPOLOGY))
		printf("%-22s physical block %u bytes, alignment offset %u, min io %u, "
		       "opt io %u (logical blocks)\n", "topology:",
		       in->physical_block_exp < 16 ? in->blk_size << in->physical_block_exp : 0,
		       in->alignment_offset, in->min_io_size, in->opt_io_size);
	if (vio_has_feature(f, VIRTIO_BLK_F_DISCARD))
		printf("%-22s max %u sectors, max %u segments, alignment %u sectors\n", "discard:",
		       in->max_discard_sectors, in->max_discard_seg, in->discard_sector_alignment);
	if (vio_has_feature(f, VIRTIO_BLK_F_WRITE_ZEROES))
		printf("%-22s max %u sectors, max %u segments, may unmap: %s\n", "write zeroes:",
		       in->max_write_zeroes_sectors, in->max_write_zeroes_seg,
		       in->write_zeroes_may_unmap ? "yes" : "no");
	printf("%-22s %" PRIu64 " bytes per request\n", "max transfer:", in->max_transfer);
	if (x->serial_err)
		printf("%-22s (%s)\n", "serial:", x->serial_err == -ENOTSUP ? "not supported"
									      : "I/O error");
	else
		printf("%-22s %s\n", "serial:", x->serial);
}

/* ---- JSON ---- */

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void json_names(const char *key, uint64_t bits, const char *(*name)(unsigned))
{
	const char *sep = "";

	printf("  \"%s\": [", key);
	for (unsigned b = 0; b < 64; b++) {
		char buf[16];

		if (!(bits >> b & 1))
			continue;
		snprintf(buf, sizeof(buf), "bit%u", b);
		printf("%s", sep);
		json_string(name(b) ? name(b) : buf);
		sep = ", ";
	}
	printf("],\n");
}

static void print_json(const struct info *x)
{
	const struct vio_blk_drv_info *in = x->in;

	printf("{\n");
	printf("  \"device_features\": %" PRIu64 ",\n  \"features\": %" PRIu64 ",\n",
	       in->device_features, in->features);
	json_names("device_feature_names", in->device_features, blk_feature_name);
	json_names("feature_names", in->features, blk_feature_name);
	printf("  \"vhost_user_features\": %" PRIu64 ",\n", x->backend_features);
	json_names("protocol_features", x->protocol_offered, vu_protocol_feature_name);
	printf("  \"capacity_sectors\": %" PRIu64 ",\n  \"capacity_bytes\": %" PRIu64 ",\n",
	       in->capacity, in->capacity * VIRTIO_BLK_SECTOR_SIZE);
	printf("  \"blk_size\": %u,\n  \"num_queues\": %u,\n  \"backend_queues\": %u,\n",
	       in->blk_size, in->device_queues, x->queue_num);
	printf("  \"ring\": \"%s\",\n", blk_ring_name(in->features));
	printf("  \"read_only\": %s,\n",
	       vio_has_feature(in->features, VIRTIO_BLK_F_RO) ? "true" : "false");
	printf("  \"size_max\": %u,\n  \"seg_max\": %u,\n", in->size_max, in->seg_max);
	printf("  \"geometry\": {\"cylinders\": %u, \"heads\": %u, \"sectors\": %u},\n",
	       in->cylinders, in->heads, in->sectors);
	printf("  \"topology\": {\"physical_block_exp\": %u, \"alignment_offset\": %u, "
	       "\"min_io_size\": %u, \"opt_io_size\": %u},\n", in->physical_block_exp,
	       in->alignment_offset, in->min_io_size, in->opt_io_size);
	printf("  \"discard\": {\"max_sectors\": %u, \"max_seg\": %u, \"sector_alignment\": %u},\n",
	       in->max_discard_sectors, in->max_discard_seg, in->discard_sector_alignment);
	printf("  \"write_zeroes\": {\"max_sectors\": %u, \"max_seg\": %u, \"may_unmap\": %s},\n",
	       in->max_write_zeroes_sectors, in->max_write_zeroes_seg,
	       in->write_zeroes_may_unmap ? "true" : "false");
	printf("  \"max_transfer\": %" PRIu64 ",\n  \"serial\": ", in->max_transfer);
	if (x->serial_err)
		printf("null\n");
	else
		json_string(x->serial), printf("\n");
	printf("}\n");
}

int cmd_blk_info(int argc, char **argv)
{
	struct blk_conn_opts o = { .timeout_ms = 30000 };
	struct info x = { 0 };
	struct blk_dev d;
	bool json = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		if (c == OPT_JSON) {
			json = true;
			continue;
		}
		r = blk_common_option(c, optarg, &o);
		if (r == 1) {
			usage(stdout);
			return 0;
		}
		if (r) {
			if (r == -2)
				usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (blk_take_socket(argc, argv, &o))
		return EXIT_USAGE;
	if (blk_open(&d, &o, 1, 0))
		return 1;
	x.in = d.info;
	x.backend_features = vio_vu_fe_backend_features(d.fe);
	x.protocol_offered = vio_vu_fe_protocol_offered(d.fe);
	x.protocol = vio_vu_fe_protocol_features(d.fe);
	x.queue_num = vio_vu_fe_queue_num(d.fe);
	r = get_serial(&d, &x);
	if (r)
		errmsg("GET_ID failed: %s", strerror(-r));
	else if (json)
		print_json(&x);
	else
		print_text(&x);
	blk_close(&d);
	return r ? 1 : 0;
}
