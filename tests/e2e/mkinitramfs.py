#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Builds the e2e guest's initramfs: busybox, the virtio-blk and ext2 modules, a generic /init.

The base image is a gzip'd newc cpio archive, cached in a work directory and rebuilt only when
one of its inputs (busybox, the modules, the kernel, this file) changes. A test adds its own
/test.sh (and any data files) as a second, uncompressed archive appended to the base one: the
kernel unpacks concatenated archives in order (Documentation/driver-api/early-userspace/
buffer-format.rst), so nothing is rebuilt per test.

The cpio writer is here (pure Python, no external cpio): the "newc" format is a 110-byte ASCII
header ("070701" and thirteen 8-digit hex fields), the NUL-terminated name padded to 4 bytes, the
data padded to 4 bytes, and a final entry named "TRAILER!!!".

Usage by hand:
    python3 mkinitramfs.py --workdir DIR          # prints the path of the cached base image
"""

import argparse
import glob
import gzip
import hashlib
import io
import os
import stat
import sys

BUSYBOX = '/bin/busybox'

# Modules the guest needs, by name; their dependencies come from modules.dep.
# crc32c_generic provides the "crc32c" crypto algorithm ext4/jbd2 ask for (there is no
# modprobe in the guest to load it on demand).
WANTED_MODULES = ['virtio_pci', 'virtio_blk', 'crc32c_generic', 'ext4']

# Bump to force a rebuild when the layout changes in a way the inputs do not show.
FORMAT_VERSION = 3

INIT = r'''#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# vio e2e guest init: mount the kernel filesystems, load modules, wait for /dev/vda,
# run /test.sh, report, power off. Result lines are "@@E2E <key> <value>".
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp /mnt
mount -t tmpfs tmpfs /tmp
. /lib/e2e.sh
e2e_report init "$(cut -d' ' -f1 /proc/uptime)"
for m in $(cat /lib/e2e-modules); do
	insmod "$m" || e2e_report insmod-failed "$m"
done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 200 ]; do
	usleep 50000
	i=$((i + 1))
done
if [ -b /dev/vda ]; then
	e2e_report boot "$(cut -d' ' -f1 /proc/uptime)"
	# The feature bits the guest driver negotiated (one 0/1 character per bit).
	e2e_report features "$(cat /sys/block/vda/device/features 2>/dev/null)"
	if [ -f /test.sh ]; then
		sh -e -c '. /lib/e2e.sh; . /test.sh'
		rc=$?
	else
		echo "e2e: no /test.sh in the initramfs"
		rc=125
	fi
	e2e_report test-end "$(cut -d' ' -f1 /proc/uptime)"
else
	echo "e2e: /dev/vda did not appear within 10 s"
	e2e_report error no-vda
	rc=124
fi
e2e_report exit "$rc"
e2e_host_sync end
sync
poweroff -f
'''

# Helpers sourced by /init and available to every /test.sh.
E2E_SH = r'''# SPDX-License-Identifier: BSD-3-Clause
# vio e2e guest helpers.

# e2e_report KEY VALUE...: one result line for the host harness.
e2e_report() {
	k=$1
	shift
	echo "@@E2E $k $*"
}

# e2e_host_sync NAME: ask the host to act (e.g. read the back-end's counters) and wait until it
# answers NAME on the console (at most 15 s).
e2e_host_sync() {
	stty -echo 2>/dev/null
	echo "@@E2E sync $1"
	while read -t 15 -r reply; do
		[ "$reply" = "$1" ] && break
	done
	stty echo 2>/dev/null
}

# e2e_sha FILE [dd options...]: prints the sha256 of what dd reads from FILE.
e2e_sha() {
	f=$1
	shift
	dd if="$f" "$@" status=none | sha256sum | cut -d' ' -f1
}
'''


class Cpio:
    """Writes a newc cpio archive into memory."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.ino = 1
        self.names = set()

    def _entry(self, name, mode, data=b'', rdev=(0, 0)):
        name = name.lstrip('/')
        if name in self.names:
            raise ValueError(f'duplicate cpio entry {name}')
        self.names.add(name)
        bname = name.encode() + b'\0'
        fields = [self.ino, mode, 0, 0, 2 if stat.S_ISDIR(mode) else 1, 0, len(data),
                  0, 0, rdev[0], rdev[1], len(bname), 0]
        self.ino += 1
        hdr = b'070701' + b''.join(b'%08X' % f for f in fields)
        self.buf.write(hdr + bname)
        self._pad()
        self.buf.write(data)
        self._pad()

    def _pad(self):
        self.buf.write(b'\0' * (-self.buf.tell() % 4))

    def dir(self, name, mode=0o755):
        self._entry(name, stat.S_IFDIR | mode)

    def dirs_for(self, path):
        """Adds the missing parent directories of @path."""
        parts = path.strip('/').split('/')[:-1]
        for i in range(1, len(parts) + 1):
            d = '/'.join(parts[:i])
            if d not in self.names:
                self.dir(d)

    def file(self, name, data, mode=0o644):
        self.dirs_for(name)
        self._entry(name, stat.S_IFREG | mode, data)

    def symlink(self, name, target):
        self.dirs_for(name)
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name, major, minor, mode=0o600):
        self.dirs_for(name)
        self._entry(name, stat.S_IFCHR | mode, rdev=(major, minor))

    def finish(self):
        self._entry('TRAILER!!!', 0)
        # Pad the whole archive to 512 bytes, as cpio(1) does.
        self.buf.write(b'\0' * (-self.buf.tell() % 512))
        return self.buf.getvalue()


