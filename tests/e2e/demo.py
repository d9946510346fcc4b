#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The vio demo: a Linux guest puts a filesystem on a disk served by vio-blk, and the host checks
every file.

    python3 tests/e2e/demo.py --vio-blk build/daemons/vio-blk/vio-blk
    python3 tests/e2e/demo.py --backend=qsd        # the same story on qemu-storage-daemon

It creates a 128 MiB image, starts the back-end on it, boots a Debian kernel under QEMU (TCG,
2 vCPUs, 2 request queues) whose stock virtio-blk driver attaches to it, makes an ext2
filesystem, writes and reads back files, and powers off; then it checks the filesystem and the
files from the host, and shows the daemon's per-queue counters (vio-blk prints them on SIGUSR1).
"""

import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import MiB

SIZE = 128 * MiB
NUM_QUEUES = 2

HELLO = b'Hello from the host, written by a Linux guest through vhost-user-blk.\n'


def host_files():
    return {
        'hello.txt': HELLO,
        'pictures/big.bin': harness.pattern('demo-big', 6 * MiB),
        'pictures/medium.bin': harness.pattern('demo-medium', 2 * MiB)[:MiB + 4321],
        'notes/todo.txt': b''.join(b'%d. keep the ring honest\n' % i for i in range(1, 200)),
    }


def guest_script(names):
    s = ['say() { echo "@@E2E step $*"; }',
         'say "the guest sees /dev/vda: $(blockdev --getsize64 /dev/vda) bytes, '
         '$(ls /sys/block/vda/mq | wc -l) request queue(s), $(nproc) CPUs"',
         'mke2fs -F -L vio-demo /dev/vda >/dev/null',
         'say "made an ext2 filesystem (busybox mke2fs)"',
         'mount -t ext2 /dev/vda /mnt',
         'mkdir -p /mnt/pictures /mnt/notes']
    s += [f'cp /data/{n} /mnt/{n}' for n in names]
    s += ['say "copied the host files in"',
          'taskset -c 1 dd if=/dev/urandom of=/mnt/random.bin bs=1M count=3 status=none',
          'say "CPU 1 wrote 3 MiB of random data to /random.bin"',
          'e2e_report random "$(sha256sum /mnt/random.bin | cut -d" " -f1)"',
          'sync',
          'umount /mnt',
          'mount -t ext2 /dev/vda /mnt',
          'say "synced, unmounted and mounted again: the files now come from the disk"']
    s += [f'e2e_report file "{n} $(sha256sum /mnt/{n} | cut -d" " -f1)"'
          for n in names + ['random.bin']]
    s += ['say "$(df -k /mnt | tail -1 | awk \'{print "filesystem: " $3 " KiB used of " $2}\')"',
          'umount /mnt',
          'sync',
          'say "unmounted; asking the host for the counters before powering off"']
    return '\n'.join(s) + '\n'


def show_counters(counters):
    """One row per counter, one column per queue (vio-blk's SIGUSR1 lines, transposed)."""
    names = []
    for q in counters:
        names += [k for k in q if k != 'queue' and k not in names]
    print('   ' + 'counter'.ljust(16) + ''.join(f'queue {q["queue"]}'.rjust(14)
                                               for q in counters))
    for n in names:
        print('   ' + n.ljust(16) + ''.join(str(q.get(n, '-')).rjust(14) for q in counters))


def run(h):
    args = h.args
    files = host_files()
    names = sorted(files)
    img = h.path('demo.img')
    with open(img, 'wb') as f:
        f.truncate(SIZE)
    be = 'vio-blk' if args.backend == 'vio' else 'qemu-storage-daemon'
    print(f'\n== 1. A {SIZE // MiB} MiB disk image, served by {be}')
    print(f'   image: {img} (sparse, all zeroes)')
    print(f'\n== 2. Boot a Debian kernel ({h.release}) under QEMU with TCG, 2 vCPUs, '
          f'vhost-user-blk-pci with {NUM_QUEUES} queues')
    print('   guest memory is a shared memfd so the back-end can map it; the guest has only the '
          'stock virtio_pci and virtio_blk drivers and busybox')
    t0 = time.monotonic()
    r = h.boot(guest_script(names), img, files={f'data/{n}': d for n, d in files.items()},
               num_queues=NUM_QUEUES, smp=2, tag='demo')
    steps = r.all('step')
    print(f'   back-end:  {" ".join(h.last_cmds["backend"])}')
    print(f'   booted in {r.timing.get("guest-boot", 0):.1f} s; the guest worked for '
          f'{r.timing.get("guest-test", 0):.1f} s; QEMU ran {r.timing.get("qemu-total", 0):.1f} s')
    print('\n== 3. What the guest did')
    for s in steps:
        print(f'   - {s}')

    print('\n== 4. The guest read every file back after a remount')
    seen = dict(v.split() for v in r.all('file'))
    expect = {n: harness.sha256(d) for n, d in files.items()}
    expect['random.bin'] = r.need('random')
    ok = True
    for n in names + ['random.bin']:
        good = seen.get(n) == expect[n]
        ok &= good
        size = len(files[n]) if n in files else 3 * MiB
        print(f'   {"ok " if good else "BAD"} /{n:<22} {size:>9} bytes  sha256 '
              f'{(seen.get(n) or "missing")[:16]}...')

    print('\n== 5. The host checks the image (the guest is gone, the daemon has stopped)')
    fsck = subprocess.run(['e2fsck', '-fn', img], capture_output=True, text=True)
    summary = (fsck.stdout.strip().splitlines() or ['?'])[-1]
    print(f'   e2fsck -fn: {"clean" if fsck.returncode == 0 else "PROBLEMS"} ({summary})')
    ok &= fsck.returncode == 0
    out = h.path('dump')
    for n in names + ['random.bin']:
        if os.path.exists(out):
            os.unlink(out)
        subprocess.run(['debugfs', '-R', f'dump /{n} {out}', img], capture_output=True)
        got = harness.read_image(out) if os.path.exists(out) else None
        if n in files:
            good = got == files[n]
            how = 'byte for byte equal to what the host gave the guest'
        else:
            good = got is not None and harness.sha256(got) == expect[n]
            how = 'same sha256 as the guest computed when it wrote it'
        ok &= good
        print(f'   {"ok " if good else "BAD"} debugfs dump /{n}: {how}')
    if os.path.exists(out):
        os.unlink(out)
    hello = subprocess.run(['debugfs', '-R', 'cat /hello.txt', img], capture_output=True)
    print(f'   debugfs cat /hello.txt: {hello.stdout.decode(errors="replace").strip()!r}')

    print('\n== 6. The daemon\'s per-queue counters (SIGUSR1, before the guest powered off)')
    if args.backend != 'vio':
        print('   qemu-storage-daemon has no per-queue counters: skipped')
    elif r.counters.get('end'):
        show_counters(r.counters['end'])
        busy = [q['queue'] for q in r.counters['end'] if q.get('requests', 0) > 0]
        print(f'   queues that served requests: {busy}')
    else:
        print('   vio-blk printed no counter lines on SIGUSR1')
        ok = False
    print(f'   the daemon exited with status {r.backend_rc} on SIGTERM')

    print(f'\n== {"PASS" if ok else "FAIL"}: the demo took {time.monotonic() - t0:.1f} s; '
          f'logs and the image are in {h.dir}')
    if not ok:
        raise harness.Fail('the demo found a problem (see above)')


def main():
    ap = harness.parser(__doc__.splitlines()[0])
    args = ap.parse_args()
    args.keep = True
    harness.QUIET = not args.verbose
    try:
        harness.resolve(args, needs=[('e2fsck', 'e2fsprogs'), ('debugfs', 'e2fsprogs')])
    except harness.Skip as e:
        print(f'demo: cannot run: {e}')
        return harness.SKIP
    except harness.Fail as e:
        print(f'demo: {e}')
        return 1
    print('vio demo: a Linux guest on a vhost-user-blk disk')
    h = None
    try:
        h = harness.Harness(args, 'demo')
        run(h)
        return 0
    except harness.mkinitramfs.Missing as e:
        print(f'demo: cannot run: {e}')
        return harness.SKIP
    except harness.Fail as e:
        print(f'\ndemo: FAIL: {e}')
        if h:
            h.report_failure()
        return 1
    finally:
        if h:
            h.cleanup(True)


if __name__ == '__main__':
    sys.exit(main())
