#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""vio-blk as a program: options, the errors users get wrong, QEMU's back-end
conventions (--print-capabilities, --fd listening or connected, SIGTERM),
socket permissions and SIGUSR1 counters. Each case asserts on what it checks."""
import json
import os
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time

VIO_BLK = sys.argv[1]
failures = []


def case(fn):
    try:
        fn()
        print(f"ok   {fn.__name__}")
    except AssertionError as e:
        failures.append(fn.__name__)
        print(f"FAIL {fn.__name__}: {e}")
    return fn


def run(*args, timeout=10, **kw):
    return subprocess.run([VIO_BLK, *args], capture_output=True, text=True,
                          timeout=timeout, **kw)


def wait_for(pred, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False


def get_features(sock):
    """A minimal vhost-user front-end: VHOST_USER_GET_FEATURES (1)."""
    sock.sendall(struct.pack("<III", 1, 0x1, 0))
    hdr = sock.recv(12, socket.MSG_WAITALL)
    req, flags, size = struct.unpack("<III", hdr)
    assert req == 1 and flags & 0x4 and size == 8, f"bad reply header {req} {flags:#x} {size}"
    (features,) = struct.unpack("<Q", sock.recv(8, socket.MSG_WAITALL))
    return features


def can_connect(path):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


tmp = tempfile.mkdtemp(prefix="vio-cli-")
img = os.path.join(tmp, "disk.img")
with open(img, "wb") as f:
    f.truncate(16 << 20)


class Daemon:
    def __init__(self, *args, pass_fds=()):
        self.log = open(os.path.join(tmp, "daemon.log"), "w+")
        self.p = subprocess.Popen([VIO_BLK, *args], stderr=self.log, pass_fds=pass_fds)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            self.p.wait(5)
        self.log.seek(0)
        return self.log.read()


@case
def help_and_version_exit_zero():
    r = run("--help")
    assert r.returncode == 0 and "--socket-path" in r.stdout and "--blk-file" in r.stdout
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("vio-blk "), r.stdout


@case
def print_capabilities_is_the_vhost_user_json():
    r = run("--print-capabilities")
    assert r.returncode == 0, r.stderr
    caps = json.loads(r.stdout)
    assert caps["type"] == "block", caps
    assert set(caps["features"]) == {"read-only", "blk-file"}, caps


@case
def usage_errors_exit_2():
    assert run("--blk-file", img).returncode == 2  # no socket
    assert run("--socket-path", os.path.join(tmp, "s"), "--fd", "3", "--blk-file", img).returncode == 2
    assert run("--socket-path", os.path.join(tmp, "s")).returncode == 2  # no image
    assert run("--socket-path", os.path.join(tmp, "s"), "--blk-file", img,
               "--logical-block-size=1000").returncode == 2
    assert run("--socket-path", os.path.join(tmp, "s"), "--blk-file", img,
               "--aio=posix").returncode == 2


@case
def missing_image_is_named():
    r = run("--socket-path", os.path.join(tmp, "m.sock"), "--blk-file", "/nonexistent/disk.img")
    assert r.returncode == 1 and "does not exist" in r.stderr, r.stderr


@case
def unwritable_image_suggests_read_only():
    ro = os.path.join(tmp, "ro.img")
    shutil.copy(img, ro)
    os.chmod(ro, 0o444)
    os.chmod(tmp, 0o755)
    pre = []
    if os.getuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv, "setpriv (util-linux) is needed to drop root"
        pre = [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    r = subprocess.run(pre + [VIO_BLK, "--socket-path", os.path.join(tmp, "ro.sock"),
                              "--blk-file", ro], capture_output=True, text=True, timeout=10)
    assert r.returncode == 1 and "--read-only" in r.stderr, r.stderr


@case
def socket_in_use_is_refused_and_stale_socket_replaced():
    path = os.path.join(tmp, "busy.sock")
    d = Daemon("--socket-path", path, "--blk-file", img)
    try:
        assert wait_for(lambda: os.path.exists(path)), "socket never appeared"
        r = run("--socket-path", path, "--blk-file", img)
        assert r.returncode == 1 and "in use" in r.stderr, r.stderr
    finally:
        d.stop()
    # a socket file nobody listens on (a crashed back-end) is replaced
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()
    d = Daemon("--socket-path", path, "--blk-file", img)
    try:
        assert wait_for(lambda: d.p.poll() is None and can_connect(path)), "stale socket not replaced"
    finally:
        d.stop()


@case
def socket_is_owner_only_unless_widened():
    path = os.path.join(tmp, "perm.sock")
    d = Daemon("--socket-path", path, "--blk-file", img)
    try:
        assert wait_for(lambda: os.path.exists(path))
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, oct(os.stat(path).st_mode)
    finally:
        d.stop()
    d = Daemon("--socket-path", path, "--blk-file", img, "--socket-mode=0660", "--socket-group=0")
    try:
        assert wait_for(lambda: os.path.exists(path))
        st = os.stat(path)
        assert stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == 0, (oct(st.st_mode), st.st_gid)
    finally:
        d.stop()


@case
def sigterm_exits_within_a_second_and_removes_the_socket():
    path = os.path.join(tmp, "term.sock")
    d = Daemon("--socket-path", path, "--blk-file", img)
    assert wait_for(lambda: os.path.exists(path))
    c = socket.socket(socket.AF_UNIX)
    c.connect(path)  # with a front-end connected
    get_features(c)
    t = time.monotonic()
    d.p.send_signal(signal.SIGTERM)
    d.p.wait(5)
    took = time.monotonic() - t
    c.close()
    assert d.p.returncode == 0, d.p.returncode
    assert took < 1.0, f"took {took:.2f}s"
    assert not os.path.exists(path), "socket file left behind"


@case
def fd_listening_socket_is_accepted_on():
    path = os.path.join(tmp, "fd.sock")
    ls = socket.socket(socket.AF_UNIX)
    ls.bind(path)
    ls.listen(1)
    d = Daemon(f"--fd={ls.fileno()}", "--blk-file", img, pass_fds=(ls.fileno(),))
    ls.close()
    try:
        c = socket.socket(socket.AF_UNIX)
        c.connect(path)
        assert get_features(c) & (1 << 32), "VIRTIO_F_VERSION_1 not offered"
        c.close()
    finally:
        d.stop()


@case
def fd_connected_socket_is_served_and_exit_follows_disconnect():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    d = Daemon(f"--fd={b.fileno()}", "--blk-file", img, pass_fds=(b.fileno(),))
    b.close()
    try:
        assert get_features(a) & (1 << 30), "VHOST_USER_F_PROTOCOL_FEATURES not offered"
        a.close()
        d.p.wait(5)  # a connected fd is the only connection: exit when it ends
        assert d.p.returncode == 0, d.p.returncode
    finally:
        d.stop()


@case
def exit_on_disconnect_exits_after_the_first_front_end():
    path = os.path.join(tmp, "once.sock")
    d = Daemon("--socket-path", path, "--blk-file", img, "--exit-on-disconnect")
    try:
        assert wait_for(lambda: os.path.exists(path))
        c = socket.socket(socket.AF_UNIX)
        c.connect(path)
        get_features(c)
        c.close()
        d.p.wait(5)
        assert d.p.returncode == 0
    finally:
        d.stop()


@case
def keeps_listening_after_a_disconnect():
    path = os.path.join(tmp, "again.sock")
    d = Daemon("--socket-path", path, "--blk-file", img)
    try:
        assert wait_for(lambda: os.path.exists(path))
        for _ in range(3):
            c = socket.socket(socket.AF_UNIX)
            c.connect(path)
            assert get_features(c)
            c.close()
        assert d.p.poll() is None, "exited after a disconnect"
    finally:
        d.stop()


@case
def protocol_violation_drops_the_connection_not_the_daemon():
    path = os.path.join(tmp, "bad.sock")
    d = Daemon("--socket-path", path, "--blk-file", img)
    try:
        assert wait_for(lambda: os.path.exists(path))
        c = socket.socket(socket.AF_UNIX)
        c.connect(path)
        c.sendall(struct.pack("<III", 2, 0x1, 3) + b"abc")  # SET_FEATURES with 3 bytes
        c.settimeout(5)
        assert c.recv(1) == b"", "connection not dropped"
        c.close()
        c = socket.socket(socket.AF_UNIX)
        c.connect(path)
        assert get_features(c), "daemon did not take the next front-end"
        c.close()
    finally:
        log = d.stop()
    assert "SET_FEATURES with a 3-byte payload" in log, log


@case
def sigusr1_prints_one_line_per_queue():
    path = os.path.join(tmp, "usr1.sock")
    d = Daemon("--socket-path", path, "--blk-file", img, "--num-queues=3")
    try:
        assert wait_for(lambda: os.path.exists(path))
        d.p.send_signal(signal.SIGUSR1)
        time.sleep(0.3)
    finally:
        log = d.stop()
    for q in range(3):
        assert f"queue {q}: requests=0 " in log, log


shutil.rmtree(tmp, ignore_errors=True)
print(f"{len(failures)} failed" if failures else "all passed")
sys.exit(1 if failures else 0)
