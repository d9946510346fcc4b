#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""A stand-in for vio-blk, to check the e2e harness itself: vio-blk's command line, served by
qemu-storage-daemon, with faults to inject.

It accepts the options the harness gives vio-blk (--socket-path, --blk-file, --read-only,
--num-queues, --discard, --write-zeroes), runs qemu-storage-daemon to do the work, prints
per-queue counter lines on SIGUSR1 in vio-blk's format (the numbers are placeholders: qsd has no
per-queue counters) and exits 0 on SIGTERM. It is not a back-end under test; selfcheck.py uses
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
import shutil
import signal
import subprocess
import sys


def die_with_parent():
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort
        pass


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
    qsd = subprocess.Popen(['qemu-storage-daemon', '--blockdev', blockdev, '--export', export],
                           preexec_fn=die_with_parent)
    state = {'term': False}

    def on_usr1(signum, frame):
        if fault == 'no-counters':
            return
        for q in range(nq):
            print(f'queue {q}: requests=1000 reads=500 writes=500 flushes=0 discards=0 '
                  f'bytes_read=0 bytes_written=0 errors=0 notifies=0', file=sys.stderr,
                  flush=True)

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
