#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""vio-blk against qemu-storage-daemon: IOPS and the back-end's CPU time per I/O.

    bench.py --vio=PATH --vio-blk=PATH [--outdir=DIR] [--rounds=N] [--secs=S] [--smoke]

Both back-ends serve the SAME image, on tmpfs, with two queues, and `vio blk bench`
drives each with the same load (4 KiB random reads at iodepth 1 and 32, random writes at
iodepth 32, on 1 and 2 queues). The machine's vCPUs move between host placements every
few tens of seconds, so the two are alternated in short rounds (ours then theirs, then
theirs then ours, ...) and compared round by round: each round's ratio, then the median.

The back-end's CPU time is utime + stime of its process (/proc/PID/stat, every thread,
io_uring workers included) over the measured interval, read by `vio blk bench
--backend-pid` when its measurement starts and ends, divided by the I/Os completed.

Prints a table, writes blk.txt, blk.json, blk.dat and blk.png (gnuplot) to --outdir.
--smoke: a few seconds, to check that both back-ends ran and numbers came out (not speed);
exit 0 pass, 1 fail, 77 skip (qemu-storage-daemon missing).
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

SKIP = 77
MiB = 1 << 20

# (rw, iodepth, queues)
CASES = [('randread', 1, 1), ('randread', 1, 2), ('randread', 32, 1), ('randread', 32, 2),
         ('randwrite', 32, 1), ('randwrite', 32, 2)]
SMOKE_CASES = [('randread', 32, 1), ('randwrite', 32, 2)]


class Fail(Exception):
    pass


def case_name(c):
    return f'{c[0]} qd{c[1]} q{c[2]}'


def fs_type(path):
    """The file system type of the mount holding @path (from /proc/mounts)."""
    path = os.path.realpath(path)
    best, kind = '', None
    with open('/proc/mounts') as f:
        for line in f:
            parts = line.split()
            mnt = parts[1].replace('\\040', ' ')
            if (path == mnt or path.startswith(mnt.rstrip('/') + '/')) and len(mnt) >= len(best):
                best, kind = mnt, parts[2]
    return kind


class Tmpfs:
    """A private directory on tmpfs: under /dev/shm, or a tmpfs mounted for us (root)."""

    def __init__(self, size):
        self.mounted = None
        base = '/dev/shm'
        if os.path.isdir(base) and fs_type(base) == 'tmpfs' and \
                shutil.disk_usage(base).free > size + 64 * MiB:
            self.dir = tempfile.mkdtemp(prefix='vio-bench-', dir=base)
            return
        self.dir = tempfile.mkdtemp(prefix='vio-bench-')
        r = subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={size + 64 * MiB}', 'tmpfs',
                            self.dir], capture_output=True, text=True)
        if r.returncode:
            os.rmdir(self.dir)
            raise Fail(f'no tmpfs for the image: /dev/shm is not usable and mount failed '
                       f'({r.stderr.strip()})')
        self.mounted = self.dir

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True) if not self.mounted else None
        if self.mounted:
            subprocess.run(['umount', self.mounted])
            os.rmdir(self.mounted)


def make_image(path, size):
    """Every byte allocated and non-zero: reads copy real pages, not the zero page."""
    chunk = bytearray(os.urandom(MiB))
    with open(path, 'wb') as f:
        for i in range(size // MiB):
            chunk[0:8] = i.to_bytes(8, 'little')
            f.write(chunk)


class Backend:
    """One back-end process serving the image on a socket; stopped by its PID only."""

    def __init__(self, name, cmd, sock, log):
        self.name, self.sock, self.cmd = name, sock, cmd
        self.log = open(log, 'w')
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while not os.path.exists(sock):
            if self.proc.poll() is not None:
                raise Fail(f'{name}: exited with {self.proc.returncode} (log: {log})')
            if time.monotonic() > deadline:
                raise Fail(f'{name}: did not create {sock}')
            time.sleep(0.02)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def run_load(args, be, case):
    """One `vio blk bench` run against @be; its JSON numbers."""
    rw, depth, queues = case
    cmd = [args.vio, 'blk', 'bench', be.sock, f'--rw={rw}', '--bs=4k', f'--iodepth={depth}',
           f'--numjobs={queues}', f'--runtime={args.secs}', f'--ramp_time={args.ramp}',
           f'--backend-pid={be.pid}', '--output-format=json', '--timeout=30']
    try:
        r = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=args.secs + args.ramp + 60)
    except subprocess.TimeoutExpired:
        raise Fail(f'{be.name}: {case_name(case)}: vio blk bench did not finish')
    if r.returncode:
        raise Fail(f'{be.name}: {case_name(case)}: vio blk bench failed ({r.returncode}): '
                   f'{r.stderr.strip()}')
    out = json.loads(r.stdout)
    job = out['jobs'][0]
    ios = job['read']['total_ios'] + job['write']['total_ios']
    secs = job['job_runtime'] / 1000
    if 'backend' not in out:
        raise Fail(f'{be.name}: no CPU time of the back-end (pid {be.pid}) in the output')
    lat = job['read' if rw.endswith('read') else 'write']['clat_ns']
    return {
        'iops': job['read']['iops'] + job['write']['iops'],
        'ios': ios,
        'secs': secs,
        'cpu_ns': out['backend']['cpu_ns_per_io'],
        'cpu_pct': out['backend']['usr_cpu'] + out['backend']['sys_cpu'],
        'client_ns': (job['usr_cpu'] + job['sys_cpu']) / 100 * secs * 1e9 / ios if ios else 0,
        'p50': lat['percentile']['50.000000'],
        'p99': lat['percentile']['99.000000'],
    }


