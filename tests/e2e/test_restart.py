#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""e2e restart: vio-blk is killed with SIGKILL while guest requests are certainly in flight, and
started again; QEMU reconnects (reconnect=1) and hands back the inflight region, so every
request that was in flight is completed by the new process: none lost, none done twice.

The guest runs PASSES passes over a 4 MiB region: each pass writes one of two random data sets
(alternately) with four O_DIRECT writers in parallel (16 KiB requests, several in flight at
once), reads the region back with O_DIRECT and compares checksums.

The image is served through faultfs (tests/faultfs), so that each crash is certain to catch
requests in flight (vio-blk completes page-cache I/O in microseconds: a kill at a random moment
usually finds nothing in flight). Before the writes of each pass in CRASH_PASSES the guest asks
the host to arm, and the host tells faultfs to hold some requests, answers, and waits until
faultfs holds one: vio-blk has popped that request (it is in the inflight log) and cannot
complete it. Two kinds of crash, alternately:
  - writes: faultfs lets N writes of the pass through and holds every later one (a different
    N each time, so the crashes land at different points of a pass): several writes are in
    flight on both queues;
  - read: a fifth process reads the 1 MiB after the region while the four writers write, all
    on CPU 0 (one queue); faultfs holds one of its reads, and the host waits until 32 more
    writes have completed on that queue. The used ring has then moved past the held request:
    only the inflight log says it is still owed (without it, QEMU's fallback of restarting
    the ring at the used index would skip it and the reader would hang). The reader's data is
    checked.
The host then sends SIGKILL, releases what faultfs holds (a process killed in a FUSE request
exits only once it is answered), waits until faultfs has no request of the dead process left
(so none lands later), and starts vio-blk again. At every restart the new process must log
that it resubmitted requests from the inflight log, at least as many as faultfs held.

A lost request hangs the guest (the test times out, or the restart never logs a resubmission);
a stale write done again after a newer one shows as a checksum mismatch. At the end the host
checks that the image holds exactly the last pass's data.
"""

import queue
import sys
import threading
import time

sys.dont_write_bytecode = True   # no __pycache__ in the source tree
import harness  # noqa: E402
from harness import MiB, Fail, check, log

SIZE = 64 * MiB
REGION = 4 * MiB
BS = 16 * 1024
BLOCKS = REGION // BS          # writes per pass: 256
PASSES = 14
# The passes interrupted by a crash, and how:
#   ('writes', N): faultfs lets N writes of the pass through and holds all later ones
#   ('read', K):   a reader runs with the writers, all on CPU 0 (so on one queue); faultfs
#                  holds the reader's K-th request, and the host waits until 32 more writes
#                  completed on that queue: the used ring has moved past the held request
CRASH_PASSES = {2: ('writes', 0), 4: ('read', 2), 6: ('writes', 107), 8: ('read', 5),
                10: ('writes', 239)}
CRASHES = len(CRASH_PASSES)
SETTLE = 0.05                  # seconds between the first held write and the kill
READ_BLOCKS = 64               # the reader's requests: the 1 MiB after the region
PAST = 32                      # writes completed around a held read before the kill

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
	case " {' '.join(str(p) for p in sorted(CRASH_PASSES))} " in
	*" $pass "*) e2e_host_sync arm-$pass ;;
	esac
	pin=""
	case " {' '.join(str(p) for p, c in sorted(CRASH_PASSES.items()) if c[0] == 'read')} " in
	*" $pass "*)
		# a reader on CPU 0 with the writers: requests complete around its held one
		pin="taskset -c 0"
		$pin dd if=/dev/vda of=/tmp/rd bs={BS} skip={BLOCKS} count={READ_BLOCKS} iflag=direct \\
			status=none &
		rpid=$!
		;;
	esac
	pids=""
	for w in 0 1 2 3; do
		$pin dd if=$src of=/dev/vda bs={BS} skip=$((w * q)) seek=$((w * q)) count=$q \\
			oflag=direct conv=notrunc status=none &
		pids="$pids $!"
	done
	for p in $pids; do
		wait $p || e2e_report write-error "pass $pass"
	done
	if [ -n "$pin" ]; then
		wait $rpid || e2e_report read-error "pass $pass"
		e2e_report reader "$pass $(e2e_sha /tmp/rd)"
	fi
	got=$(e2e_sha /dev/vda bs={BS} count=$n iflag=direct)
	if [ "$got" = "$want" ]; then
		e2e_report pass-ok "$pass $want"
	else
		e2e_report pass-mismatch "$pass"
	fi
	pass=$((pass + 1))
done
'''


def resubmitted_in(lines):
    """The number of requests a restarted vio-blk says it resubmitted, summed over queues (or
    None when it said nothing), from lines like "vhost-user: queue 1: 3 requests in flight
    before a restart are resubmitted"."""
    total = None
    for text in lines:
        if 'requests in flight before a restart are resubmitted' in text:
            n = int(text.split('queue ')[1].split(': ')[1].split()[0])
            total = (total or 0) + n
    return total


