#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""e2e read-only: on a back-end started read-only, the guest's disk is read-only, writes fail,
reads work, and the image is byte-for-byte unchanged.

The guest reports `blockdev --getro` and /sys/block/vda/ro (VIRTIO_BLK_F_RO makes the driver
mark the disk read-only), tries an O_DIRECT write and a buffered write with fsync, then clears
the block device's own read-only flag (`blockdev --setrw`) and tries again, and finally reads the
whole device. Every write must fail, the read must match the image, and the image's bytes must
not change.
"""

import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import MiB, check, log

SIZE = 16 * MiB

# Each attempt reports "<name> <dd exit status> <dd's last message>".
TRY = ('out=$(dd if=/data/junk of=/dev/vda bs=4k count=4 seek={seek} {flags} 2>&1); '
       'e2e_report attempt "{name} $? $(echo "$out" | head -1)"')

SCRIPT = '\n'.join([
    'e2e_report getro "$(blockdev --getro /dev/vda)"',
    'e2e_report sysfs-ro "$(cat /sys/block/vda/ro)"',
    'set +e',
    TRY.format(name='direct', seek=0, flags='oflag=direct'),
    TRY.format(name='buffered-fsync', seek=100, flags='conv=fsync'),
    'blockdev --setrw /dev/vda; e2e_report setrw "$?"',
    TRY.format(name='forced-direct', seek=200, flags='oflag=direct'),
    TRY.format(name='forced-buffered-fsync', seek=300, flags='conv=fsync'),
    'sync',
    'set -e',
    'e2e_report sha "$(e2e_sha /dev/vda bs=1M iflag=direct)"',
    ''])


def body(h):
    img = h.path('disk.img')
    data = harness.pattern('ro', SIZE)
    harness.write_file(img, data)
    r = h.boot(SCRIPT, img, files={'data/junk': b'\xa5' * 16384}, read_only=True)

    check(r.need('getro') == '1', f'blockdev --getro says {r.get("getro")}: the guest does not '
          'see a read-only disk')
    check(r.need('sysfs-ro') == '1', f'/sys/block/vda/ro is {r.get("sysfs-ro")}')
    attempts = {}
    for v in r.all('attempt'):
        name, rc, msg = (v.split(' ', 2) + [''])[:3]
        attempts[name] = (rc, msg)
    check(len(attempts) == 4, f'write attempts reported: {sorted(attempts)}')
    for name, (rc, msg) in attempts.items():
        check(rc != '0', f'the "{name}" write succeeded on a read-only device')
        log(f'read-only: {name} write failed as it must (dd status {rc}: {msg})')
    check(r.need('sha') == harness.sha256(data), 'reading the read-only device returned '
          'different data than the image holds')
    got = harness.read_image(img)
    diff = harness.first_difference(got, data)
    check(diff is None, f'the read-only image changed: {diff}')
    log(f'read-only: reads match and all {SIZE} bytes of the image are unchanged')


if __name__ == '__main__':
    sys.exit(harness.main('read-only', __doc__.splitlines()[0], body))