def ratio(a, b):
    return a / b if b else float('nan')


def fmt_k(v):
    return f'{v / 1000:.1f}k'


def run(args):
    size = args.image_size * MiB
    fs = Tmpfs(size)
    backends = []
    try:
        img = os.path.join(fs.dir, 'disk.img')
        make_image(img, size)
        ours = Backend('vio-blk', [args.vio_blk, f'--socket-path={fs.dir}/vio.sock',
                                   f'--blk-file={img}', '--num-queues=2', f'--aio={args.vio_aio}',
                                   '--log-level=warn'],
                       f'{fs.dir}/vio.sock', os.path.join(args.outdir, 'vio-blk.log'))
        backends.append(ours)
        if args.baseline:
            # A/B of two vio-blk builds (development): the other one is "theirs".
            theirs = Backend('baseline', [args.baseline, f'--socket-path={fs.dir}/base.sock',
                                          f'--blk-file={img}', '--num-queues=2',
                                          f'--aio={args.vio_aio}', '--log-level=warn'],
                             f'{fs.dir}/base.sock', os.path.join(args.outdir, 'baseline.log'))
        else:
            theirs = Backend('qsd', ['qemu-storage-daemon', '--blockdev',
                                     f'driver=file,node-name=disk,filename={img},'
                                     f'cache.direct=off,aio={args.qsd_aio}',
                                     '--export', 'type=vhost-user-blk,id=exp,node-name=disk,'
                                     f'addr.type=unix,addr.path={fs.dir}/qsd.sock,writable=on,'
                                     'num-queues=2'],
                             f'{fs.dir}/qsd.sock', os.path.join(args.outdir, 'qsd.log'))
        backends.append(theirs)
        return measure(args, ours, theirs)
    finally:
        for be in backends:
            be.stop()
        fs.close()


def measure(args, ours, theirs):
    cases = SMOKE_CASES if args.smoke else CASES
    if args.cases:
        cases = [c for c in CASES if case_name(c).replace(' ', '-') in args.cases.split(',')]
    results = []
    for case in cases:
        rounds = []
        for i in range(args.rounds):
            # Alternate who goes first, so that neither always follows the other.
            order = [ours, theirs] if i % 2 == 0 else [theirs, ours]
            got = {}
            for be in order:
                got[be.name] = run_load(args, be, case)
                if not be.alive():
                    raise Fail(f'{be.name} died during {case_name(case)}')
            o, t = got[ours.name], got[theirs.name]
            rnd = {'ours': o, 'theirs': t, 'iops_ratio': ratio(o['iops'], t['iops']),
                   'cpu_ratio': ratio(o['cpu_ns'], t['cpu_ns'])}
            rounds.append(rnd)
            print(f'  {case_name(case):18} round {i + 1}: vio-blk {fmt_k(o["iops"]):>7} IOPS '
                  f'{o["cpu_ns"]:6.0f} ns/IO | {theirs.name} {fmt_k(t["iops"]):>7} IOPS '
                  f'{t["cpu_ns"]:6.0f} ns/IO | IOPS x{rnd["iops_ratio"]:.2f} '
                  f'CPU/IO x{rnd["cpu_ratio"]:.2f}', flush=True)
        results.append({'case': case_name(case), 'rw': case[0], 'iodepth': case[1],
                        'queues': case[2], 'rounds': rounds})
    return results