class Missing(Exception):
    """A host tool or file the e2e tests need is not there (the tests skip)."""


def find_kernel(version=None):
    """Returns (vmlinuz path, modules dir) for @version, or the newest kernel with modules.

    VIO_E2E_KERNEL (a vmlinuz path) and VIO_E2E_MODULES (its /lib/modules/<ver>) override."""
    kernel = os.environ.get('VIO_E2E_KERNEL')
    moddir = os.environ.get('VIO_E2E_MODULES')
    if kernel or moddir:
        if not (kernel and moddir):
            raise Missing('set both VIO_E2E_KERNEL and VIO_E2E_MODULES, or neither')
    else:
        candidates = []
        for k in glob.glob('/boot/vmlinuz-*'):
            ver = k[len('/boot/vmlinuz-'):]
            if version and ver != version:
                continue
            if os.path.isfile(f'/lib/modules/{ver}/modules.dep'):
                candidates.append((os.path.getmtime(k), k, f'/lib/modules/{ver}'))
        if not candidates:
            raise Missing('no /boot/vmlinuz-* with a matching /lib/modules/<version>/modules.dep '
                          '(install linux-image-amd64)')
        _, kernel, moddir = max(candidates)
    if not os.access(kernel, os.R_OK):
        raise Missing(f'kernel {kernel} is not readable by this user')
    if not os.path.isfile(os.path.join(moddir, 'modules.dep')):
        raise Missing(f'{moddir}/modules.dep not found')
    return kernel, moddir


def module_order(moddir, wanted=WANTED_MODULES):
    """Module paths (relative to @moddir) for @wanted and their dependencies, dependencies first."""
    deps = {}
    by_name = {}
    with open(os.path.join(moddir, 'modules.dep')) as f:
        for line in f:
            if ':' not in line:
                continue
            mod, rest = line.split(':', 1)
            deps[mod] = rest.split()
            base = os.path.basename(mod)
            for ext in ('.ko', '.ko.xz', '.ko.zst', '.ko.gz'):
                if base.endswith(ext):
                    base = base[:-len(ext)]
            by_name[base.replace('-', '_')] = mod
    order = []

    def visit(mod, stack=()):
        if mod in order:
            return
        if mod in stack:
            raise ValueError(f'dependency loop at {mod}')
        for d in deps.get(mod, []):
            visit(d, stack + (mod,))
        order.append(mod)

    for name in wanted:
        mod = by_name.get(name)
        if mod is None:
            if _builtin(moddir, name):
                continue
            raise Missing(f'module {name} not found in {moddir}/modules.dep')
        visit(mod)
    for mod in order:
        if not mod.endswith('.ko'):
            raise Missing(f'{mod} is compressed; the guest insmod needs uncompressed modules')
    return order


def _builtin(moddir, name):
    try:
        with open(os.path.join(moddir, 'modules.builtin')) as f:
            return any(os.path.basename(l.strip())[:-3].replace('-', '_') == name for l in f)
    except OSError:
        return False


