#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""e2e ext2: the guest makes an ext2 filesystem, writes files, reads them back after a remount;
the host checks the filesystem with e2fsck and reads the files with debugfs.

Files (host-made, shipped in the initramfs) range from empty to 5 MiB + 123 bytes, so ext2's
direct, indirect and double-indirect blocks are all used, plus a directory of small files. The
guest reports each file's sha256 as read after umount and a fresh mount (so from the disk, not
the page cache). The host then requires `e2fsck -fn` to be clean and every file's bytes, as
`debugfs -R 'dump'` extracts them from the image, to equal what the guest was given.
"""

import os
import subprocess
import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import MiB, check, log

SIZE = 64 * MiB


def make_files():
    files = {
        'empty': b'',
        'one': b'x',
        'page-minus-one': harness.pattern('f-p', 4096)[:4095],
        'mib-plus-one': harness.pattern('f-m', 2 * MiB)[:MiB + 1],
        'three-mib': harness.pattern('f-3', 3 * MiB),
        'five-mib-odd': harness.pattern('f-5', 6 * MiB)[:5 * MiB + 123],
    }
    for i in range(12):
        files[f'dir/sub/small{i:02d}'] = (f'file {i}\n' * (i * 37 + 1)).encode()
    return files


def body(h):
    img = h.path('disk.img')
    with open(img, 'wb') as f:
        f.truncate(SIZE)
    files = make_files()
    names = sorted(files)
    script = ['mke2fs -F -L vio-e2e /dev/vda >/dev/null', 'mount -t ext2 /dev/vda /mnt',
              'mkdir -p /mnt/dir/sub']
    script += [f'cp /data/{n} /mnt/{n}' for n in names]
    script += ['sync']
    script += [f'e2e_report cached "{n} $(sha256sum /mnt/{n} | cut -d" " -f1)"' for n in names]
    script += ['umount /mnt', 'mount -t ext2 /dev/vda /mnt']
    script += [f'e2e_report file "{n} $(sha256sum /mnt/{n} | cut -d" " -f1)"' for n in names]
    script += ['e2e_report df "$(df -k /mnt | tail -1)"', 'umount /mnt', 'sync']
    r = h.boot('\n'.join(script) + '\n', img, files={f'data/{n}': d for n, d in files.items()})

    for key in ('cached', 'file'):
        seen = dict(v.split() for v in r.all(key))
        check(sorted(seen) == names, f'{key}: the guest reported files {sorted(seen)}')
        for n in names:
            check(seen[n] == harness.sha256(files[n]),
                  f'{key}: /{n} read back in the guest has sha256 {seen[n]}, '
                  f'expected {harness.sha256(files[n])}')
    log(f'ext2: the guest read back {len(names)} files correctly after a remount')

    fsck = subprocess.run(['e2fsck', '-fn', img], capture_output=True, text=True)
    check(fsck.returncode == 0, f'e2fsck -fn found problems (status {fsck.returncode}):\n'
          f'{fsck.stdout}{fsck.stderr}')
    log('ext2: e2fsck -fn: ' + (fsck.stdout.strip().splitlines() or ['clean'])[-1])

    out = h.path('dump')
    for n in names:
        if os.path.exists(out):
            os.unlink(out)
        d = subprocess.run(['debugfs', '-R', f'dump /{n} {out}', img], capture_output=True,
                           text=True)
        check(d.returncode == 0 and os.path.exists(out),
              f'debugfs could not dump /{n}: {d.stderr.strip()}')
        got = harness.read_image(out)
        check(got == files[n], f'/{n} as read by debugfs from the image: ' +
              str(harness.first_difference(got, files[n]) if len(got) == len(files[n])
                  else f'{len(got)} bytes, expected {len(files[n])}'))
    os.unlink(out)
    log(f'ext2: debugfs reads all {len(names)} files from the image byte for byte')


if __name__ == '__main__':
    sys.exit(harness.main('ext2', __doc__.splitlines()[0], body,
                          needs=[('e2fsck', 'e2fsprogs'), ('debugfs', 'e2fsprogs')]))