def med(rounds, f):
    return statistics.median(f(r) for r in rounds)


def per_round(rounds, key):
    return ' '.join('%.2f' % r[key] for r in rounds)


def table(args, results):
    them = (f'baseline {args.baseline}' if args.baseline else
            f'qemu-storage-daemon {qsd_version()} (aio={args.qsd_aio}, cache.direct=off)')
    short = 'base' if args.baseline else 'qsd'
    lines = [f'vio-blk (--aio={args.vio_aio}) vs {them}, same {args.image_size} MiB image on '
             f'tmpfs, 4 KiB I/O,',
             f'{args.rounds} rounds of {args.secs} s each (after {args.ramp} s ramp), '
             f'alternated; ratios are vio-blk / {short} per round, then their median.', '',
             f'{"case":18} {"vio-blk IOPS":>12} {short + " IOPS":>9} {"IOPS ratio":>10}  '
             f'{"per round":24} {"vio ns/IO":>9} {short + " ns/IO":>9} {"CPU/IO ratio":>12}  '
             f'{"per round"}']
    for res in results:
        rs = res['rounds']
        lines.append(
            f'{res["case"]:18} {fmt_k(med(rs, lambda r: r["ours"]["iops"])):>12} '
            f'{fmt_k(med(rs, lambda r: r["theirs"]["iops"])):>9} '
            f'{med(rs, lambda r: r["iops_ratio"]):>10.2f}  '
            f'{per_round(rs, "iops_ratio"):24} '
            f'{med(rs, lambda r: r["ours"]["cpu_ns"]):>9.0f} '
            f'{med(rs, lambda r: r["theirs"]["cpu_ns"]):>9.0f} '
            f'{med(rs, lambda r: r["cpu_ratio"]):>12.2f}  '
            f'{per_round(rs, "cpu_ratio")}')
    lines.append('')
    lines.append('IOPS and ns/IO columns: medians over the rounds; ns/IO is the back-end\'s '
                 'CPU time (user+sys) per I/O.')
    return '\n'.join(lines)


def qsd_version():
    try:
        out = subprocess.run(['qemu-storage-daemon', '--version'], capture_output=True,
                             text=True).stdout
        return out.split()[2]
    except (OSError, IndexError):
        return '?'


def chart(args, results):
    """blk.png: IOPS and CPU per I/O per case, medians with the rounds' range."""
    dat = os.path.join(args.outdir, 'blk.dat')
    with open(dat, 'w') as f:
        f.write('# case vio_iops vio_min vio_max qsd_iops qsd_min qsd_max '
                'vio_ns vio_ns_min vio_ns_max qsd_ns qsd_ns_min qsd_ns_max\n')
        for res in results:
            rs = res['rounds']
            cols = []
            for be, key in (('ours', 'iops'), ('theirs', 'iops'), ('ours', 'cpu_ns'),
                            ('theirs', 'cpu_ns')):
                vals = [r[be][key] / (1000 if key == 'iops' else 1) for r in rs]
                cols += [statistics.median(vals), min(vals), max(vals)]
            f.write('"%s" %s\n' % (res['case'].replace(' ', '\\n'),
                                   ' '.join(f'{v:.2f}' for v in cols)))
    # Each round's ratios: the placement noise, next to the targets.
    rounds_dat = os.path.join(args.outdir, 'blk-rounds.dat')
    with open(rounds_dat, 'w') as f:
        f.write('# x (case index + round offset) iops_ratio cpu_ratio\n')
        for i, res in enumerate(results):
            n = len(res['rounds'])
            for j, r in enumerate(res['rounds']):
                x = i + (j - (n - 1) / 2) * (0.5 / max(n, 1))
                f.write(f'{x:.3f} {r["iops_ratio"]:.4f} {r["cpu_ratio"]:.4f}\n')
    xtics = ', '.join('"%s" %d' % (res['case'], i) for i, res in enumerate(results))
    if not shutil.which('gnuplot'):
        print('note: gnuplot not found: no chart (Debian: apt-get install gnuplot-nox)')
        return None
    png = os.path.join(args.outdir, 'blk.png')
    theirs = 'baseline vio-blk' if args.baseline else 'qemu-storage-daemon'
    script = f'''
set terminal png size 1200,1300 font ",10"
set output "{png}"
set multiplot layout 3,1 title "vio-blk vs {theirs}: 4 KiB on a tmpfs image (median of {args.rounds} alternated rounds, bars: range)"
set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.7 border -1
set grid ytics
set key top left
set bmargin 4
set yrange [0:*]
set ylabel "kIOPS (higher is better)"
plot "{dat}" using 2:3:4:xtic(1) title "vio-blk" lc rgb "#2a7ab0", \\
     "" using 5:6:7 title "{theirs}" lc rgb "#c05030"
set ylabel "back-end CPU ns per I/O (lower is better)"
plot "{dat}" using 8:9:10:xtic(1) title "vio-blk" lc rgb "#2a7ab0", \\
     "" using 11:12:13 title "{theirs}" lc rgb "#c05030"
set style data points
set logscale y
set yrange [0.05:50]
set xrange [-0.6:{len(results) - 0.4}]
set xtics ({xtics})
set ylabel "vio-blk / {theirs}, each round"
plot "{rounds_dat}" using 1:2 title "IOPS ratio (target >= 1.5 at qd32)" pt 7 ps 1.2 lc rgb "#2a7ab0", \\
     "" using 1:3 title "CPU per I/O ratio (target <= 0.5 at qd32)" pt 5 ps 1.2 lc rgb "#c05030", \\
     1.5 title "" with lines dt 2 lc rgb "#2a7ab0", 0.5 title "" with lines dt 2 lc rgb "#c05030", \\
     1 title "" with lines lc rgb "#888888"
unset multiplot
'''
    r = subprocess.run(['gnuplot'], input=script, capture_output=True, text=True)
    if r.returncode:
        raise Fail(f'gnuplot failed: {r.stderr.strip()}')
    return png