def busybox_applets():
    """The applet install paths of the static busybox (e.g. 'bin/sh', 'sbin/insmod')."""
    import subprocess
    out = subprocess.run([BUSYBOX, '--list-full'], capture_output=True, text=True, check=True)
    return [l.strip().lstrip('/') for l in out.stdout.splitlines() if l.strip()]


def check_busybox():
    if not os.path.isfile(BUSYBOX):
        raise Missing(f'{BUSYBOX} not found (install busybox-static)')
    with open(BUSYBOX, 'rb') as f:
        head = f.read(1 << 16)
    if b'/lib64/ld-linux' in head or b'/lib/ld-linux' in head:
        raise Missing(f'{BUSYBOX} is dynamically linked (install busybox-static)')


def _inputs_digest(kernel, moddir, modules):
    h = hashlib.sha256()
    h.update(b'format %d\n' % FORMAT_VERSION)
    with open(os.path.abspath(__file__), 'rb') as f:
        h.update(f.read())
    for path in [BUSYBOX, kernel] + [os.path.join(moddir, m) for m in modules]:
        st = os.stat(path)
        h.update(f'{path} {st.st_size} {st.st_mtime_ns}\n'.encode())
    return h.hexdigest()


def build_base(workdir, kernel_version=None):
    """Returns (initramfs path, kernel path, kernel release), building the base image if its
    inputs changed. Raises Missing when a needed host file is absent."""
    check_busybox()
    kernel, moddir = find_kernel(kernel_version)
    release = os.path.basename(moddir.rstrip('/'))
    modules = module_order(moddir)
    digest = _inputs_digest(kernel, moddir, modules)
    os.makedirs(workdir, exist_ok=True)
    out = os.path.join(workdir, f'initramfs-{release}.cpio.gz')
    stamp = out + '.inputs'
    try:
        with open(stamp) as f:
            if f.read().strip() == digest and os.path.isfile(out):
                return out, kernel, release
    except OSError:
        pass

    c = Cpio()
    for d in ('bin', 'sbin', 'usr', 'usr/bin', 'usr/sbin', 'lib', 'proc', 'sys', 'dev', 'tmp',
              'mnt', 'root', 'etc'):
        c.dir(d)
    c.chardev('dev/console', 5, 1)
    c.chardev('dev/null', 1, 3, 0o666)
    with open(BUSYBOX, 'rb') as f:
        c.file('bin/busybox', f.read(), 0o755)
    for applet in busybox_applets():
        if applet != 'bin/busybox':
            c.symlink(applet, '/bin/busybox')
    guest_paths = []
    for m in modules:
        with open(os.path.join(moddir, m), 'rb') as f:
            gp = f'lib/modules/{release}/{m}'
            c.file(gp, f.read())
            guest_paths.append('/' + gp)
    c.file('lib/e2e-modules', ('\n'.join(guest_paths) + '\n').encode())
    c.file('lib/e2e.sh', E2E_SH.encode())
    c.file('init', INIT.encode(), 0o755)
    data = gzip.compress(c.finish(), compresslevel=6, mtime=0)
    # The next (appended) archive must start 4-byte aligned; the kernel skips zero padding.
    data += b'\0' * (-len(data) % 4)
    tmp = f'{out}.tmp.{os.getpid()}'
    with open(tmp, 'wb') as f:
        f.write(data)
    os.replace(tmp, out)
    with open(f'{stamp}.tmp.{os.getpid()}', 'w') as f:
        f.write(digest + '\n')
    os.replace(f'{stamp}.tmp.{os.getpid()}', stamp)
    return out, kernel, release


def test_archive(script, files=None):
    """An uncompressed newc archive holding /test.sh (@script) and @files ({guest path: bytes})."""
    c = Cpio()
    for name, data in sorted((files or {}).items()):
        c.file(name, data)
    c.file('test.sh', script.encode(), 0o755)
    return c.finish()


def write_initrd(path, base, script, files=None):
    """Writes @path = base image + per-test archive."""
    with open(base, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data)
        f.write(test_archive(script, files))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--workdir', required=True, help='where the cached image is kept')
    ap.add_argument('--kernel-version', help='a /lib/modules/<version> (default: newest)')
    args = ap.parse_args()
    try:
        path, kernel, release = build_base(args.workdir, args.kernel_version)
    except Missing as e:
        print(f'mkinitramfs: SKIP: {e}', file=sys.stderr)
        return 77
    print(path)
    print(f'kernel {kernel} ({release})', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
