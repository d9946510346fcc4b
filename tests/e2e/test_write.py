#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""e2e write: the guest writes known data with O_DIRECT; the host checks every byte of the image.

The image starts filled with one pattern. The guest copies host-made data (shipped in the
initramfs) onto the device with `dd oflag=direct`: 8 MiB in 1 MiB requests, 1.2 MiB in 4 KiB
requests at an odd 4 KiB offset, 7 sectors at an odd sector, and the last sector; then it syncs
and flushes. It also reads the written ranges back with O_DIRECT. After power-off the host
compares the whole image with the model of what it must now contain.
"""

import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import MiB, check, log

SIZE = 64 * MiB
LAST = SIZE // 512 - 1

# (name, guest data file, byte offset on the device, length, dd block size)
WRITES = [
    ('big', 'w1', 4 * MiB, 8 * MiB, '1M'),
    ('pages', 'w1', 32 * MiB + 4096, 300 * 4096, '4k'),
    ('sectors', 'w2', 81921 * 512, 7 * 512, '512'),
    ('last', 'w3', LAST * 512, 512, '512'),
]


def body(h):
    img = h.path('disk.img')
    before = harness.pattern('before', SIZE)
    harness.write_file(img, before)
    files = {
        'data/w1': harness.pattern('w1', 8 * MiB),
        'data/w2': harness.pattern('w2', 7 * 512),
        'data/w3': harness.pattern('w3', 512),
    }
    want = bytearray(before)
    lines = []
    for name, src, off, length, bs in WRITES:
        nbs = {'1M': MiB, '4k': 4096, '512': 512}[bs]
        want[off:off + length] = files[f'data/{src}'][:length]
        lines.append(f'dd if=/data/{src} of=/dev/vda bs={bs} seek={off // nbs} '
                     f'count={length // nbs} oflag=direct status=none\n'
                     f'e2e_report wrote {name}\n')
    lines.append('sync\nblockdev --flushbufs /dev/vda\n')
    for name, src, off, length, bs in WRITES:
        nbs = {'1M': MiB, '4k': 4096, '512': 512}[bs]
        lines.append(f'e2e_report readback "{name} $(e2e_sha /dev/vda bs={bs} '
                     f'skip={off // nbs} count={length // nbs} iflag=direct)"\n')
    r = h.boot(''.join(lines), img, files=files)

    wrote = r.all('wrote')
    check(wrote == [w[0] for w in WRITES], f'the guest completed writes {wrote}')
    readback = dict(v.split() for v in r.all('readback'))
    for name, _, off, length, _ in WRITES:
        check(readback.get(name) == harness.sha256(bytes(want[off:off + length])),
              f'guest read-back of the "{name}" write differs from what it wrote')
    got = harness.read_image(img)
    diff = harness.first_difference(got, bytes(want))
    check(diff is None, f'image after the guest wrote: {diff}')
    log(f'write: all {SIZE} bytes of the image are as expected '
        f'({sum(w[3] for w in WRITES)} bytes written by the guest, the rest untouched)')


if __name__ == '__main__':
    sys.exit(harness.main('write', __doc__.splitlines()[0], body))
