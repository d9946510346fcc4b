#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""e2e queues: with N request queues (--num-queues, 1 or 2) and two vCPUs, the guest sees N
queues and does I/O from both CPUs at once; the data must check out.

The guest counts /sys/block/vda/mq/*, then runs two O_DIRECT writers pinned with taskset to CPU 0
and CPU 1 at the same time (different 8 MiB ranges, 64 KiB requests), then two pinned readers.
It reports each request queue's interrupt count (/proc/interrupts, virtioN-req.Q: one MSI-X
vector per queue) before and after. The host checks the queue count, that every queue completed
requests during the test, the read-back checksums and every byte of the image. With vio-blk it
also requires the daemon's per-queue counters (SIGUSR1) to show requests on each queue and
exactly the bytes the guest wrote.
"""

import sys

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import MiB, check, log

SIZE = 64 * MiB
RANGES = [(0, 'qa', 8 * MiB, 8 * MiB), (1, 'qb', 40 * MiB, 8 * MiB)]   # cpu, data, offset, len


# Reports each "virtioN-req.Q" line of /proc/interrupts.
IRQS = ('grep -E "virtio[0-9]+-req[.]" /proc/interrupts | while read -r l; do '
        'e2e_report {key} "$l"; done')


def irqs(lines):
    """{queue index: interrupts summed over CPUs} from /proc/interrupts lines."""
    out = {}
    for line in lines:
        f = line.split()
        q = int(f[-1].rsplit('.', 1)[1])
        out[q] = sum(int(x) for x in f[1:] if x.isdigit())
    return out


def add_args(ap):
    ap.add_argument('--num-queues', type=int, choices=[1, 2], default=2)


def body(h):
    nq = h.args.num_queues
    img = h.path('disk.img')
    before = harness.pattern('q-before', SIZE)
    harness.write_file(img, before)
    files = {f'data/{name}': harness.pattern(name, length) for _, name, _, length in RANGES}
    want = bytearray(before)
    for _, name, off, length in RANGES:
        want[off:off + length] = files[f'data/{name}']

    s = ['e2e_report cpus "$(nproc)"',
         'e2e_report mq "$(ls /sys/block/vda/mq | wc -l)"',
         'for q in /sys/block/vda/mq/*; do e2e_report cpu_list "${q##*/} $(cat $q/cpu_list)"; '
         'done',
         IRQS.format(key='irq-before')]
    # Writers on both CPUs at once; each reports its own status.
    for cpu, name, off, length in RANGES:
        s.append(f'(taskset -c {cpu} dd if=/data/{name} of=/dev/vda bs=64k seek={off // 65536} '
                 f'count={length // 65536} oflag=direct status=none; '
                 f'e2e_report write-status "{cpu} $?") &')
    s.append('wait')
    for cpu, name, off, length in RANGES:
        s.append(f'(e2e_report readback "{cpu} $(taskset -c {cpu} sh -c \'. /lib/e2e.sh; '
                 f'e2e_sha /dev/vda bs=64k skip={off // 65536} count={length // 65536} '
                 f'iflag=direct\')") &')
    s.append('wait')
    s.append(IRQS.format(key='irq-after'))
    s.append('sync')
    r = h.boot('\n'.join(s) + '\n', img, files=files, num_queues=nq, smp=2)

    check(r.need('cpus') == '2', f'the guest has {r.get("cpus")} CPUs, expected 2')
    check(r.need('mq') == str(nq), f'the guest sees {r.get("mq")} queues, expected {nq}')
    log(f'queues: guest sees {nq} queue(s); cpu lists: ' + ', '.join(r.all('cpu_list')))
    status = dict(v.split() for v in r.all('write-status'))
    check(status == {'0': '0', '1': '0'}, f'writer exit status per CPU: {status}')
    readback = dict(v.split() for v in r.all('readback'))
    for cpu, name, off, length in RANGES:
        check(readback.get(str(cpu)) == harness.sha256(files[f'data/{name}']),
              f'the CPU {cpu} reader got different data than written')
    before, after = irqs(r.all('irq-before')), irqs(r.all('irq-after'))
    check(sorted(after) == list(range(nq)), f'request queue interrupts found: {after}')
    delta = {q: after[q] - before.get(q, 0) for q in after}
    for q, n in delta.items():
        check(n > 0, f'request queue {q} completed nothing during the test '
              f'(interrupts per queue: {delta})')
    log(f'queues: interrupts per request queue during the test: {delta}')
    diff = harness.first_difference(harness.read_image(img), bytes(want))
    check(diff is None, f'image after the concurrent writes: {diff}')

    if h.args.backend == 'vio':
        c = r.counters.get('end')
        check(c is not None, 'vio-blk printed no per-queue counters on SIGUSR1')
        check(len(c) == nq, f'vio-blk reported {len(c)} queues, expected {nq}')
        for q in c:
            check(q.get('requests', 0) > 0, f'vio-blk queue {q["queue"]} served no requests: '
                  f'{q}')
        written = sum(length for _, _, _, length in RANGES)
        check(sum(q.get('writes', 0) for q in c) >= written // 65536,
              f'vio-blk counted fewer writes than the guest issued: {c}')
        check(sum(q.get('bytes_written', 0) for q in c) == written,
              f'vio-blk counted {sum(q.get("bytes_written", 0) for q in c)} bytes written, '
              f'the guest wrote {written}')
        log('queues: vio-blk counters: ' + '; '.join(
            f'queue {q["queue"]} requests={q.get("requests")}' for q in c))
    log(f'queues: all {SIZE} bytes of the image are as expected')


if __name__ == '__main__':
    sys.exit(harness.main(lambda a: f'queues-{a.num_queues}', __doc__.splitlines()[0], body,
                          add_args=add_args))
