#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The e2e harness: boots a Debian guest under QEMU (TCG) on a vhost-user-blk back-end.

One boot (Harness.boot) is: start the back-end on a disk image and wait until its socket
listens; start QEMU with the kernel, the base initramfs plus the test's /test.sh, the serial
console on a pipe; answer the guest's sync requests; wait for power-off under a deadline; stop
the back-end with SIGTERM. The guest reports results as console lines "@@E2E <key> <value>";
the test then checks them and the image against what the host knows.

Back-ends:
  --backend=vio --vio-blk=PATH   PATH --socket-path=SOCK --blk-file=IMG [--read-only]
                                 [--num-queues=N] [--discard] [--write-zeroes]
  --backend=qsd                  qemu-storage-daemon --blockdev file ... --export vhost-user-blk
The environment variable VIO_E2E_BACKEND=qsd|vio overrides --backend (so `meson test --suite
e2e` can be pointed at qemu-storage-daemon).

Exit codes: 0 pass, 1 fail, 77 skip (a host tool is missing; the message says which).
"""

import argparse
import ctypes
import hashlib
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mkinitramfs  # noqa: E402

SKIP = 77
MiB = 1 << 20
GUEST_MEM = '512M'
COUNTER_RE = re.compile(r'queue (\d+): (.*)$')


class Fail(Exception):
    """The test's result is wrong."""


class Skip(Exception):
    """A host tool the test needs is missing."""


def check(cond, msg):
    if not cond:
        raise Fail(msg)


QUIET = False   # the demo tells its own story


def log(msg):
    if not QUIET:
        print(f'e2e: {msg}', flush=True)


# ---------------------------------------------------------------------------------------------
# Data patterns and image helpers

