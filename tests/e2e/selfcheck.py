#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Checks the e2e tests themselves: each must pass on a correct back-end and fail on a faulty one.

Runs every test against fake_vio_blk.py (vio-blk's command line over qemu-storage-daemon) with
no fault, which must pass and exercises the harness's vio path, then with the faults that test
is there to catch, which must fail. Takes about two minutes under TCG.

    python3 tests/e2e/selfcheck.py [--workdir DIR]
"""

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, 'fake_vio_blk.py')

# (test script, extra args, fault or '' for none, expected exit code)
CASES = [
    ('test_read.py', [], '', 0),
    ('test_write.py', [], '', 0),
    ('test_ext2.py', [], '', 0),
    ('test_queues.py', ['--num-queues=1'], '', 0),
    ('test_queues.py', ['--num-queues=2'], '', 0),
    ('test_readonly.py', [], '', 0),
    ('test_discard.py', [], '', 0),
    ('test_read.py', [], 'corrupt', 1),
    ('test_write.py', [], 'corrupt', 1),
    ('test_ext2.py', [], 'corrupt', 1),
    ('test_queues.py', ['--num-queues=2'], 'corrupt', 1),
    ('test_queues.py', ['--num-queues=2'], 'one-queue', 1),
    ('test_queues.py', ['--num-queues=2'], 'no-counters', 1),
    ('test_readonly.py', [], 'ignore-read-only', 1),
    ('test_readonly.py', [], 'corrupt', 1),
    ('test_discard.py', [], 'no-discard', 1),
    ('test_discard.py', [], 'corrupt', 1),
    ('test_write.py', [], 'bad-exit', 1),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--workdir', default=None)
    args = ap.parse_args()
    bad = 0
    for script, extra, fault, want in CASES:
        env = dict(os.environ, VIO_E2E_FAKE_FAULT=fault)
        env.pop('VIO_E2E_BACKEND', None)
        cmd = [sys.executable, os.path.join(HERE, script), '--backend=vio', f'--vio-blk={FAKE}']
        if args.workdir:
            cmd.append(f'--workdir={args.workdir}')
        t0 = time.monotonic()
        p = subprocess.run(cmd + extra, env=env, capture_output=True, text=True)
        dt = time.monotonic() - t0
        why = next((l for l in p.stdout.splitlines() if l.startswith('e2e: FAIL')), '')
        ok = p.returncode == want
        bad += not ok
        print(f'{"ok " if ok else "BAD"} {script} {" ".join(extra)} fault={fault or "none"}: '
              f'exit {p.returncode} (want {want}) {dt:.1f}s {why[:150]}', flush=True)
        if p.returncode == 77:
            print(p.stdout)
            return 77
        if not ok:
            print(p.stdout[-3000:])
    print(f'{len(CASES) - bad} passed, {bad} failed')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
