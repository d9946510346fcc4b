#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""`vio blk` against a real vhost-user-blk back-end: qemu-storage-daemon or vio-blk.

    interop.py --backend=qsd|vio --num-queues=N --vio=PATH [--vio-blk=PATH] --workdir=DIR CASE

CASE is `suite` (info, write, read, verify with flush, discard and write-zeroes; every
result checked against the image file from the host), `matrix` (verify without
indirect descriptors, without event-idx, with tiny and large queues, one queue,
write-through, no discard / write-zeroes), `rings` (verify over each virtqueue layout
and VIRTIO_F_IN_ORDER on and off, with odd packed queue sizes; a combination the
back-end does not offer is skipped with a message, and --ring=packed must then fail
cleanly), `kill` (the back-end is killed
with SIGKILL in the middle of a long read and of a verify: vio must exit non-zero with an
error, within a few seconds; and stopped with SIGSTOP: vio must give up after --timeout) or `lying` (qsd only: a null-co device that drops writes;
verify must report every block). Exit 0 pass, 1 fail, 77 skip (qemu-storage-daemon missing).
"""
import argparse
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

SKIP = 77
MiB = 1 << 20
IMAGE_SIZE = 64 * MiB
VIO_TIMEOUT = 120  # seconds a vio run may take before the test calls it a hang


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


class Backend:
    """One back-end process serving IMAGE on SOCK; stopped by its PID only."""

    def __init__(self, kind, args, image, sock, num_queues, log):
        self.sock = sock
        if kind in ('qsd', 'qsd-null'):
            # qsd-null: a device that drops every write and reads zeroes.
            node = (f'driver=file,node-name=disk,filename={image},discard=unmap' if kind == 'qsd'
                    else f'driver=null-co,node-name=disk,size={IMAGE_SIZE},read-zeroes=on')
            cmd = ['qemu-storage-daemon', '--blockdev', node, '--export', 'type=vhost-user-blk,id=exp,node-name=disk,addr.type=unix,'
                   f'addr.path={sock},writable=on,num-queues={num_queues}']
        else:
            cmd = [args.vio_blk, f'--socket-path={sock}', f'--blk-file={image}',
                   f'--num-queues={num_queues}', '--discard', '--write-zeroes',
                   '--serial=vio-interop']
        self.log = open(log, 'w')
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while not os.path.exists(sock):
            if self.proc.poll() is not None:
                raise Fail(f'{cmd[0]} exited with {self.proc.returncode} (log: {log})')
            if time.monotonic() > deadline:
                raise Fail(f'{cmd[0]} did not create {sock}')
            time.sleep(0.02)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


def no_sanitizer_report(err, cmd):
    """An ASan / UBSan report fails the test even where vio was meant to fail."""
    check('Sanitizer' not in err and 'runtime error:' not in err,
          f'sanitizer report from {" ".join(cmd)}:\n{err}')


def vio(args, *argv, stdin=None, ok=True):
    """Runs vio; returns (returncode, stdout bytes, stderr text)."""
    cmd = [args.vio] + list(argv)
    try:
        p = subprocess.run(cmd, input=stdin, capture_output=True, timeout=VIO_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise Fail(f'vio hung: {" ".join(cmd)}')
    err = p.stderr.decode(errors='replace')
    no_sanitizer_report(err, cmd)
    if ok and p.returncode != 0:
        raise Fail(f'{" ".join(cmd)} exited {p.returncode}:\n{err}')
    return p.returncode, p.stdout, err


def read_image(image, off, length):
    with open(image, 'rb') as f:
        f.seek(off)
        return f.read(length)


# ---- the suite ----------------------------------------------------------------------------

def case_info(args, sock, nq):
    _, out, _ = vio(args, 'blk', 'info', sock, '--json')
    info = json.loads(out)
    check(info['capacity_bytes'] == IMAGE_SIZE, f'capacity {info["capacity_bytes"]}')
    check(info['capacity_sectors'] * 512 == IMAGE_SIZE, 'capacity in sectors')
    check(info['num_queues'] == nq, f'num_queues {info["num_queues"]}, expected {nq}')
    for name in ('VERSION_1', 'FLUSH', 'DISCARD', 'WRITE_ZEROES'):
        check(name in info['feature_names'], f'{name} not negotiated: {info["feature_names"]}')
    check(info['read_only'] is False, 'read-only')
    check(info['blk_size'] == 512, f'blk_size {info["blk_size"]}')
    check(info['serial'] is not None, 'no serial')
    if args.backend == 'vio':
        check(info['serial'] == 'vio-interop', f'serial {info["serial"]!r}')
    _, out, _ = vio(args, 'blk', 'info', sock)
    text = out.decode()
    check(re.search(r'capacity:\s+131072 sectors \(67108864 bytes\)', text), text)
    check('device features:' in text and 'VERSION_1' in text, text)
    print(f'info: ok ({len(info["feature_names"])} features, serial {info["serial"]!r})')


def case_write(args, sock, image, work):
    data = os.urandom(MiB + 4096)
    path = os.path.join(work, 'in.bin')
    with open(path, 'wb') as f:
        f.write(data)
    vio(args, 'blk', 'write', sock, f'--offset={MiB + 4096}', f'--file={path}')
    check(read_image(image, MiB + 4096, len(data)) == data, 'written data not in the image')
    # From stdin, with --length, at the very end of the device.
    tail = os.urandom(64 * 1024)
    vio(args, 'blk', 'write', sock, f'--offset={IMAGE_SIZE - len(tail)}',
        f'--length={len(tail)}', stdin=tail)
    check(read_image(image, IMAGE_SIZE - len(tail), len(tail)) == tail, 'tail write')
    print('write: ok (file and stdin, image checked from the host)')


def case_read(args, sock, image, work, preset):
    off, data = preset
    _, out, _ = vio(args, 'blk', 'read', sock, f'--offset={off}', f'--length={len(data)}')
    check(out == data, 'read to stdout differs from the image')
    path = os.path.join(work, 'out.bin')
    vio(args, 'blk', 'read', sock, '--offset=0', '--length=8M', f'--file={path}')
    with open(path, 'rb') as f:
        check(f.read() == read_image(image, 0, 8 * MiB), 'read to a file differs')
    print('read: ok (stdout and file, against the image)')


def case_errors(args, sock):
    rc, _, err = vio(args, 'blk', 'read', sock, f'--offset={IMAGE_SIZE}', '--length=512', ok=False)
    check(rc != 0 and 'past the end' in err, f'read past the end: rc {rc}: {err}')
    rc, _, err = vio(args, 'blk', 'read', sock, '--offset=100', '--length=512', ok=False)
    check(rc != 0 and 'multiple' in err, f'misaligned read: rc {rc}: {err}')
    rc, _, err = vio(args, 'blk', 'info', sock, '--num-queues=9', ok=False)
    check(rc != 0 and 'queues' in err, f'too many queues: rc {rc}: {err}')
    print('errors: ok (past the end, misaligned, too many queues)')


def check_pattern(image, seed, skip, length=IMAGE_SIZE):
    """Every 512-byte block of [0, length) outside @skip carries the verify pattern of @seed."""
    bad = 0
    with open(image, 'rb') as f:
        for off in range(0, length, 512):
            b = f.read(512)
            if any(s <= off < s + n for s, n in skip):
                continue
            magic, at, s = struct.unpack_from('<8sQQ', b)
            crc, = struct.unpack_from('<I', b, 24)
            if (magic != b'vioVRFY\0' or at != off or s != seed or
                    crc != zlib.crc32(b[:24] + b'\0\0\0\0' + b[28:])):
                bad += 1
                if bad <= 5:
                    print(f'  host: block at {off} is not the pattern')
    check(bad == 0, f'{bad} blocks of the image do not carry the pattern')


def verify_and_check(args, sock, image, nq, seed, length=IMAGE_SIZE, extra=(), dz=True):
    """vio blk verify, then its output and the image checked; returns the output."""
    _, out, _ = vio(args, 'blk', 'verify', sock, f'--num-queues={nq}', f'--seed={seed}',
                    f'--length={length}', *extra)
    text = out.decode()
    check(text.rstrip().endswith('verify: PASS (0 mismatches, 0 errors)'), text)
    check(f'queues={nq}' in text, text)
    check(text.count('flush: ok') == 2, text)
    wz = re.findall(r'^write-zeroes offset=(\d+) length=(\d+) unmap=(\d) queue=(\d+): ok$',
                    text, re.M)
    dc = re.findall(r'^discard offset=(\d+) length=(\d+) queue=(\d+): ok$', text, re.M)
    if dz:
        check(len(wz) == 2 * nq and {u for _, _, u, _ in wz} == {'0', '1'}, text)
        check(len(dc) == nq and {int(q) for _, _, q in dc} == set(range(nq)), text)
        check('read back zeroes: ok' in text, text)
    else:
        check(not wz and not dc and 'write-zeroes: not negotiated' in text, text)
    zeroed = [(int(o), int(n)) for o, n, _, _ in wz]
    for o, n in zeroed:
        check(read_image(image, o, n) == bytes(n), f'write-zeroes [{o}, +{n}) not zero on the host')
    discarded = [(int(o), int(n)) for o, n, _ in dc]
    check_pattern(image, seed, zeroed + discarded, length)
    return text


def case_verify(args, sock, image, nq):
    verify_and_check(args, sock, image, nq, 1234567 + nq)
    print(f'verify: ok ({nq} queues; pattern, write-zeroes and discard checked on the host)')


def run_suite(args, work):
    image = os.path.join(work, 'disk.img')
    sock = os.path.join(work, 'sock')
    preset = (3 * MiB, os.urandom(2 * MiB))
    with open(image, 'wb') as f:
        f.truncate(IMAGE_SIZE)
        f.seek(preset[0])
        f.write(preset[1])
    be = Backend(args.backend, args, image, sock, args.num_queues, os.path.join(work, 'backend.log'))
    try:
        case_info(args, sock, args.num_queues)
        case_read(args, sock, image, work, preset)
        case_write(args, sock, image, work)
        case_errors(args, sock)
        case_verify(args, sock, image, args.num_queues)
        check(be.proc.poll() is None, 'the back-end died during the suite')
    finally:
        be.stop()


# ---- the ring feature matrix ----------------------------------------------------------------

MATRIX = [
    ['--disable-features=INDIRECT_DESC'],
    ['--disable-features=EVENT_IDX'],
    ['--disable-features=INDIRECT_DESC,EVENT_IDX'],
    ['--queue-size=4'],
    ['--queue-size=4', '--disable-features=INDIRECT_DESC'],
    ['--queue-size=1024', '--depth=1'],
    ['--disable-features=FLUSH'],
]


def run_matrix(args, work):
    image = os.path.join(work, 'disk.img')
    sock = os.path.join(work, 'sock')
    with open(image, 'wb') as f:
        f.truncate(IMAGE_SIZE)
    be = Backend(args.backend, args, image, sock, args.num_queues, os.path.join(work, 'backend.log'))
    try:
        for i, extra in enumerate(MATRIX):
            verify_and_check(args, sock, image, args.num_queues, 1000 + i, 8 * MiB, extra)
            print(f'verify {" ".join(extra)}: ok')
        verify_and_check(args, sock, image, 1, 2000, 8 * MiB, ['--disable-features=MQ'])
        print('verify --disable-features=MQ: ok')
        verify_and_check(args, sock, image, args.num_queues, 2001, 8 * MiB,
                         ['--disable-features=DISCARD,WRITE_ZEROES'], dz=False)
        print('verify --disable-features=DISCARD,WRITE_ZEROES: ok')
        check(be.proc.poll() is None, 'the back-end died during the matrix')
    finally:
        be.stop()


# ---- the ring layouts: split and packed, in-order on and off ------------------------------

# (extra vio arguments, the ring verify must report, what the back-end must offer)
RINGS = [
    (['--ring=packed'], 'packed+in_order', {'RING_PACKED', 'IN_ORDER'}),
    (['--ring=packed', '--disable-features=IN_ORDER'], 'packed', {'RING_PACKED'}),
    (['--ring=split'], 'split+in_order', {'IN_ORDER'}),
    (['--ring=split', '--disable-features=IN_ORDER'], 'split', set()),
    (['--disable-features=RING_PACKED,IN_ORDER'], 'split', set()),
    # Packed Queue Sizes need not be powers of two (VIRTIO 1.4 §2.8).
    (['--ring=packed', '--queue-size=100'], 'packed+in_order', {'RING_PACKED', 'IN_ORDER'}),
    (['--ring=packed', '--queue-size=100', '--disable-features=IN_ORDER'], 'packed',
     {'RING_PACKED'}),
    # Tiny rings: descriptor lists wrap round the ring, the wrap counters flip often.
    (['--ring=packed', '--queue-size=5', '--disable-features=INDIRECT_DESC'], 'packed+in_order',
     {'RING_PACKED', 'IN_ORDER'}),
    (['--ring=packed', '--queue-size=7', '--depth=3',
      '--disable-features=INDIRECT_DESC,EVENT_IDX,IN_ORDER'], 'packed', {'RING_PACKED'}),
    (['--ring=split', '--queue-size=4', '--disable-features=INDIRECT_DESC'], 'split+in_order',
     {'IN_ORDER'}),
    (['--ring=packed', '--disable-features=EVENT_IDX'], 'packed+in_order',
     {'RING_PACKED', 'IN_ORDER'}),
]


def run_rings(args, work):
    image = os.path.join(work, 'disk.img')
    sock = os.path.join(work, 'sock')
    with open(image, 'wb') as f:
        f.truncate(IMAGE_SIZE)
    be = Backend(args.backend, args, image, sock, args.num_queues, os.path.join(work, 'backend.log'))
    try:
        _, out, _ = vio(args, 'blk', 'info', sock, '--json')
        info = json.loads(out)
        offered = set(info['device_feature_names'])
        # Without --ring, packed and in-order whenever offered.
        want = ('packed' if 'RING_PACKED' in offered else 'split') + (
            '+in_order' if 'IN_ORDER' in offered else '')
        check(info['ring'] == want, f'blk info: ring {info["ring"]!r}, expected {want!r}')
        skipped = 0
        for i, (extra, ring, needs) in enumerate(RINGS):
            if not needs <= offered:
                print(f'SKIP verify {" ".join(extra)}: {args.backend} does not offer '
                      f'{", ".join(sorted(needs - offered))} (it offers {" ".join(sorted(offered))})')
                skipped += 1
                continue
            text = verify_and_check(args, sock, image, args.num_queues, 3000 + i, 8 * MiB, extra)
            check(f' ring={ring}\n' in text, f'expected ring={ring}:\n{text}')
            print(f'verify {" ".join(extra)}: ok (ring={ring})')
        # A split ring needs a power of two (VIRTIO 1.4 §2.7): refused with a message.
        rc, _, err = vio(args, 'blk', 'verify', sock, '--length=1M', '--ring=split',
                         '--queue-size=100', ok=False)
        check(rc == 1 and 'power of two' in err, f'split ring of 100: rc {rc}: {err}')
        rc, _, err = vio(args, 'blk', 'info', sock, '--ring=packed',
                         '--disable-features=RING_PACKED', ok=False)
        check(rc != 0 and 'contradict' in err, f'--ring=packed without RING_PACKED: rc {rc}: {err}')
        if 'RING_PACKED' not in offered:
            # The user asked for what is not there: say so, do not fall back.
            rc, _, err = vio(args, 'blk', 'verify', sock, '--length=1M', '--ring=packed', ok=False)
            check(rc == 1 and 'does not offer VIRTIO_F_RING_PACKED' in err,
                  f'--ring=packed against a back-end without it: rc {rc}: {err}')
            print('verify --ring=packed: refused (not offered), as it should be')
        check(be.proc.poll() is None, 'the back-end died during the ring matrix')
        print(f'rings: {len(RINGS) - skipped} layouts verified, {skipped} skipped')
    finally:
        be.stop()


# ---- the back-end killed mid-request ------------------------------------------------------

def wait_for(cond, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return False


def kill_during(args, work, name, argv, started):
    """Starts vio, kills the back-end once @started(stdout path) says requests flow."""
    image = os.path.join(work, f'{name}.img')
    sock = os.path.join(work, f'{name}.sock')
    out = os.path.join(work, f'{name}.out')
    with open(image, 'wb') as f:
        f.truncate(64 << 30)  # sparse: a read of it takes long
    be = Backend(args.backend, args, image, sock, args.num_queues, os.path.join(work, f'{name}.log'))
    try:
        with open(out, 'wb') as o:
            p = subprocess.Popen([args.vio] + [a.replace('SOCK', sock).replace('OUT', out)
                                               for a in argv],
                                 stdout=o, stderr=subprocess.PIPE)
        check(wait_for(lambda: started(out), 30), f'{name}: vio did not get going')
        check(p.poll() is None, f'{name}: vio finished before the back-end could be killed')
        be.kill()
        t0 = time.monotonic()
        try:
            _, err = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise Fail(f'{name}: vio still running 10 s after the back-end died')
        took = time.monotonic() - t0
        err = err.decode(errors='replace')
        no_sanitizer_report(err, argv)
        check(p.returncode not in (0, None) and p.returncode > 0,
              f'{name}: vio exit status {p.returncode} (expected an error exit)')
        check(took < 5, f'{name}: vio took {took:.1f} s to notice')
        check('gone' in err or 'reset' in err.lower(), f'{name}: no error message:\n{err}')
        print(f'kill during {name}: vio exited {p.returncode} after {took:.2f} s: '
              f'{err.strip().splitlines()[-1]}')
    finally:
        be.stop()
        os.unlink(image)


def stop_during(args, work):
    """A back-end that stops answering (SIGSTOP) mid-read: vio gives up after --timeout."""
    image = os.path.join(work, 'stop.img')
    sock = os.path.join(work, 'stop.sock')
    out = os.path.join(work, 'stop.out')
    with open(image, 'wb') as f:
        f.truncate(64 << 30)
    be = Backend(args.backend, args, image, sock, args.num_queues, os.path.join(work, 'stop.log'))
    try:
        with open(out, 'wb') as o:
            p = subprocess.Popen([args.vio, 'blk', 'read', sock, '--length=60G', f'--file={out}',
                                  '--timeout=2'], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        check(wait_for(lambda: os.path.getsize(out) > 16 * MiB, 30), 'stop: vio did not get going')
        check(p.poll() is None, 'stop: vio finished before the back-end could be stopped')
        be.proc.send_signal(signal.SIGSTOP)
        t0 = time.monotonic()
        try:
            _, err = p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise Fail('stop: vio still running 20 s after the back-end stopped answering')
        took = time.monotonic() - t0
        err = err.decode(errors='replace')
        no_sanitizer_report(err, ['vio', 'blk', 'read'])
        check(p.returncode == 1, f'stop: vio exit status {p.returncode}')
        check('stuck' in err, f'stop: no timeout message:\n{err}')
        # One timeout for the request, one for the reset at close, and some slack.
        check(took < 8, f'stop: vio took {took:.1f} s')
        print(f'stopped back-end: vio exited 1 after {took:.1f} s (timeout 2 s)')
    finally:
        be.proc.send_signal(signal.SIGCONT)
        be.stop()
        os.unlink(image)


def run_kill(args, work):
    kill_during(args, work, 'read',
                ['blk', 'read', 'SOCK', '--offset=0', '--length=60G', '--file=OUT'],
                lambda out: os.path.getsize(out) > 16 * MiB)
    kill_during(args, work, 'verify',
                ['blk', 'verify', 'SOCK', '--length=60G', '--seed=7'],
                lambda out: b'verify: region' in open(out, 'rb').read())
    stop_during(args, work)


# ---- a device that loses writes: verify must see it --------------------------------------

def run_lying(args, work):
    sock = os.path.join(work, 'sock')
    be = Backend('qsd-null', args, None, sock, args.num_queues, os.path.join(work, 'backend.log'))
    try:
        length = 256 * 1024  # 512 blocks: under the 1000 mismatch lines vio lists
        rc, out, err = vio(args, 'blk', 'verify', sock, f'--length={length}', '--seed=99', ok=False)
        text = out.decode()
        blocks = length // 512
        check(rc == 1, f'verify exit status {rc} against a device that drops writes:\n{text}{err}')
        check(text.rstrip().endswith(f'verify: FAIL ({blocks} mismatches, 0 errors)'), text)
        # Each mismatch by offset: every block of the region, once.
        offs = [int(o) for o in re.findall(r'^mismatch at offset (\d+): all zeroes', text, re.M)]
        check(sorted(offs) == list(range(0, length, 512)), f'{len(offs)} mismatch lines')
        print(f'lying device: verify reported all {blocks} blocks and failed')
    finally:
        be.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--backend', choices=['qsd', 'vio'], required=True)
    ap.add_argument('--num-queues', type=int, default=1)
    ap.add_argument('--vio', required=True)
    ap.add_argument('--vio-blk')
    ap.add_argument('--workdir', required=True)
    ap.add_argument('case', choices=['suite', 'matrix', 'rings', 'kill', 'lying'])
    args = ap.parse_args()
    if args.case == 'lying' and args.backend != 'qsd':
        print('FAIL: the lying device is a qemu-storage-daemon null-co node: --backend=qsd')
        return 1
    if args.backend == 'qsd' and not shutil.which('qemu-storage-daemon'):
        print('SKIP: qemu-storage-daemon not found (Debian: apt-get install qemu-utils)')
        return SKIP
    if args.backend == 'vio' and not args.vio_blk:
        print('FAIL: --vio-blk is needed with --backend=vio')
        return 1
    os.makedirs(args.workdir, exist_ok=True)
    work = tempfile.mkdtemp(prefix=f'interop-{args.backend}-{args.case}-', dir=args.workdir)
    try:
        {'suite': run_suite, 'matrix': run_matrix, 'rings': run_rings, 'kill': run_kill,
         'lying': run_lying}[args.case](args, work)
    except Fail as e:
        print(f'FAIL: {e}\n(work directory kept: {work})')
        return 1
    shutil.rmtree(work, ignore_errors=True)
    print('PASS')
    return 0


if __name__ == '__main__':
    sys.exit(main())
