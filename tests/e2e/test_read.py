#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""e2e read: the guest reads a host-written pattern through the back-end; checksums must match.

The host fills a 64 MiB image with a per-512-byte-block pattern. The guest reports the device
size, the sha256 of each 8 MiB chunk read with O_DIRECT in 1 MiB requests, of the whole device
read through the page cache (readahead: large requests), and of a few small reads (single and odd
sectors, the last sector). The host compares every checksum with the image's content.
"""

import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import MiB, check, log

SIZE = 64 * MiB
CHUNK = 8 * MiB
SMALL = [(0, 1), (7, 3), (12345, 9), (SIZE // 512 - 1, 1)]   # (sector, count)

SCRIPT = f'''
e2e_report size "$(blockdev --getsize64 /dev/vda)"
i=0
while [ $i -lt {SIZE // CHUNK} ]; do
	sha=$(e2e_sha /dev/vda bs=1M skip=$((i * {CHUNK // MiB})) count={CHUNK // MiB} iflag=direct)
	e2e_report chunk "$i $sha"
	i=$((i + 1))
done
e2e_report whole "$(e2e_sha /dev/vda bs=64k)"
''' + ''.join(f'e2e_report small "{s} {n} $(e2e_sha /dev/vda bs=512 skip={s} count={n} '
              f'iflag=direct)"\n' for s, n in SMALL)


def body(h):
    img = h.path('disk.img')
    data = harness.pattern('read', SIZE)
    harness.write_file(img, data)
    r = h.boot(SCRIPT, img)
    check(r.need('size') == str(SIZE), f'guest sees {r.get("size")} bytes, image has {SIZE}')
    chunks = {}
    for v in r.all('chunk'):
        i, sha = v.split()
        chunks[int(i)] = sha
    check(sorted(chunks) == list(range(SIZE // CHUNK)), f'chunks reported: {sorted(chunks)}')
    for i, sha in chunks.items():
        want = harness.sha256(data[i * CHUNK:(i + 1) * CHUNK])
        check(sha == want, f'chunk {i} (bytes {i * CHUNK}..{(i + 1) * CHUNK}): guest read '
              f'sha256 {sha}, image has {want}')
    check(r.need('whole') == harness.sha256(data), 'whole-device buffered read: checksum differs')
    small = r.all('small')
    check(len(small) == len(SMALL), f'{len(small)} small reads reported, expected {len(SMALL)}')
    for v in small:
        s, n, sha = v.split()
        s, n = int(s), int(n)
        want = harness.sha256(data[s * 512:(s + n) * 512])
        check(sha == want, f'read of {n} sector(s) at sector {s}: checksum differs')
    check(harness.file_sha256(img) == harness.sha256(data), 'reading changed the image')
    log(f'read: {len(chunks)} O_DIRECT chunks, the buffered whole-device read and '
        f'{len(small)} small reads match the image')


if __name__ == '__main__':
    sys.exit(harness.main('read', __doc__.splitlines()[0], body))