def smoke_check(results):
    for res in results:
        for r in res['rounds']:
            for be in ('ours', 'theirs'):
                n = r[be]
                if not (n['iops'] > 0 and n['ios'] > 0 and n['cpu_ns'] >= 0):
                    raise Fail(f'{be}: {res["case"]}: no numbers: {n}')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--vio', required=True, help='the vio client')
    ap.add_argument('--vio-blk', required=True, help='the vio-blk daemon')
    ap.add_argument('--outdir', default='.', help='where blk.{txt,json,dat,png} go')
    ap.add_argument('--rounds', type=int, default=5)
    ap.add_argument('--secs', type=float, default=5, help='measured seconds per run')
    ap.add_argument('--ramp', type=float, default=1, help='seconds before measuring')
    ap.add_argument('--image-size', type=int, default=1024, help='MiB')
    ap.add_argument('--vio-aio', default='io_uring', choices=['io_uring', 'threads'])
    ap.add_argument('--qsd-aio', default='io_uring', choices=['io_uring', 'threads'],
                    help="qsd's file driver engine (io_uring: its fastest here)")
    ap.add_argument('--cases', help='comma-separated, e.g. randread-qd32-q1')
    ap.add_argument('--baseline', metavar='VIO_BLK',
                    help='compare with this vio-blk build instead of qsd (A/B of a change)')
    ap.add_argument('--smoke', action='store_true', help='a few seconds: numbers, not speed')
    args = ap.parse_args()
    if args.smoke:
        args.rounds, args.secs, args.ramp, args.image_size = 1, 1, 0.2, 64
    os.makedirs(args.outdir, exist_ok=True)
    if not args.baseline and not shutil.which('qemu-storage-daemon'):
        print('SKIP: qemu-storage-daemon not found (Debian: apt-get install qemu-utils)')
        return SKIP if args.smoke else 1
    load0 = os.getloadavg()
    try:
        results = run(args)
        if args.smoke:
            smoke_check(results)
        text = table(args, results)
        # Others' work on the machine shows in the numbers: say how much there was.
        text += '\nload average at start %.2f, at end %.2f (%d CPUs)' % (
            load0[0], os.getloadavg()[0], os.cpu_count())
        print()
        print(text)
        with open(os.path.join(args.outdir, 'blk.txt'), 'w') as f:
            f.write(text + '\n')
        with open(os.path.join(args.outdir, 'blk.json'), 'w') as f:
            json.dump({'theirs': args.baseline or 'qemu-storage-daemon',
                       'qsd_version': qsd_version(), 'vio_aio': args.vio_aio,
                       'qsd_aio': args.qsd_aio, 'secs': args.secs, 'ramp': args.ramp,
                       'image_mib': args.image_size, 'results': results}, f, indent=1)
        png = chart(args, results)
        if png:
            print(f'chart: {png}')
    except Fail as e:
        print(f'FAIL: {e}')
        return 1
    print('PASS' if args.smoke else '')
    return 0


if __name__ == '__main__':
    sys.exit(main())
