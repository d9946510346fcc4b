#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""e2e enospc: the image's filesystem fills up under the guest's writes; the guest gets I/O
errors, every write that succeeded is intact, flushes fail from then on, the daemon stays up.

The image is a sparse 32 MiB file on an 8 MiB tmpfs (mounted for the test: root only). The
guest writes 1 MiB chunks of fresh random data with O_DIRECT, one after the other, and reports
each chunk's status (and checksum); fsync of /dev/vda on each CPU (a FLUSH on each of the two
queues) after the first chunk must succeed. Once a chunk fails (the tmpfs is full: vio-blk's
pwrite gets ENOSPC and completes the request with IOERR), the guest tries two more chunks,
then:
  - fsync of /dev/vda on each CPU must fail (the write was lost: VIRTIO_BLK_T_FLUSH must not
    report OK after it);
  - it overwrites chunk 0 (space already allocated: this write succeeds: the device still
    serves), reads chunks 0 and 1 back, and fsync must still fail (the failure is sticky).
The host checks, in the image, each chunk the guest reported written (chunk 0 with its new
data), that the tmpfs really filled (the writes that succeeded add up to most of it), that the
daemon stayed up and exits cleanly, and (vio-blk) that its counters show the failed writes.
"""

import os
import shutil
import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import MiB, Fail, check, log

SIZE = 32 * MiB          # the image (sparse)
FS_SIZE = 8 * MiB        # the tmpfs holding it
CHUNK = MiB
CHUNKS = SIZE // CHUNK
EXTRA = 2                # chunks tried after the first failure

SCRIPT = f'''
# flush NAME: fsync of /dev/vda on each CPU (so through each queue): ok or fail per CPU
flush() {{
	for cpu in 0 1; do
		if taskset -c $cpu sync /dev/vda 2>/dev/null; then
			e2e_report flush "$1 cpu$cpu ok"
		else
			e2e_report flush "$1 cpu$cpu fail"
		fi
	done
}}
# put I: writes 1 MiB of fresh random data as chunk I (O_DIRECT); reports ok + sha256, or fail
put() {{
	dd if=/dev/urandom of=/tmp/chunk bs={CHUNK} count=1 status=none
	if dd if=/tmp/chunk of=/dev/vda bs={CHUNK} count=1 seek=$1 oflag=direct conv=notrunc \\
		status=none 2>/dev/null; then
		e2e_report chunk "$1 ok $(e2e_sha /tmp/chunk)"
		return 0
	fi
	e2e_report chunk "$1 fail"
	return 1
}}
i=0
failed=-1
while [ $i -lt {CHUNKS} ]; do
	if ! put $i && [ $failed -lt 0 ]; then
		failed=$i
	fi
	[ $i -eq 0 ] && flush after-first-chunk
	[ $failed -ge 0 ] && [ $i -ge $((failed + {EXTRA})) ] && break
	i=$((i + 1))
done
e2e_report first-failure $failed
e2e_host_sync after-writes
flush after-failure
put 0 && e2e_report overwrite ok || e2e_report overwrite fail
for c in 0 1; do
	e2e_report readback "$c $(e2e_sha /dev/vda bs={CHUNK} skip=$c count=1 iflag=direct)"
done
flush after-overwrite
'''


def body(h):
    with harness.Tmpfs(FS_SIZE) as fs:
        img = fs.path('disk.img')
        with open(img, 'wb') as f:
            f.truncate(SIZE)        # sparse: no space taken yet
        try:
            check_run(h, img)
        except Fail:
            # keep what the image holds for a look (the tmpfs goes away)
            shutil.copyfile(img, h.path('disk.img'))
            raise


def check_run(h, img):
    r = h.boot(SCRIPT, img, num_queues=2, smp=2)

    flushes = {}
    for v in r.all('flush'):
        phase, cpu, result = v.split()
        flushes[(phase, cpu)] = result

    def check_flush(phase, want, sticky=False):
        if sticky and h.args.backend != 'vio':
            # vio-blk's rule (no flush succeeds after a failed write); qsd is not held to it
            log(f'enospc: {h.args.backend}: fsync {phase}: '
                f'{[flushes.get((phase, c)) for c in ("cpu0", "cpu1")]} (not checked)')
            return
        for cpu in ('cpu0', 'cpu1'):
            got = flushes.get((phase, cpu))
            check(got == want, f'fsync of /dev/vda {phase.replace("-", " ")} on {cpu}: {got}, '
                  f'expected {want}')

    chunks = {}
    for v in r.all('chunk'):
        idx, status, *sha = v.split()
        chunks.setdefault(int(idx), []).append((status, sha[0] if sha else None))
    first_fail = int(r.need('first-failure'))
    check(first_fail >= 0, f'no write failed, though {CHUNKS} MiB cannot fit on a '
          f'{FS_SIZE // MiB} MiB tmpfs: the device reported writes done that were not')
    # Where the tmpfs fills is up to tmpfs; the writes before must have filled most of it.
    check(first_fail >= FS_SIZE // CHUNK - 2, f'the first write failed at chunk {first_fail}: '
          f'too early for a {FS_SIZE // MiB} MiB tmpfs (a write failed for another reason?)')
    for i in range(first_fail):
        check(chunks.get(i, [('missing', None)])[0][0] == 'ok',
              f'chunk {i} (before the first failure) is not reported written: {chunks.get(i)}')
    for i in range(first_fail, first_fail + EXTRA + 1):
        check(chunks.get(i, [('missing', None)])[0][0] == 'fail',
              f'chunk {i} succeeded on a full filesystem after chunk {first_fail} failed '
              f'({chunks.get(i)})')

    check_flush('after-first-chunk', 'ok')
    check_flush('after-failure', 'fail', sticky=True)
    check(r.get('overwrite') == 'ok', 'overwriting chunk 0 (space already allocated) failed: '
          'the device must go on serving after ENOSPC')
    check_flush('after-overwrite', 'fail', sticky=True)

    # The image: every chunk the guest last wrote successfully holds that data.
    final = {}
    for i, results in chunks.items():
        for status, sha in results:
            if status == 'ok':
                final[i] = sha
    check(0 in final and len(chunks[0]) == 2, 'the overwrite of chunk 0 is not reported')
    readback = dict(v.split() for v in r.all('readback'))
    for c in (0, 1):
        check(readback.get(str(c)) == final.get(c),
              f'the guest read back chunk {c} different from what it wrote')
    data = harness.read_image(img)
    check(len(data) == SIZE, f'the image is {len(data)} bytes, not {SIZE}')
    bad = [i for i, sha in sorted(final.items())
           if harness.sha256(data[i * CHUNK:(i + 1) * CHUNK]) != sha]
    check(not bad, f'chunks {bad} in the image differ from what the guest wrote successfully')
    used = os.stat(img).st_blocks * 512
    log(f'enospc: {len(final)} chunks written, the first failure at chunk {first_fail}; the '
        f'image takes {used / MiB:.1f} MiB of the {FS_SIZE // MiB} MiB tmpfs')

    if h.backend.has_counters and 'end' in r.counters:
        c = r.counters['end']
        errors = sum(q['errors'] for q in c)
        check(errors >= EXTRA + 1, f'vio-blk counted {errors} errors, fewer than the '
              f'{EXTRA + 1} failed writes')
        check(sum(q['flushes'] for q in c) >= 6, 'vio-blk counted fewer flushes than the '
              'guest\'s six fsyncs')


if __name__ == '__main__':
    sys.exit(harness.main('enospc', __doc__.splitlines()[0], body))
