#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A stand-in for vio-blk, to check the e2e harness itself: vio-blk's command line, served by
qemu-storage-daemon, with faults to inject.

It accepts the options the harness gives vio-blk (--socket-path, --blk-file, --read-only,
--num-queues, --discard, --write-zeroes), runs qemu-storage-daemon to do the work, prints
per-queue counter lines on SIGUSR1 in vio-blk's format and exits 0 on SIGTERM. qsd has no
per-queue counters: the lines carry the reads and writes it traced (blk_co_preadv/pwritev),
spread evenly over the queues. It is not a back-end under test; selfcheck.py uses
it to show that every e2e test fails when the back-end misbehaves.

VIO_E2E_FAKE_FAULT (one of):
  corrupt           serve a copy of the image with one block changed (reads see a wrong block,
                    writes do not reach the real image)
  ignore-read-only  export the image writable even with --read-only
  no-discard        offer discard but do not punch holes (qsd discard=ignore)
  one-queue         export one queue whatever --num-queues says
  no-counters       print nothing on SIGUSR1
  bad-exit          exit with status 3 on SIGTERM
"""

import argparse
import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys


def die_with_parent():
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort
        pass


TRACE_RE = re.compile(r'blk_co_(preadv|pwritev) .*bytes (\d+)')


def io_totals(trace):
    """Reads and writes, and their bytes, from qsd's blk_co_preadv/pwritev trace."""
    t = {'reads': 0, 'writes': 0, 'bytes_read': 0, 'bytes_written': 0}
    with open(trace, errors='replace') as f:
        for line in f:
            m = TRACE_RE.search(line)
            if m:
                kind = 'read' if m.group(1) == 'preadv' else 'written'
                t['reads' if kind == 'read' else 'writes'] += 1
                t[f'bytes_{kind}'] += int(m.group(2))
    return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--socket-path', required=True)
    ap.add_argument('--blk-file', required=True)
    ap.add_argument('--read-only', action='store_true')
    ap.add_argument('--num-queues', type=int, default=1)
    ap.add_argument('--discard', action='store_true')
    ap.add_argument('--write-zeroes', action='store_true')
    args = ap.parse_args()
    fault = os.environ.get('VIO_E2E_FAKE_FAULT', '')
    image = args.blk_file
    if fault == 'corrupt':
        copy = image + '.fake-copy'
        shutil.copyfile(image, copy)
        with open(copy, 'r+b') as f:
            f.seek(1 << 20)
            f.write(b'\x5a' * 512)
        image = copy
    read_only = args.read_only and fault != 'ignore-read-only'
    blockdev = f'driver=file,node-name=disk,filename={image}'
    if args.discard:
        blockdev += ',discard=' + ('ignore' if fault == 'no-discard' else 'unmap')
    if read_only:
        blockdev += ',read-only=on'
    nq = 1 if fault == 'one-queue' else args.num_queues
    export = (f'type=vhost-user-blk,id=exp,node-name=disk,addr.type=unix,'
              f'addr.path={args.socket_path},writable={"off" if read_only else "on"},'
              f'num-queues={nq}')
    trace = args.socket_path + '.trace'
    qsd = subprocess.Popen(['qemu-storage-daemon', '--blockdev', blockdev, '--export', export,
                            '--trace', f'enable=blk_co_p*,file={trace}'],
                           preexec_fn=die_with_parent)
    state = {'term': False}

    def on_usr1(signum, frame):
        if fault == 'no-counters':
            return
        try:
            totals = io_totals(trace)
        except OSError as e:
            print(f'fake-vio-blk: no trace: {e}', file=sys.stderr, flush=True)
            return
        totals['requests'] = totals['reads'] + totals['writes']
        for q in range(nq):
            part = {k: v // nq + (v % nq if q == 0 else 0) for k, v in totals.items()}
            print(f'queue {q}: requests={part["requests"]} reads={part["reads"]} '
                  f'writes={part["writes"]} bytes_read={part["bytes_read"]} '
                  f'bytes_written={part["bytes_written"]} errors=0 notifies=0',
                  file=sys.stderr, flush=True)

    def on_term(signum, frame):
        state['term'] = True
        os.kill(qsd.pid, signal.SIGTERM)

    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGTERM, on_term)
    rc = qsd.wait()
    if fault == 'bad-exit':
        return 3
    return 0 if state['term'] else (rc or 1)


if __name__ == '__main__':
    sys.exit(main())
