#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""e2e restart: vio-blk is killed with SIGKILL while the guest writes and verifies, and started
again; QEMU reconnects (reconnect=1) and hands back the inflight region, so every request that
was in flight is completed by the new process: none lost, none done twice.

The guest runs PASSES passes over a 4 MiB region: each pass writes one of two random data sets
(alternately) with four O_DIRECT writers in parallel (16 KiB requests, several in flight at
once), reads the region back with O_DIRECT and compares checksums. After the first pass the host starts
killing the back-end (SIGKILL, no clean-up) and restarting it, CRASHES times, while passes go
on. A lost request hangs the guest (the test times out); a stale write done twice after a newer
one shows as a checksum mismatch. At the end the host checks that the image holds exactly the
last pass's data, and that at least one restart resubmitted requests from the inflight log (so
the crash did hit requests in flight).
"""

import sys
import threading
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import MiB, check, log

SIZE = 64 * MiB
REGION = 4 * MiB
PASSES = 24
CRASHES = 5
BS = 16 * 1024
BLOCKS = REGION // BS

SCRIPT = f'''
n={BLOCKS}
q=$((n / 4))
# two data sets, made once: passes alternate them, so a stale write from an earlier
# pass done again after a newer one shows as a mismatch
dd if=/dev/urandom of=/tmp/data1 bs={BS} count=$n status=none
dd if=/dev/urandom of=/tmp/data0 bs={BS} count=$n status=none
sha1=$(e2e_sha /tmp/data1)
sha0=$(e2e_sha /tmp/data0)
pass=1
while [ $pass -le {PASSES} ]; do
	src=/tmp/data$((pass % 2))
	want=$sha0
	[ $((pass % 2)) -eq 1 ] && want=$sha1
	pids=""
	for w in 0 1 2 3; do
		dd if=$src of=/dev/vda bs={BS} skip=$((w * q)) seek=$((w * q)) count=$q \\
			oflag=direct conv=notrunc status=none &
		pids="$pids $!"
	done
	for p in $pids; do
		wait $p || e2e_report write-error "pass $pass"
	done
	got=$(e2e_sha /dev/vda bs={BS} count=$n iflag=direct)
	if [ "$got" = "$want" ]; then
		e2e_report pass-ok "$pass $want"
	else
		e2e_report pass-mismatch "$pass"
	fi
	[ $pass -eq 1 ] && e2e_host_sync crash-now
	pass=$((pass + 1))
done
'''


def body(h):
    img = h.path('disk.img')
    harness.write_file(img, harness.pattern('before', SIZE))
    crasher = {'release': threading.Event()}

    def crash_loop(be):
        # kill while the passes run, let QEMU reconnect and restart the device, repeat
        for i in range(CRASHES):
            time.sleep(0.2 + 0.25 * i)
            rc = be.crash()
            log(f'restart: back-end killed (status {rc}), crash {i + 1}')
            time.sleep(0.3)
            be.restart()
            # QEMU reconnects within its 1 s reconnect period and restarts the device
            # (the restored inflight region logs the resubmission at info level).
            if not be.err.wait_for(lambda lines: any('front-end connected' in t for t in lines), 10):
                crasher['error'] = f'QEMU did not reconnect after crash {i + 1}'
                return
            log(f'restart: back-end started again and QEMU reconnected, crash {i + 1}')
        crasher['done'] = True
        # The harness starts back-ends with PR_SET_PDEATHSIG, which fires when the
        # *thread* that started them ends: stay until the guest is done.
        crasher['release'].wait()

    def on_sync(value, res):
        if value == 'crash-now':
            t = threading.Thread(target=crash_loop, args=(h.backend,), daemon=True)
            crasher['thread'] = t
            t.start()

    try:
        r = h.boot(SCRIPT, img, num_queues=2, smp=2, reconnect=True, on_sync=on_sync,
                   timeout=150)
    finally:
        crasher['release'].set()
    crasher['thread'].join(30)
    check(crasher.get('done'), crasher.get('error', 'the crash loop did not finish'))
    check(not r.all('write-error'), f'guest writes failed: {r.all("write-error")}')
    check(not r.all('pass-mismatch'), f'read-back differed in passes {r.all("pass-mismatch")}')
    ok = r.all('pass-ok')
    check(len(ok) == PASSES, f'{len(ok)} of {PASSES} passes completed')
    last_sha = ok[-1].split()[1]
    got = harness.sha256(harness.read_image(img)[:REGION])
    check(got == last_sha, 'the image does not hold the last pass the guest wrote')
    resubmitted = 0
    for i in range(1, CRASHES + 1):
        for line in open(f'{h.backend.first_logpath}.restart{i}', errors='replace'):
            if 'resubmitted' in line:
                resubmitted += int(line.split('queue ')[1].split(': ')[1].split()[0])
    check(resubmitted > 0, 'no restart found requests in flight to resubmit (the crashes missed '
          'the I/O; the test proved nothing)')
    log(f'restart: {CRASHES} crashes during {PASSES} write-and-verify passes; {resubmitted} '
        f'requests resubmitted from the inflight log; the image holds the last pass')


if __name__ == '__main__':
    sys.exit(harness.main('restart', __doc__.splitlines()[0], body))
