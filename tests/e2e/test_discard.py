#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""e2e discard: the back-end offers discard; the guest's blkdiscard punches holes in the image.

The host writes a pattern over the whole 64 MiB image (every block allocated). The guest reports
the discard limits it sees (/sys/block/vda/queue/discard_*), discards 16 MiB at 8 MiB and 1 MiB
at 40 MiB with blkdiscard, and reads both ranges back with O_DIRECT. The host then requires: the
image's allocated size dropped by at least the discarded size, SEEK_HOLE finds a hole where each
range starts, the ranges read back (in the guest and on the host) as zeroes, and every other byte
is unchanged.
"""

import os
import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import MiB, check, log

SIZE = 64 * MiB
RANGES = [(8 * MiB, 16 * MiB), (40 * MiB, 1 * MiB)]   # (offset, length) in bytes

SCRIPT = '\n'.join([
    'e2e_report discard_max_bytes "$(cat /sys/block/vda/queue/discard_max_bytes)"',
    'e2e_report discard_granularity "$(cat /sys/block/vda/queue/discard_granularity)"',
] + [f'blkdiscard -o {off} -l {length} /dev/vda && e2e_report discarded {off}'
     for off, length in RANGES] + [
    f'e2e_report readback "{off} $(e2e_sha /dev/vda bs=1M skip={off // MiB} '
    f'count={length // MiB} iflag=direct)"' for off, length in RANGES] + ['sync', ''])


def body(h):
    img = h.path('disk.img')
    data = harness.pattern('discard', SIZE)
    harness.write_file(img, data)
    with open(img, 'rb+') as f:
        os.fsync(f.fileno())
    blocks_before = os.stat(img).st_blocks
    check(blocks_before * 512 >= SIZE, f'the image is not fully allocated before the test '
          f'({blocks_before * 512} of {SIZE} bytes)')
    r = h.boot(SCRIPT, img, discard=True)

    check(int(r.need('discard_max_bytes')) > 0, 'the guest sees no discard support '
          '(discard_max_bytes is 0)')
    log(f'discard: guest limits: max {r.get("discard_max_bytes")} bytes, granularity '
        f'{r.get("discard_granularity")}')
    check(r.all('discarded') == [str(off) for off, _ in RANGES],
          f'blkdiscard completed for offsets {r.all("discarded")}')
    readback = dict(v.split() for v in r.all('readback'))
    for off, length in RANGES:
        check(readback.get(str(off)) == harness.sha256(bytes(length)),
              f'the guest reads the discarded range at {off} back as non-zero data')

    blocks_after = os.stat(img).st_blocks
    freed = (blocks_before - blocks_after) * 512
    total = sum(length for _, length in RANGES)
    log(f'discard: image allocation {blocks_before * 512} -> {blocks_after * 512} bytes '
        f'({freed} freed, {total} discarded)')
    check(freed >= total, f'only {freed} bytes were deallocated in the image, '
          f'{total} were discarded')
    with open(img, 'rb') as f:
        for off, length in RANGES:
            hole = os.lseek(f.fileno(), off, os.SEEK_HOLE)
            check(hole == off, f'SEEK_HOLE from {off} finds the next hole at {hole}')
            data_at = os.lseek(f.fileno(), off, os.SEEK_DATA)
            check(data_at >= off + length, f'SEEK_DATA from {off} finds data at {data_at}, '
                  f'inside the discarded range')
    want = bytearray(data)
    for off, length in RANGES:
        want[off:off + length] = bytes(length)
    diff = harness.first_difference(harness.read_image(img), bytes(want))
    check(diff is None, f'image after discard: {diff}')
    log(f'discard: the ranges are holes of zeroes; the other bytes are unchanged')


if __name__ == '__main__':
    sys.exit(harness.main('discard', __doc__.splitlines()[0], body))