def body(h):
    if h.args.backend != 'vio':
        raise harness.Skip('restart checks what vio-blk logs about resubmitted requests; it is '
                           'for --backend=vio only')
    harness.need_faultfs(h.args)
    img = h.path('disk.img')
    harness.write_file(img, harness.pattern('before', SIZE))
    ff = harness.FaultFS(h.args, img, h.path('faultfs.log'))
    work = queue.Queue()          # crashes to do: (pass, kind, n)
    crashes = []                  # per crash: {pass, held, resubmitted, ...}
    state = {'error': None}
    release = threading.Event()
    idle = threading.Event()      # no crash in progress
    idle.set()

    def crash_one(pass_no, kind, n):
        be = h.backend
        st = ff.wait_status(lambda s: s['held'] >= 1, 30,
                            f'a held request in pass {pass_no} ({kind} {n})')
        if kind == 'writes':
            time.sleep(SETTLE)    # let the other writers' requests queue up behind it
        else:
            # the held read stays in flight while later requests of its queue complete
            ff.wait_status(lambda s: s['writes'] >= st['writes'] + PAST, 30,
                           f'{PAST} writes completing around the held read in pass {pass_no}')
        held = ff.status()['held']
        check(be.alive(), f'pass {pass_no}: the back-end died before the kill')
        rc = be.crash(after_kill=lambda: ff.set_rules([]))
        check(rc == -9, f'pass {pass_no}: the back-end exited with {rc}, not by SIGKILL')
        # The dead process's I/O all answered: none of its writes can land after the restart.
        ff.wait_status(lambda s: s['inflight_writes'] == 0 and s['inflight_reads'] == 0 and
                       s['held'] == 0, 10, 'the end of the dead back-end\'s I/O')
        log(f'restart: pass {pass_no} ({kind}): killed with {held} request(s) held'
            f' in faultfs ({st["writes"]} writes so far); starting again')
        be.restart()
        if not be.err.wait_for(lambda lines: any('front-end connected' in t for t in lines),
                               15):
            raise Fail(f'pass {pass_no}: QEMU did not reconnect after the crash')
        check(be.err.wait_for(resubmitted_in, 15),
              f'pass {pass_no}: the restarted back-end resubmitted nothing from the inflight '
              f'log, though {held} requests were held in flight when it was killed')
        log(f'restart: pass {pass_no}: QEMU reconnected; the new back-end resubmits requests')
        crashes.append({'pass': pass_no, 'kind': kind, 'held': held, 'log': be.logpath})

    def crasher():
        # The harness starts back-ends with PR_SET_PDEATHSIG, which fires when the *thread*
        # that started them ends: this thread restarts them, so it stays until the guest is
        # done (release).
        while not release.is_set():
            try:
                item = work.get(timeout=0.1)
            except queue.Empty:
                continue
            try:
                crash_one(*item)
            except Exception as e:  # noqa: BLE001 - reported by the main thread
                state['error'] = f'{e}'
                log(f'restart: ERROR: {e}')
                ff.set_rules([])   # never leave the guest stuck behind a hold
                h.abort_boot(f'{e}')   # and do not wait for a guest that lost requests
            finally:
                idle.set()
        release.wait()

    def on_sync(value, res):
        if not value.startswith('arm-'):
            return
        pass_no = int(value[4:])
        if not idle.wait(30):
            state['error'] = f'pass {pass_no}: the previous crash never finished'
            h.abort_boot(state['error'])
            return
        if state['error']:
            return            # no more crashes after a failure; the guest finishes
        idle.clear()
        kind, n = CRASH_PASSES[pass_no]
        if kind == 'writes':
            ff.set_rules([f'hold-writes={n}'])
        else:
            ff.set_rules([f'hold-read={REGION + n * BS}+{BS}'])
        work.put((pass_no, kind, n))

    ff.start()
    t = threading.Thread(target=crasher, daemon=True)
    t.start()
    try:
        r = h.boot(SCRIPT, ff.image, num_queues=2, smp=2, reconnect=True, on_sync=on_sync,
                   timeout=120, backend_args=[f'--aio={h.args.aio}'] if h.args.aio else [])
    finally:
        release.set()
        t.join(30)
        try:
            stats = ff.status()
        except OSError:
            stats = {}
        ff.stop()
    check(state['error'] is None, state['error'])
    check(len(crashes) == CRASHES, f'{len(crashes)} of {CRASHES} crashes happened')
    check(not r.all('write-error'), f'guest writes failed: {r.all("write-error")}')
    check(not r.all('pass-mismatch'), f'read-back differed in passes {r.all("pass-mismatch")}')
    check(not r.all('read-error'), f'guest reads failed: {r.all("read-error")}')
    want_rd = harness.sha256(harness.pattern('before', READ_BLOCKS * BS, REGION))
    readers = r.all('reader')
    check(len(readers) == sum(1 for c in CRASH_PASSES.values() if c[0] == 'read'),
          f'the guest reported {len(readers)} reader passes')
    for v in readers:
        p, sha = v.split()
        check(sha == want_rd, f'pass {p}: the reader interrupted by the crash read wrong data')
    ok = r.all('pass-ok')
    check(len(ok) == PASSES, f'{len(ok)} of {PASSES} passes completed')
    last_sha = ok[-1].split()[1]
    got = harness.sha256(harness.read_image(img)[:REGION])
    check(got == last_sha, 'the image does not hold the last pass the guest wrote')
    # faultfs saw every write of every pass at least once (resubmitted ones twice)
    check(stats.get('writes', 0) >= PASSES * BLOCKS,
          f'faultfs saw {stats.get("writes")} writes, fewer than the {PASSES * BLOCKS} the '
          f'guest made: the image was not served through it')
    # Every write faultfs held when the back-end died was a request in flight: the restarted
    # back-end must have resubmitted at least as many (summed over the queues, from its log).
    for c in crashes:
        with open(c['log'], errors='replace') as f:
            c['resubmitted'] = resubmitted_in(f.read().splitlines()) or 0
        check(c['resubmitted'] >= c['held'],
              f'pass {c["pass"]}: {c["held"]} requests were held in flight at the kill, but the '
              f'restarted back-end resubmitted only {c["resubmitted"]} requests')
    total = sum(c['resubmitted'] for c in crashes)
    log(f'restart: {CRASHES} crashes, each with requests in flight ('
        + ', '.join(f'pass {c["pass"]} ({c["kind"]}): {c["held"]} held, {c["resubmitted"]} '
                    f'resubmitted' for c in crashes)
        + f'); {total} requests resubmitted in all; {PASSES} passes verified; the image holds '
        f'the last pass')


def add_args(ap):
    ap.add_argument('--aio', choices=['io_uring', 'threads'],
                    help="vio-blk's I/O engine (default: vio-blk's default)")


if __name__ == '__main__':
    sys.exit(harness.main(lambda a: 'restart' + (f'-{a.aio}' if a.aio else ''),
                          __doc__.splitlines()[0], body, add_args=add_args))