def pattern(seed, nbytes, start=0):
    """Deterministic bytes: each 512-byte block at absolute offset B is sha256("seed:B/512")
    repeated 16 times, so any misplaced block is detectable. @start and @nbytes are multiples of
    512 (@start is the offset the bytes are meant for)."""
    assert start % 512 == 0 and nbytes % 512 == 0
    out = bytearray(nbytes)
    first = start // 512
    for i in range(nbytes // 512):
        out[i * 512:(i + 1) * 512] = hashlib.sha256(f'{seed}:{first + i}'.encode()).digest() * 16
    return bytes(out)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def file_sha256(path, offset=0, length=None):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        f.seek(offset)
        left = length if length is not None else float('inf')
        while left > 0:
            chunk = f.read(int(min(MiB, left)))
            if not chunk:
                break
            h.update(chunk)
            left -= len(chunk)
    return h.hexdigest()


def read_image(path):
    with open(path, 'rb') as f:
        return f.read()


def first_difference(got, want, base=0):
    """None if equal, else a description of the first differing byte and the extent of the
    difference."""
    if got == want:
        return None
    if len(got) != len(want):
        return f'length {len(got)} != expected {len(want)}'
    n = len(want)
    i = next(j for j in range(0, n, 512) if got[j:j + 512] != want[j:j + 512])
    k = next(j for j in range(i, i + 512) if got[j] != want[j])
    bad = sum(1 for j in range(0, n, 512) if got[j:j + 512] != want[j:j + 512])
    return (f'first difference at byte {base + k} (block {(base + k) // 512}): got '
            f'{got[k:k + 8].hex()} want {want[k:k + 8].hex()}; {bad} of {n // 512} '
            f'512-byte blocks differ')


def write_file(path, data):
    with open(path, 'wb') as f:
        f.write(data)


# ---------------------------------------------------------------------------------------------
# Processes

def _pdeathsig():
    """In the child: get SIGKILL if the harness dies, so nothing is left behind. (The signal
    comes when the *thread* that started the child ends: start children from threads that
    outlive them.)"""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort
        pass


class LineLog:
    """Reads a child's output stream in a thread, writes it to a log file, keeps the lines with
    their arrival times, and calls @on_line for each."""

    def __init__(self, stream, path, on_line=None, echo=False):
        self.stream = stream
        self.path = path
        self.lines = []   # (monotonic time, text)
        self.cond = threading.Condition()
        self.on_line = on_line
        self.echo = echo
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        with open(self.path, 'wb') as out:
            partial = b''
            while True:
                data = self.stream.read1(65536) if hasattr(self.stream, 'read1') \
                    else self.stream.read(4096)
                if not data:
                    break
                out.write(data)
                out.flush()
                partial += data
                *done, partial = partial.split(b'\n')
                for raw in done:
                    self._line(raw)
            if partial:
                self._line(partial)
        with self.cond:
            self.cond.notify_all()

    def _line(self, raw):
        text = raw.decode('utf-8', 'replace').replace('\r', '')
        with self.cond:
            self.lines.append((time.monotonic(), text))
            self.cond.notify_all()
        if self.echo:
            print(f'  | {text}', flush=True)
        if self.on_line:
            try:
                self.on_line(text)
            except Exception as e:  # noqa: BLE001 - reported by the caller
                self.error = e
                print(f'e2e: error handling console line {text!r}: {e!r}', flush=True)

    def wait_for(self, predicate, timeout, start_index=0):
        """Waits until predicate(lines[start_index:]) is true; returns it, or None on timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                res = predicate([t for _, t in self.lines[start_index:]])
                if res:
                    return res
                left = deadline - time.monotonic()
                if left <= 0 or (not self.thread.is_alive() and
                                 predicate([t for _, t in self.lines[start_index:]]) is None):
                    return None
                self.cond.wait(min(left, 0.1))

    def tail(self, n=40):
        with self.cond:
            return [t for _, t in self.lines[-n:]]

    def count(self):
        with self.cond:
            return len(self.lines)

    def join(self, timeout=5):
        self.thread.join(timeout)


def unix_listening(path):
    """True when a socket bound to @path is listening (from /proc/net/unix, without connecting:
    a probe connection would look like a front-end to the back-end)."""
    try:
        with open('/proc/net/unix') as f:
            next(f)
            for line in f:
                parts = line.split()
                if len(parts) >= 8 and parts[7] == path and int(parts[3], 16) & 0x10000:
                    return True
    except OSError:
        return os.path.exists(path) and stat.S_ISSOCK(os.stat(path).st_mode)
    return False


def kill_and_reap(proc, sig=signal.SIGKILL, wait=5.0):
    """Sends @sig to @proc (by its PID) if it still runs, and reaps it; SIGKILL if it lingers."""
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode


class Backend:
    """A vhost-user-blk back-end process serving one image on one socket."""

    def __init__(self, args, image, sock, logpath, read_only=False, num_queues=1,
                 discard=False, write_zeroes=False, extra_args=()):
        self.kind = args.backend
        self.image = image
        self.sock = sock
        self.logpath = logpath
        self.num_queues = num_queues
        self.proc = None
        self.err = None
        self.term_rc = None
        if self.kind == 'vio':
            self.cmd = [args.vio_blk, f'--socket-path={sock}', f'--blk-file={image}']
            if read_only:
                self.cmd.append('--read-only')
            self.cmd.append(f'--num-queues={num_queues}')
            if discard:
                self.cmd.append('--discard')
            if write_zeroes:
                self.cmd.append('--write-zeroes')
            self.cmd += list(extra_args)   # e.g. --aio=threads, --log-level=debug
        else:
            blockdev = f'driver=file,node-name=disk,filename={image}'
            if discard:
                blockdev += ',discard=unmap'
            if read_only:
                blockdev += ',read-only=on'
            export = ('type=vhost-user-blk,id=exp,node-name=disk,addr.type=unix,'
                      f'addr.path={sock},writable={"off" if read_only else "on"},'
                      f'num-queues={num_queues}')
            self.cmd = [args.qsd, '--blockdev', blockdev, '--export', export]

    @property
    def has_counters(self):
        return self.kind == 'vio'

    def start(self, timeout=10.0):
        t0 = time.monotonic()
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, preexec_fn=_pdeathsig)
        self.err = LineLog(self.proc.stdout, self.logpath)
        deadline = t0 + timeout
        while not unix_listening(self.sock):
            if self.proc.poll() is not None:
                self.err.join()
                raise Fail(f'back-end exited with status {self.proc.returncode} before its '
                           f'socket was ready: {" ".join(self.cmd)}')
            if time.monotonic() > deadline:
                raise Fail(f'back-end socket {self.sock} not listening after {timeout:.0f} s')
            time.sleep(0.02)
        return time.monotonic() - t0

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def crash(self, after_kill=None):
        """SIGKILL, as a crash would: no clean-up at all. Returns the exit status.
        @after_kill, if given, is called once the signal is sent and before the process is
        reaped (e.g. to release I/O that faultfs holds: a process killed in the middle of a
        FUSE request exits only when the request is answered)."""
        os.kill(self.proc.pid, signal.SIGKILL)
        if after_kill:
            after_kill()
        self.proc.wait()
        self.err.join()
        self.crashes = getattr(self, 'crashes', 0) + 1
        return self.proc.returncode

    def restart(self, timeout=10.0):
        """Starts the back-end again on the same socket (a stale socket file is left by the
        crash); its output goes to a new log. Returns the seconds until it listened."""
        self.first_logpath = getattr(self, 'first_logpath', self.logpath)
        self.logpath = f'{self.first_logpath}.restart{self.crashes}'
        return self.start(timeout)

    def counters(self, timeout=3.0):
        """Sends SIGUSR1 and returns the per-queue counter lines it prints, as a list of
        {name: int} indexed by queue, or None (no counters from this back-end, or none came)."""
        if not self.has_counters or not self.alive():
            return None
        start = self.err.count()

        def got_all(lines):
            seen = {}
            for text in lines:
                m = COUNTER_RE.search(text)
                if m:
                    seen[int(m.group(1))] = m.group(2)
            return seen if len(seen) >= self.num_queues else None

        os.kill(self.proc.pid, signal.SIGUSR1)
        seen = self.err.wait_for(got_all, timeout, start)
        if not seen:
            return None
        out = []
        for q in sorted(seen):
            vals = {}
            for kv in seen[q].split():
                k, _, v = kv.partition('=')
                try:
                    vals[k] = int(v)
                except ValueError:
                    vals[k] = v
            vals['queue'] = q
            out.append(vals)
        return out

    def stop(self, timeout=5.0):
        """SIGTERM, and the exit status (SIGKILL after @timeout: then it is reported as such)."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            self.err.join()
            return self.term_rc if self.term_rc is not None else self.proc.returncode
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
            self.term_rc = self.proc.returncode
        except subprocess.TimeoutExpired:
            kill_and_reap(self.proc)
            self.term_rc = 'killed'
        self.err.join()
        return self.term_rc


class BootResult:
    """What one guest boot reported."""

    def __init__(self):
        self.values = {}     # key -> [value, ...] in order
        self.counters = {}   # sync name -> per-queue counters (vio only)
        self.timing = {}
        self.console = None
        self.backend_rc = None

    def add(self, key, value):
        self.values.setdefault(key, []).append(value)

    def get(self, key, default=None):
        v = self.values.get(key)
        return v[-1] if v else default

    def all(self, key):
        return self.values.get(key, [])

    def need(self, key):
        v = self.get(key)
        if v is None:
            raise Fail(f'the guest did not report "{key}"')
        return v


class Harness:
    def __init__(self, args, name):
        self.args = args
        self.name = name
        layout = '-packed' if args.packed else ''
        self.dir = os.path.join(args.workdir, f'{name}{layout}-{args.backend}')
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.sockdir = tempfile.mkdtemp(prefix='vio-e2e-')
        self.last_console = None
        self.last_backend = None
        self.last_qemu_log = None
        self.boots = []
        self.last_cmds = {}
        self.base, self.kernel, self.release = mkinitramfs.build_base(args.workdir)

    def path(self, name):
        return os.path.join(self.dir, name)

    def cleanup(self, ok):
        shutil.rmtree(self.sockdir, ignore_errors=True)
        if ok and not self.args.keep:
            for f in os.listdir(self.dir):
                if f.endswith('.img'):
                    os.unlink(os.path.join(self.dir, f))

    def boot(self, script, image, files=None, num_queues=1, smp=1, read_only=False,
             discard=False, write_zeroes=False, on_sync=None, tag=None, timeout=None,
             reconnect=False, backend_args=()):
        """Runs one guest boot; returns a BootResult. Raises Fail if anything went wrong on the
        way (back-end, QEMU, timeout, guest script exit status). @backend_args are extra
        vio-blk options (ignored for qsd)."""
        tag = tag or f'boot{len(self.boots) + 1}'
        timeout = timeout or self.args.timeout
        res = BootResult()
        initrd = self.path(f'{tag}-initrd.img')
        mkinitramfs.write_initrd(initrd, self.base, script, files)
        sock = os.path.join(self.sockdir, f'{tag}.sock')
        res.console = self.last_console = self.path(f'{tag}-console.log')
        self.last_backend = self.path(f'{tag}-backend.log')
        self.last_qemu_log = self.path(f'{tag}-qemu.log')
        be = Backend(self.args, image, sock, self.last_backend, read_only=read_only,
                     num_queues=num_queues, discard=discard, write_zeroes=write_zeroes,
                     extra_args=backend_args)
        self.last_cmds['backend'] = be.cmd
        self.backend = be   # tests that crash and restart it reach it here (on_sync)
        qemu = None
        t0 = time.monotonic()
        try:
            log(f'{tag}: back-end: {" ".join(be.cmd)}')
            res.timing['backend-ready'] = be.start()
            qcmd = [self.args.qemu, '-nodefaults', '-no-user-config', '-display', 'none',
                    '-accel', 'tcg', '-M', 'pc', '-smp', str(smp), '-m', GUEST_MEM,
                    '-object', f'memory-backend-memfd,id=mem,size={GUEST_MEM},share=on',
                    '-numa', 'node,memdev=mem',
                    '-chardev', f'socket,id=c0,path={sock}' + (',reconnect=1' if reconnect else ''),
                    '-device', f'vhost-user-blk-pci,chardev=c0,num-queues={num_queues}'
                    + (',packed=on' if self.args.packed else ''),
                    '-kernel', self.kernel, '-initrd', initrd,
                    '-append', 'console=ttyS0 panic=-1 rdinit=/init',
                    '-serial', 'stdio', '-no-reboot']
            self.last_cmds['qemu'] = qcmd
            log(f'{tag}: qemu: {" ".join(qcmd)}')
            tq = time.monotonic()
            qlog = open(self.last_qemu_log, 'wb')
            qemu = subprocess.Popen(qcmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=qlog, preexec_fn=_pdeathsig)
            qlog.close()
            self._qemu, self._abort = qemu, None
            marks = {}

            def on_line(text):
                i = text.find('@@E2E ')
                if i < 0:
                    return
                key, _, value = text[i + 6:].strip().partition(' ')
                res.add(key, value)
                if key not in marks:
                    marks[key] = time.monotonic()
                if key == 'sync':
                    c = be.counters()
                    if c is not None:
                        res.counters[value] = c
                    elif be.has_counters:
                        log(f'{tag}: WARNING: no counter lines from the back-end on SIGUSR1')
                    if on_sync:
                        on_sync(value, res)
                    try:
                        qemu.stdin.write(value.encode() + b'\n')
                        qemu.stdin.flush()
                    except (BrokenPipeError, ValueError):
                        pass

            con = LineLog(qemu.stdout, res.console, on_line, echo=self.args.verbose)
            try:
                qemu.wait(timeout)
            except subprocess.TimeoutExpired:
                kill_and_reap(qemu)
                raise Fail(f'{tag}: the guest did not power off within {timeout:.0f} s '
                           f'(QEMU pid {qemu.pid} killed)')
            con.join()
            if self._abort:
                raise Fail(f'{tag}: {self._abort} (the guest was stopped)')
            if con.error:
                raise Fail(f'{tag}: harness error while serving the guest: {con.error!r}')
            tend = time.monotonic()
            if 'boot' in marks:
                res.timing['guest-boot'] = marks['boot'] - tq
            if 'boot' in marks and 'test-end' in marks:
                res.timing['guest-test'] = marks['test-end'] - marks['boot']
            res.timing['qemu-total'] = tend - tq
            if res.get('boot') is not None:
                res.timing['guest-uptime-at-boot'] = float(res.get('boot'))
            if qemu.returncode != 0:
                raise Fail(f'{tag}: QEMU exited with status {qemu.returncode} (see '
                           f'{self.last_qemu_log}): {"; ".join(self._qemu_err())}')
            if not be.alive():
                raise Fail(f'{tag}: the back-end died during the run (status '
                           f'{be.proc.returncode})')
            c = be.counters()   # after the front-end went away (vio only; informational)
            if c is not None:
                res.counters['after-disconnect'] = c
            res.backend_rc = be.stop()
            if res.backend_rc != 0:
                raise Fail(f'{tag}: the back-end did not exit cleanly on SIGTERM '
                           f'(status {res.backend_rc})')
            res.timing['total'] = time.monotonic() - t0
            for m in res.all('insmod-failed'):
                raise Fail(f'{tag}: the guest could not load module {m}')
            if res.get('error'):
                raise Fail(f'{tag}: guest error: {res.get("error")}')
            check_layout(tag, res.get('features'), self.args.packed)
            check(res.get('exit') is not None, f'{tag}: the guest did not report its test exit')
            check(res.get('exit') == '0',
                  f'{tag}: the guest test script failed with status {res.get("exit")}')
            self.boots.append((tag, res))
            log(f'{tag}: timing ' + ' '.join(f'{k}={v:.2f}s' for k, v in res.timing.items()))
            return res
        finally:
            kill_and_reap(qemu)
            be.stop()   # no-op if already stopped; SIGTERM, then SIGKILL after 5 s

    def abort_boot(self, reason):
        """Ends the running boot now (QEMU is killed, by its PID): boot() then raises Fail with
        @reason. For a test's helper thread that found the run failed, so that the test does not
        wait for a guest that may never finish."""
        qemu = getattr(self, '_qemu', None)
        if qemu is None or qemu.poll() is not None:
            return
        self._abort = reason
        try:
            os.kill(qemu.pid, signal.SIGKILL)   # boot() reaps it
        except ProcessLookupError:
            pass

    def _qemu_err(self):
        try:
            with open(self.last_qemu_log, errors='replace') as f:
                return [l.strip() for l in f if l.strip()][-5:]
        except OSError:
            return []

    def report_failure(self):
        for title, path in (('console', self.last_console), ('back-end', self.last_backend),
                            ('qemu stderr', self.last_qemu_log)):
            if not path or not os.path.exists(path):
                continue
            with open(path, errors='replace') as f:
                lines = f.read().replace('\r', '').splitlines()
            n = 40 if title == 'console' else 25
            if not lines:
                print(f'--- the {title} log ({path}) is empty ---')
                continue
            print(f'--- last {min(n, len(lines))} lines of the {title} log ({path}) ---')
            for l in lines[-n:]:
                print(f'  {l}')


# ---------------------------------------------------------------------------------------------
# Fault injection: faultfs (tests/faultfs, a FUSE filesystem) and a small tmpfs

def need_faultfs(args):
    """Raises Skip unless faultfs is built and FUSE is usable here (/dev/fuse, fusermount3)."""
    missing = []
    if not args.faultfs:
        missing.append('faultfs is not built (install libfuse3-dev and reconfigure; or pass '
                       '--faultfs)')
    elif not os.access(args.faultfs, os.X_OK):
        raise Fail(f'--faultfs={args.faultfs}: not an executable file')
    if not os.path.exists('/dev/fuse'):
        missing.append('/dev/fuse (the fuse kernel module)')
    if not find_program('fusermount3'):
        missing.append('fusermount3 (install fuse3)')
    if missing:
        raise Skip('missing: ' + '; '.join(missing))
    args.faultfs = os.path.abspath(args.faultfs)


def _mounted(path):
    """True when @path is a mount point listed in /proc/self/mounts."""
    try:
        with open('/proc/self/mounts') as f:
            return any(line.split()[1] == path for line in f if len(line.split()) > 1)
    except OSError:
        return os.path.ismount(path)


class FaultFS:
    """faultfs serving @backing as MOUNT/disk.img, with faults from @rules (faultfs's rule
    words, e.g. ['read-eio=4096+512', 'sync-eio', 'delay-ms=20']). The rules can be replaced
    while it runs (set_rules: through its control file); status() reads its counters. Start
    it with start(), end it with stop() (fusermount3 -u, then the process is reaped; it is
    only ever signalled by its PID)."""

    def __init__(self, args, backing, logpath, rules=()):
        self.binary = args.faultfs
        self.backing = backing
        self.logpath = logpath
        self.dir = tempfile.mkdtemp(prefix='vio-faultfs-')
        self.mnt = os.path.join(self.dir, 'mnt')
        self.control = os.path.join(self.dir, 'control')
        os.mkdir(self.mnt)
        self.image = os.path.join(self.mnt, 'disk.img')
        self.status_path = os.path.join(self.mnt, 'status')
        self.rules = list(rules)
        self.proc = None
        self.log = None
        self._gen = 0

    def start(self, timeout=10.0):
        self.cmd = [self.binary, f'--control={self.control}'] + \
            [f'--{r}' for r in self.rules] + [self.backing, self.mnt]
        log(f'faultfs: {" ".join(self.cmd)}')
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, preexec_fn=_pdeathsig)
        self.log = LineLog(self.proc.stdout, self.logpath)
        deadline = time.monotonic() + timeout
        while not (_mounted(self.mnt) and os.path.exists(self.image)):
            if self.proc.poll() is not None:
                self.log.join()
                raise Fail(f'faultfs exited with status {self.proc.returncode} before it '
                           f'mounted: {"; ".join(self.log.tail(5))}')
            if time.monotonic() > deadline:
                raise Fail(f'faultfs did not mount {self.mnt} within {timeout:.0f} s')
            time.sleep(0.02)
        self._gen = self.status()['generation']
        return self

    def status(self):
        """faultfs's counters: {name: int} (generation, reads, writes, syncs, eio_reads,
        eio_writes, eio_syncs, inflight_writes, held, ...)."""
        with open(self.status_path) as f:
            text = f.read()
        return {k: int(v) for k, _, v in (kv.partition('=') for kv in text.split())}

    def set_rules(self, rules, timeout=5.0):
        """Replaces the rules (faultfs rule words); returns once faultfs has loaded them, so
        every request that starts from then on obeys them."""
        tmp = f'{self.control}.tmp'
        with open(tmp, 'w') as f:
            f.write(''.join(f'{r}\n' for r in rules))
        os.replace(tmp, self.control)
        want = self._gen + 1
        deadline = time.monotonic() + timeout
        while True:
            gen = self.status()['generation']   # reading status makes faultfs look
            if gen >= want:
                self._gen = gen
                self.rules = list(rules)
                return
            if time.monotonic() > deadline:
                raise Fail(f'faultfs did not load the new rules {rules} (see {self.logpath})')
            time.sleep(0.01)

    def wait_status(self, predicate, timeout, what):
        """Polls status() until predicate(status) is true; returns that status."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.status()
            if predicate(st):
                return st
            if time.monotonic() > deadline:
                raise Fail(f'faultfs: {what} did not happen within {timeout:.0f} s ({st})')
            time.sleep(0.005)

    def stop(self):
        """Unmounts (fusermount3 -u) and reaps faultfs; the image must no longer be open."""
        if self.proc is None:
            return
        if self.proc.poll() is None and _mounted(self.mnt):
            for _ in range(50):
                r = subprocess.run(['fusermount3', '-u', self.mnt], capture_output=True,
                                   text=True)
                if r.returncode == 0 or not _mounted(self.mnt):
                    break
                time.sleep(0.1)   # busy: a back-end still exiting
            else:
                log(f'faultfs: fusermount3 -u {self.mnt} failed: {r.stderr.strip()}')
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            kill_and_reap(self.proc, signal.SIGTERM)   # auto_unmount cleans the mount up
        self.log.join()
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Tmpfs:
    """A tmpfs of @size bytes mounted on a new temporary directory (root only: raises Skip
    otherwise, or if mounting is not allowed here)."""

    def __init__(self, size):
        self.size = size
        self.dir = None

    def __enter__(self):
        if os.geteuid() != 0:
            raise Skip('mounting a tmpfs needs root (CI runs as root)')
        if not find_program('mount') or not find_program('umount'):
            raise Skip('missing: mount/umount (install mount)')
        self.dir = tempfile.mkdtemp(prefix='vio-tmpfs-')
        r = subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={self.size},mode=0700',
                            'vio-e2e', self.dir], capture_output=True, text=True)
        if r.returncode != 0:
            os.rmdir(self.dir)
            raise Skip(f'cannot mount a tmpfs here: {r.stderr.strip()}')
        return self

    def path(self, name):
        return os.path.join(self.dir, name)

    def __exit__(self, *exc):
        r = subprocess.run(['umount', self.dir], capture_output=True, text=True)
        if r.returncode != 0:
            log(f'tmpfs: umount {self.dir}: {r.stderr.strip()}')
        else:
            os.rmdir(self.dir)


# ---------------------------------------------------------------------------------------------
# Command line

def find_program(name):
    if os.sep in name:
        return name if os.access(name, os.X_OK) else None
    return shutil.which(name)


VIRTIO_F_RING_PACKED = 34


def check_layout(tag, features, packed):
    """The guest driver really negotiated the ring layout asked for (the features string of
    /sys/block/vda/device/features: character i is feature bit i)."""
    check(features and len(features) > VIRTIO_F_RING_PACKED,
          f'{tag}: the guest did not report its negotiated features ({features!r})')
    got = features[VIRTIO_F_RING_PACKED] == '1'
    check(got == packed, f'{tag}: the guest negotiated the {"packed" if got else "split"} '
          f'layout, expected {"packed" if packed else "split"}')


def parser(description):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument('--backend', choices=['vio', 'qsd'], default='vio',
                    help='back-end under test (env VIO_E2E_BACKEND overrides)')
    ap.add_argument('--vio-blk', help='path to the vio-blk daemon (for --backend=vio)')
    ap.add_argument('--qsd', default='qemu-storage-daemon',
                    help='qemu-storage-daemon binary (for --backend=qsd)')
    ap.add_argument('--qemu', default='qemu-system-x86_64', help='QEMU binary')
    ap.add_argument('--workdir', default=os.environ.get(
        'VIO_E2E_WORKDIR', os.path.join(tempfile.gettempdir(), f'vio-e2e-{os.getuid()}')),
        help='cache and log directory (default: $VIO_E2E_WORKDIR or /tmp/vio-e2e-UID)')
    ap.add_argument('--timeout', type=float, default=80.0,
                    help='seconds one guest boot may take before QEMU is killed')
    ap.add_argument('--keep', action='store_true', help='keep the disk images after a pass')
    ap.add_argument('-v', '--verbose', action='store_true', help='echo the guest console')
    ap.add_argument('--packed', action='store_true',
                    help='the packed virtqueue layout (vhost-user-blk-pci packed=on)')
    ap.add_argument('--faultfs', help='the faultfs binary (tests/faultfs), for the tests that '
                    'inject I/O faults')
    return ap


def resolve(args, needs=()):
    """Applies VIO_E2E_BACKEND and checks the host tools; raises Skip or Fail."""
    env = os.environ.get('VIO_E2E_BACKEND')
    if env:
        if env not in ('vio', 'qsd'):
            raise Fail(f'VIO_E2E_BACKEND={env}: expected vio or qsd')
        args.backend = env
    missing = []
    q = find_program(args.qemu)
    if not q:
        missing.append(f'{args.qemu} (install qemu-system-x86)')
    else:
        args.qemu = q
    for tool, pkg in needs:
        if not find_program(tool):
            missing.append(f'{tool} (install {pkg})')
    if args.backend == 'qsd':
        p = find_program(args.qsd)
        if not p:
            missing.append(f'{args.qsd} (install qemu-utils)')
        else:
            args.qsd = p
    try:
        mkinitramfs.check_busybox()
        mkinitramfs.find_kernel()
    except mkinitramfs.Missing as e:
        missing.append(str(e))
    if missing:
        raise Skip('missing: ' + '; '.join(missing))
    if args.backend == 'vio':
        if not args.vio_blk:
            raise Skip('vio-blk is not built (no --vio-blk given); run with VIO_E2E_BACKEND=qsd '
                       'to test against qemu-storage-daemon')
        if not os.access(args.vio_blk, os.X_OK):
            raise Fail(f'--vio-blk={args.vio_blk}: not an executable file')
        args.vio_blk = os.path.abspath(args.vio_blk)
    args.workdir = os.path.abspath(args.workdir)


def main(name, description, body, needs=(), add_args=None):
    """Runs one test: body(harness) raises Fail on a wrong result. Returns the exit code."""
    ap = parser(description)
    if add_args:
        add_args(ap)
    args = ap.parse_args()
    h = None
    ok = False

    def on_term(signum, frame):
        raise Fail(f'killed by signal {signum}')

    signal.signal(signal.SIGTERM, on_term)
    try:
        resolve(args, needs)
        test_name = name(args) if callable(name) else name
        log(f'{test_name}: back-end {args.backend}')
        t0 = time.monotonic()
        h = Harness(args, test_name)
        body(h)
        ok = True
        total = time.monotonic() - t0
        boots = '; '.join(
            f'{tag} boot {r.timing.get("guest-boot", 0):.1f}s test '
            f'{r.timing.get("guest-test", 0):.1f}s qemu {r.timing.get("qemu-total", 0):.1f}s'
            for tag, r in h.boots)
        log(f'PASS {test_name} ({args.backend}) in {total:.1f}s [{boots}]')
        return 0
    except Skip as e:
        print(f'e2e: SKIP: {e}', flush=True)
        return SKIP
    except mkinitramfs.Missing as e:
        print(f'e2e: SKIP: {e}', flush=True)
        return SKIP
    except (Fail, KeyboardInterrupt) as e:
        print(f'e2e: FAIL: {e}', flush=True)
        if h:
            h.report_failure()
        return 1
    except Exception:  # noqa: BLE001 - a bug in the test or the harness is a failure too
        traceback.print_exc()
        print('e2e: FAIL: unexpected error (above)', flush=True)
        if h:
            h.report_failure()
        return 1
    finally:
        if h:
            h.cleanup(ok)
            log(f'logs in {h.dir}')


if __name__ == '__main__':
    print(__doc__)
    print('Run one of the test_*.py scripts next to this file.')
    sys.exit(0)
