#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""faultfs checked by itself, without a guest: pass-through of reads, writes, fsync and
fallocate (punch hole, zero range); EIO for exactly the bytes of a range; failing syncs; a
control file rewritten while it runs (and one that does not parse); delays; held writes (all
after a count, or by range) and held reads; unmounting with fusermount3 -u.

    python3 tests/faultfs/test_faultfs.py build/tests/faultfs/faultfs

Exit status 0 pass, 1 fail, 77 skip (no /dev/fuse or fusermount3).
"""

import ctypes
import errno
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

SECT = 512
SIZE = 1 << 20
FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_ZERO_RANGE = 0x10

libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]


def fallocate(fd, mode, off, length):
    if libc.fallocate(fd, mode, off, length) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def mounted(path):
    with open('/proc/self/mounts') as f:
        return any(line.split()[1] == path for line in f)


class FS:
    def __init__(self, binary, top, args=()):
        self.top = top
        self.backing = os.path.join(top, 'backing.img')
        self.mnt = os.path.join(top, 'mnt')
        self.control = os.path.join(top, 'control')
        self.img = os.path.join(self.mnt, 'disk.img')
        os.makedirs(self.mnt, exist_ok=True)
        self.logf = open(os.path.join(top, 'faultfs.log'), 'ab')
        self.proc = subprocess.Popen([binary, f'--control={self.control}', *args,
                                      self.backing, self.mnt],
                                     stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not (mounted(self.mnt) and os.path.exists(self.img)):
            check(self.proc.poll() is None, f'faultfs exited with {self.proc.returncode}')
            check(time.monotonic() < deadline, 'faultfs did not mount within 10 s')
            time.sleep(0.02)
        self.gen = self.status()['generation']

    def status(self):
        with open(os.path.join(self.mnt, 'status')) as f:
            return {k: int(v) for k, _, v in (kv.partition('=') for kv in f.read().split())}

    def rules(self, lines):
        with open(self.control + '.tmp', 'w') as f:
            f.write(''.join(f'{l}\n' for l in lines))
        os.replace(self.control + '.tmp', self.control)
        deadline = time.monotonic() + 5
        while self.status()['generation'] == self.gen:
            check(time.monotonic() < deadline, f'faultfs did not load {lines}')
            time.sleep(0.01)
        self.gen = self.status()['generation']

    def log(self):
        with open(os.path.join(self.top, 'faultfs.log'), errors='replace') as f:
            return f.read()

    def stop(self):
        r = subprocess.run(['fusermount3', '-u', self.mnt], capture_output=True, text=True)
        check(r.returncode == 0, f'fusermount3 -u: {r.stderr.strip()}')
        try:
            rc = self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Fail('faultfs did not exit within 5 s of the unmount')
        self.logf.close()
        check(rc == 0, f'faultfs exited with status {rc} after the unmount')
        check(not mounted(self.mnt), 'still mounted after faultfs exited')

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()   # our own child, by its PID; auto_unmount cleans up
            self.proc.wait()
        if mounted(self.mnt):
            subprocess.run(['fusermount3', '-u', '-z', self.mnt], capture_output=True)


def eio(fn):
    try:
        fn()
    except OSError as e:
        return e.errno == errno.EIO
    return False


def run(binary, top):
    backing = os.path.join(top, 'backing.img')
    data = os.urandom(SIZE)
    with open(backing, 'wb') as f:
        f.write(data)
    r_off, r_len = 7 * SECT, 3 * SECT        # reads fail in sectors 7..9
    w_off, w_len = 21 * SECT, 2 * SECT       # writes fail in sectors 21..22
    fs = FS(binary, top, [f'--read-eio={r_off}+{r_len}', f'--write-eio={w_off}+{w_len}'])
    try:
        fd = os.open(fs.img, os.O_RDWR)
        check(os.fstat(fd).st_size == SIZE, 'the disk file has the wrong size')
        # reads: sector by sector, and larger reads around the range
        for s in range(3, 14):
            bad = r_off <= s * SECT < r_off + r_len
            if bad:
                check(eio(lambda: os.pread(fd, SECT, s * SECT)), f'read of sector {s} did not '
                      'fail with EIO')
            else:
                check(os.pread(fd, SECT, s * SECT) == data[s * SECT:(s + 1) * SECT],
                      f'read of sector {s} returned the wrong bytes')
        check(os.pread(fd, r_off, 0) == data[:r_off], 'read ending at the range failed')
        check(os.pread(fd, 4096, r_off + r_len) == data[r_off + r_len:r_off + r_len + 4096],
              'read starting after the range failed')
        check(eio(lambda: os.pread(fd, 2, r_off + r_len - 1)), 'a 2-byte read touching the '
              'last byte of the range did not fail')
        # writes: the failing ones change nothing
        new = os.urandom(SIZE)
        for s in range(17, 27):
            bad = w_off <= s * SECT < w_off + w_len
            chunk = new[s * SECT:(s + 1) * SECT]
            if bad:
                check(eio(lambda: os.pwrite(fd, chunk, s * SECT)), f'write of sector {s} did '
                      'not fail with EIO')
            else:
                check(os.pwrite(fd, chunk, s * SECT) == SECT, f'write of sector {s} failed')
        with open(backing, 'rb') as f:
            back = f.read()
        for s in range(17, 27):
            bad = w_off <= s * SECT < w_off + w_len
            want = (data if bad else new)[s * SECT:(s + 1) * SECT]
            check(back[s * SECT:(s + 1) * SECT] == want, f'backing sector {s} is wrong after '
                  'the writes')
        check(eio(lambda: fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                    w_off - 4096 + 512, 4096)),
              'a punch hole touching the write range did not fail')
        os.fsync(fd)
        os.fdatasync(fd)
        st = fs.status()
        check(st['eio_reads'] == 4 and st['eio_writes'] == 3,
              f'status counts the wrong number of faults: {st}')

        # fallocate passes through
        fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 256 * 1024, 128 * 1024)
        fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 512 * 1024, 8192)
        with open(backing, 'rb') as f:
            back = f.read()
        check(back[256 * 1024:384 * 1024] == bytes(128 * 1024), 'punched range not zero')
        check(back[512 * 1024:512 * 1024 + 8192] == bytes(8192), 'zeroed range not zero')
        bfd = os.open(backing, os.O_RDONLY)
        hole = os.lseek(bfd, 256 * 1024, os.SEEK_HOLE)
        os.close(bfd)
        check(hole == 256 * 1024, 'the punched range is not a hole in the backing file')
        check(len(back) == SIZE, 'fallocate changed the size')

        # the control file: sync-eio and no ranges; then back to the command line
        fs.rules(['# a comment', 'sync-eio', ''])
        check(eio(lambda: os.fsync(fd)) and eio(lambda: os.fdatasync(fd)),
              'fsync / fdatasync did not fail with sync-eio')
        check(os.pread(fd, SECT, r_off) == data[r_off:r_off + SECT],
              'the control file did not replace the command-line read range')
        gen = fs.gen
        with open(fs.control + '.tmp', 'w') as f:
            f.write('sync-eio\nbogus-rule=1\n')
        os.replace(fs.control + '.tmp', fs.control)
        time.sleep(0.05)
        check(fs.status()['generation'] == gen, 'a bad control file was loaded')
        check('line 2: unknown rule' in fs.log(), 'a bad control file was not reported')
        check(eio(lambda: os.fsync(fd)), 'a bad control file dropped the previous rules')
        os.unlink(fs.control)
        deadline = time.monotonic() + 5
        while fs.status()['generation'] == gen:
            check(time.monotonic() < deadline, 'removing the control file changed nothing')
            time.sleep(0.01)
        fs.gen = fs.status()['generation']
        os.fsync(fd)
        check(eio(lambda: os.pread(fd, SECT, r_off)), 'the command-line rules did not come '
              'back when the control file went away')

        # delay
        fs.rules(['delay-ms=150', 'delay-ops=write'])
        t0 = time.monotonic()
        os.pwrite(fd, b'x' * SECT, 0)
        check(time.monotonic() - t0 >= 0.14, 'delay-ms=150 did not delay a write')
        t0 = time.monotonic()
        os.pread(fd, SECT, 0)
        check(time.monotonic() - t0 < 0.1, 'delay-ops=write delayed a read')

        # hold: one write through, the next held until the rule goes
        fs.rules(['hold-writes=1'])
        os.pwrite(fd, b'a' * SECT, 0)
        done = []
        t = threading.Thread(target=lambda: done.append(os.pwrite(fd, b'b' * SECT, SECT)))
        t.start()
        deadline = time.monotonic() + 5
        while fs.status()['held'] != 1:
            check(time.monotonic() < deadline, 'the second write was not held')
            time.sleep(0.01)
        time.sleep(0.1)
        check(not done and fs.status()['inflight_writes'] == 1, 'a held write completed')
        fs.rules([])
        t.join(5)
        check(done == [SECT], 'the held write did not complete once released')
        check(fs.status()['held'] == 0, 'status still counts a held write')

        # hold-read: only the reads touching the range wait; other reads and writes go on
        fs.rules([f'hold-read={4 * SECT}+{SECT}'])
        done = []
        t = threading.Thread(target=lambda: done.append(os.pread(fd, 1024, 3 * SECT)))
        t.start()
        deadline = time.monotonic() + 5
        while fs.status()['held'] != 1:
            check(time.monotonic() < deadline, 'the read touching the hold range was not held')
            time.sleep(0.01)
        check(os.pwrite(fd, b'd' * SECT, 4 * SECT) == SECT and
              len(os.pread(fd, SECT, 5 * SECT)) == SECT, 'I/O next to a held read waited')
        check(not done and fs.status()['held'] == 1, 'the held read completed')
        fs.rules([])
        t.join(5)
        check(done and len(done[0]) == 1024, 'the held read did not complete once released')

        # hold-write: the writes touching the range wait (others may wait behind them in the
        # kernel, which serializes direct writes to a FUSE file)
        fs.rules([f'hold-write={4 * SECT}+{SECT}'])
        check(os.pwrite(fd, b'e' * SECT, 5 * SECT) == SECT, 'a write next to the range waited')
        done = []
        t = threading.Thread(target=lambda: done.append(os.pwrite(fd, b'c' * 1024, 3 * SECT)))
        t.start()
        deadline = time.monotonic() + 5
        while fs.status()['held'] != 1:
            check(time.monotonic() < deadline, 'the write touching the hold range was not held')
            time.sleep(0.01)
        time.sleep(0.05)
        check(not done, 'the held write completed')
        fs.rules([])
        t.join(5)
        check(done == [1024], 'the held write did not complete once released')
        with open(backing, 'rb') as f:
            f.seek(3 * SECT)
            check(f.read(3 * SECT) == b'c' * 1024 + b'e' * SECT, 'the held write or the one '
                  'next to it did not land')
        os.close(fd)
        fs.stop()
    except BaseException:
        fs.kill()
        raise


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    binary = os.path.abspath(sys.argv[1])
    missing = [w for w, ok in (('/dev/fuse', os.path.exists('/dev/fuse')),
                               ('fusermount3 (install fuse3)', shutil.which('fusermount3')))
               if not ok]
    if missing:
        print(f'faultfs: SKIP: missing: {", ".join(missing)}')
        return 77
    top = tempfile.mkdtemp(prefix='vio-faultfs-test-')
    t0 = time.monotonic()
    try:
        run(binary, top)
    except Fail as e:
        print(f'faultfs: FAIL: {e}')
        try:
            with open(os.path.join(top, 'faultfs.log'), errors='replace') as f:
                print(''.join(f'  {l}' for l in f.readlines()[-20:]))
        except OSError:
            pass
        return 1
    finally:
        shutil.rmtree(top, ignore_errors=True)
    print(f'faultfs: PASS in {time.monotonic() - t0:.1f}s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
