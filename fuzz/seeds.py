#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Writes the hand-made seed inputs of the fuzz harnesses (fuzz/corpus/<harness>/seed-*).

Each encoder below follows the input format its harness decodes (see
fuzz/README.md); the seeds are well-formed scenarios the fuzzer mutates from:
a ring set up and used with each feature combination, chains of each shape,
a QEMU-like vhost-user start-up, a request of each virtio-blk type.

    fuzz/seeds.py [OUTDIR]      (default: fuzz/corpus next to this file)
"""
import os
import struct
import sys

u8 = lambda v: struct.pack('<B', v & 0xff)
u16 = lambda v: struct.pack('<H', v & 0xffff)
u32 = lambda v: struct.pack('<I', v & 0xffffffff)
u64 = lambda v: struct.pack('<Q', v & 0xffffffffffffffff)

# ---- shared by the ring harnesses (common/ring_model.c) ----

def addr_region(region, off):
    """A guest address: region start + off (off < 65536)."""
    return u8(region & 3) + u16(off)

def addr_ring(off):
    """A guest address inside the descriptor table / ring."""
    return u8(4 << 2) + u16(off)

def addr_raw(a):
    return u8(3 << 2) + u64(a)

def length(n):
    if n < 64:
        return u8(n << 2)
    if n < 65536:
        return u8(1) + u16(n)
    return u8(2) + u32(n)

def memory(nregions=1, extra=0x4000, sizes=(0x2000, 0x2000, 0x2000), gaps=(0, 16, 200)):
    """rm_setup_memory(): region 0 (rings + extra) at gpa 0x100000, then adjacent / near / far ones."""
    b = u8((nregions - 1) | (0b100 if nregions > 1 else 0)) + u16(extra) + u8(0) + u16(0x100)
    for k in range(1, nregions):
        b += u8(gaps[k - 1]) + u16(sizes[k - 1] - 1)
    return b

# ---- fuzz_split_dev ----

S_DESC, S_TABLE, S_CHAIN, S_AVAIL_ADD, S_AVAIL_RING, S_AVAIL_IDX, S_AVAIL_FLAGS, S_USED_EVENT, \
    S_GUEST, S_POP, S_POP_RACE, S_PUSH, S_PUSH_BOGUS, S_FLUSH, S_KICK_OFF, S_KICK_ON, S_REINIT, \
    S_CRASH, S_LOG_WRITE, S_CRASH_IN = range(20)

def split_header(log2num, indirect=False, event_idx=False, in_order=False, nregions=2, base=0, used=0,
                 bad_inits=False, log=False, log_bytes=None):
    feat = ((1 if indirect else 0) | (2 if event_idx else 0) | (4 if in_order else 0) |
            (8 if log or log_bytes is not None else 0) | (16 if log_bytes is not None else 0))
    b = (u8(log2num | (0x10 if bad_inits else 0)) + u8(feat) + memory(nregions) +
         u16(base) + u16(used))
    if log_bytes is not None:
        b += u16(len(log_bytes)) + log_bytes
    return b

def crash_in(what, at, arg=0, pick=0):
    """OP_CRASH_IN: what 0 pop (arg: iov cap), 1 push (arg: len), 2 flush; dies at access @at."""
    return u8(what | (arg << 2)) + u8(at - 1) + u8(pick)

def split_chain(start, bufs, indirect=False, table=None):
    """OP_CHAIN: bufs = [(addr_bytes, len, writable)]."""
    b = u8(S_CHAIN) + u8((len(bufs) - 1) | (8 if indirect else 0)) + u16(start)
    if indirect:
        b += table
    for a, n, w in bufs:
        b += a + length(n) + u8(1 if w else 0)
    return b

def pop(op, cap):
    return u8(op) + u8(cap)

def race(op, cap, muts):
    """muts = [(at, addr_bytes, data)]"""
    b = u8(op) + u8(cap) + u8(len(muts))
    for at, a, data in muts:
        b += u8(at - 1) + a + u8(len(data) - 1) + data
    return b

def split_seeds():
    out = {}
    blk = [(addr_region(0, 0x3000), 16, False), (addr_region(0, 0x3100), 512, True),
           (addr_region(0, 0x3400), 1, True)]
    for feat in range(8):
        ind, ev, io = bool(feat & 1), bool(feat & 2), bool(feat & 4)
        b = split_header(3, ind, ev, io)
        b += split_chain(0, blk)
        b += split_chain(3, [(addr_region(1, 0x10), 100, False)])
        if ind:
            b += split_chain(5, blk, indirect=True, table=addr_region(0, 0x3800))
        b += pop(S_POP, 8) + pop(S_POP, 8) + pop(S_POP, 1)
        b += u8(S_PUSH) + u8(1) + length(300) + u8(S_PUSH) + u8(0) + length(0)
        b += u8(S_USED_EVENT) + u16(1) + u8(S_FLUSH) + u8(S_KICK_ON) + u8(S_KICK_OFF)
        b += u8(S_PUSH) + u8(0) + length(513) + u8(S_FLUSH)
        out['split-feat%d' % feat] = b
    # a buffer across two adjacent regions, and one into the hole after them
    b = split_header(2, nregions=3)
    b += split_chain(0, [(u8(0 | (2 << 2)) + u8(8), 64, False)])  # region 0 end - 8
    b += pop(S_POP, 4)
    b += split_chain(1, [(u8(1 | (5 << 2)) + u8(4), 8, True)])     # past region 1
    b += pop(S_POP, 4)
    out['split-regions'] = b
    # a loop, a head out of range, an avail index jump
    b = split_header(3) + u8(S_DESC) + u16(2) + addr_region(0, 0x3000) + length(8) + u16(1) + u16(2)
    b += u8(S_AVAIL_ADD) + u16(2) + pop(S_POP, 8)
    out['split-loop'] = b
    out['split-jump'] = split_header(3) + u8(S_AVAIL_IDX) + u16(9) + pop(S_POP, 8)
    # the driver rewrites the head's len and flags between the device's reads
    b = split_header(4, indirect=True) + split_chain(0, blk)
    b += race(S_POP_RACE, 16, [(3, addr_ring(8), u32(0xfffffff0)), (4, addr_ring(12), u16(1) + u16(9))])
    b += split_chain(4, blk, indirect=True, table=addr_region(0, 0x3800))
    b += race(S_POP_RACE, 16, [(5, addr_region(0, 0x3808), u32(1 << 20)), (2, addr_ring(64 + 12), u16(4))])
    out['split-race'] = b
    # restart with nothing in flight, from a resumed used index
    b = split_header(3, event_idx=True, base=0xfffe, used=0x1234) + u8(S_AVAIL_IDX) + u16(0xfffe)
    b += split_chain(0, blk) + split_chain(3, blk) + pop(S_POP, 8) + pop(S_POP, 8)
    b += u8(S_PUSH) + u8(0) + length(1) + u8(S_PUSH) + u8(0) + length(1) + u8(S_FLUSH)
    b += u8(S_REINIT) + u16(0) + split_chain(5, blk) + pop(S_POP, 8)
    out['split-wrap-reinit'] = b
    out['split-bad-init'] = split_header(0, bad_inits=True) + pop(S_POP, 1)
    # the inflight log: crash with chains popped, pushed and flushed, pushed only
    for feat in (0, 4):
        b = split_header(3, event_idx=True, in_order=bool(feat), log=True)
        for start in (0, 3, 6):
            b += split_chain(start, blk[:2])
        b += pop(S_POP, 8) * 3
        b += u8(S_PUSH) + u8(0) + length(512) + u8(S_FLUSH) + u8(S_PUSH) + u8(0) + length(5)
        b += u8(S_CRASH) + pop(S_POP, 8) * 3 + u8(S_PUSH) + u8(0) + length(1)
        b += u8(S_CRASH_IN) + crash_in(2, 2) + pop(S_POP, 8) * 2
        b += u8(S_LOG_WRITE) + u16(12) + u8(1) + u16(0x7777) + u8(S_CRASH) + pop(S_POP, 8)
        out['split-inflight%s' % ('-in-order' if feat else '')] = b
    out['split-inflight-garbage'] = split_header(3, log_bytes=bytes(range(64)) * 3) + pop(S_POP, 8)
    return out

# ---- fuzz_packed_dev ----

P_DESC, P_TABLE, P_CHAIN, P_CURSOR, P_DRV_EVENT, P_GUEST, P_POP, P_POP_RACE, P_PUSH, P_PUSH_BOGUS, \
    P_FLUSH, P_KICK_OFF, P_KICK_ON, P_REINIT, P_CRASH, P_LOG_WRITE, P_CRASH_IN = range(17)
AVAIL, USED = 1 << 7, 1 << 15

def packed_header(num, indirect=False, event_idx=False, in_order=False, avail=0x8000, used=None,
                  bad_inits=False, log=False, log_bytes=None):
    feat = ((1 if indirect else 0) | (2 if event_idx else 0) | (4 if in_order else 0) |
            (8 if used is not None else 0) | (16 if bad_inits else 0) |
            (32 if log or log_bytes is not None else 0) | (64 if log_bytes is not None else 0))
    b = u16(num - 1) + u8(feat) + memory(2) + u16(avail)
    if used is not None:
        b += u16(used)
    if log_bytes is not None:
        b += u16(len(log_bytes)) + log_bytes
    return b

def packed_chain(bid, bufs, indirect=False, table=None):
    b = u8(P_CHAIN) + u8((len(bufs) - 1) | (8 if indirect else 0)) + u16(bid)
    if indirect:
        b += table
    for a, n, w in bufs:
        b += a + length(n) + u8(1 if w else 0)
    return b

def packed_seeds():
    out = {}
    blk = [(addr_region(0, 0x3000), 16, False), (addr_region(0, 0x3100), 512, True),
           (addr_region(0, 0x3400), 1, True)]
    for feat in range(8):
        ind, ev, io = bool(feat & 1), bool(feat & 2), bool(feat & 4)
        b = packed_header(5, ind, ev, io)
        b += packed_chain(0, blk) + packed_chain(1, [(addr_region(1, 0x10), 100, False)])
        if ind:
            b += packed_chain(2, blk, indirect=True, table=addr_region(0, 0x3800))
        b += pop(P_POP, 8) + pop(P_POP, 8) + pop(P_POP, 8)
        b += u8(P_DRV_EVENT) + u16(0x8001) + u16(2)
        b += u8(P_PUSH) + u8(1) + length(0) + u8(P_PUSH) + u8(0) + length(300) + u8(P_FLUSH)
        b += u8(P_KICK_ON) + packed_chain(3, blk) + pop(P_POP, 8)  # wraps the ring
        b += u8(P_PUSH) + u8(0) + length(5) + u8(P_FLUSH) + u8(P_KICK_OFF)
        out['packed-feat%d' % feat] = b
    # a list into a descriptor that is not available; an id out of range; a repeated id
    b = packed_header(4) + u8(P_DESC) + u16(0) + addr_region(0, 0x3000) + length(8) + u16(0)
    b += u16(AVAIL | 1) + pop(P_POP, 4)
    out['packed-unavail'] = b
    out['packed-bad-id'] = packed_header(4) + packed_chain(9, blk) + pop(P_POP, 4)
    b = packed_header(8) + packed_chain(2, blk) + packed_chain(2, blk) + pop(P_POP, 4) + pop(P_POP, 4)
    out['packed-dup-id'] = b
    # resuming with descriptors in flight (used position behind the available one)
    b = packed_header(6, avail=0x0002, used=0x8004) + packed_chain(1, blk) + pop(P_POP, 8)
    out['packed-resume'] = b
    b = packed_header(8, indirect=True) + packed_chain(0, blk)
    b += race(P_POP_RACE, 16, [(1, addr_ring(14), u16(0)), (3, addr_ring(16 + 8), u32(0xffffffff))])
    b += packed_chain(1, blk, indirect=True, table=addr_region(0, 0x3800))
    b += race(P_POP_RACE, 16, [(3, addr_region(0, 0x3800 + 14), u16(4))])
    out['packed-race'] = b
    out['packed-bad-init'] = packed_header(3, bad_inits=True) + pop(P_POP, 1)
    b = packed_header(4, in_order=True)
    for i in range(4):
        b += packed_chain(i, blk[:2])
    b += pop(P_POP, 8) * 3 + u8(P_PUSH) + u8(2) + length(512) + u8(P_PUSH) + u8(0) + length(512)
    b += u8(P_FLUSH) + u8(P_PUSH) + u8(0) + length(7) + u8(P_FLUSH) + u8(P_REINIT)
    out['packed-in-order'] = b
    # the inflight log: lists in flight across a crash, one dying inside a flush
    for io in (False, True):
        b = packed_header(8, indirect=True, event_idx=True, in_order=io, log=True)
        b += packed_chain(0, blk) + packed_chain(1, blk[:1])
        b += packed_chain(2, blk, indirect=True, table=addr_region(0, 0x3800))
        b += pop(P_POP, 8) * 3 + u8(P_PUSH) + u8(1) + length(0) + u8(P_FLUSH)
        b += u8(P_PUSH) + u8(0) + length(9) + u8(P_CRASH) + pop(P_POP, 8) * 3
        b += u8(P_PUSH) + u8(0) + length(1) + u8(P_CRASH_IN) + crash_in(2, 2) + pop(P_POP, 8) * 3
        b += u8(P_LOG_WRITE) + u16(64 + 8) + u8(1) + u16(0) + pop(P_POP, 8)
        out['packed-inflight%s' % ('-in-order' if io else '')] = b
    out['packed-inflight-garbage'] = packed_header(8, log_bytes=bytes(range(64)) * 2) + pop(P_POP, 8)
    return out

# ---- fuzz_blk_req ----

def blk_input(readable, writable, lbs_shift=0, ro=False, discard=True, wz=True, capacity=2048,
              cap=None):
    """readable: [bytes], writable: [len]; each iovec its own length, in region 0, with a gap."""
    b0 = lbs_shift | (4 if ro else 0) | (8 if discard else 0) | (16 if wz else 0)
    n = len(readable) + len(writable)
    b = u8(b0) + u8(1) + u32(capacity >> lbs_shift) + u8(len(readable)) + u8(len(writable))
    b += u8(n if cap is None else cap)
    for i, data in enumerate(readable):
        b += u8(4 | (i & 3)) + u8(4) + u16(len(data))
    for i, ln in enumerate(writable):
        b += u8(4 | ((i + 1) & 3)) + u8(4) + u16(ln)
    for data in readable:
        b += data
    return b

def outhdr(t, sector):
    return u32(t) + u32(0) + u64(sector)

def seg(sector, num, flags=0):
    return u64(sector) + u32(num) + u32(flags)

def blk_seeds():
    out = {}
    out['blk-read'] = blk_input([outhdr(0, 8)], [4096, 1])
    out['blk-read-status-shared'] = blk_input([outhdr(0, 0)], [513])
    out['blk-write'] = blk_input([outhdr(1, 16), b'\xaa' * 512, b'\xbb' * 512], [1])
    out['blk-write-hdr-split'] = blk_input([outhdr(1, 16)[:5], outhdr(1, 16)[5:] + b'\x11' * 512], [1])
    out['blk-write-ro'] = blk_input([outhdr(1, 0), b'\0' * 512], [1], ro=True)
    out['blk-flush'] = blk_input([outhdr(4, 0)], [1])
    out['blk-get-id'] = blk_input([outhdr(8, 0)], [20, 1])
    out['blk-discard'] = blk_input([outhdr(11, 0), seg(0, 8) + seg(64, 16)], [1])
    out['blk-write-zeroes'] = blk_input([outhdr(13, 0), seg(8, 8, 1)], [1])
    out['blk-4k'] = blk_input([outhdr(0, 8)], [4096, 1], lbs_shift=3)
    out['blk-unsupp'] = blk_input([outhdr(10, 0)], [1])
    out['blk-no-status'] = blk_input([outhdr(0, 0)], [])
    out['blk-small-cap'] = blk_input([outhdr(0, 0)], [512, 512, 512, 1], cap=2)
    return out

# ---- fuzz_vhost_user ----

V_MSG, V_MSG2, V_MSG3, V_MEMFD, V_MEMFD_WRITE, V_CUT, V_RECONNECT, V_NOTIFY = range(8)
GET_FEATURES, SET_FEATURES, SET_OWNER = 1, 2, 3
SET_MEM_TABLE, SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, GET_VRING_BASE = 5, 8, 9, 10, 11
SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR = 12, 13, 14
GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, GET_QUEUE_NUM, SET_VRING_ENABLE = 15, 16, 17, 18
GET_CONFIG, SET_CONFIG, RESET_DEVICE, GET_MAX_MEM_SLOTS, ADD_MEM_REG, REM_MEM_REG = 24, 25, 34, 36, 37, 38
GET_INFLIGHT_FD, SET_INFLIGHT_FD = 31, 32
GPA, UVA, GUEST = 0x100000, 0x7f0000100000, 0x10000

def vmsg(req, payload=b'', fds=(), need_reply=False, natural=b''):
    """A message with its natural payload size (natural: the size byte some requests take)."""
    b = u8(V_MSG) + u8(req) + u8(1 if need_reply else 0) + u8(0) + natural + payload
    b += u8(len(fds)) + b''.join(u8(k) for k in fds)
    return b

FD_MEMFD0, FD_EVENT = 0, 2

def region(gpa, size, uva, off):
    return u64(gpa) + u64(size) + u64(uva) + u64(off)

def vring_addr(i, desc, used, avail):
    return u32(i) + u32(0) + u64(desc) + u64(used) + u64(avail) + u64(0)

def memfd_write(off, data, memfd=0):
    return u8(V_MEMFD_WRITE) + u8(memfd) + u8(len(data)) + u32(off) + data

def split_ring_bytes(q):
    """A split ring of 8 at guest offset q * 0x4000: one chain, made available."""
    base = q * 0x4000
    desc = u64(GPA + 0x8000) + u32(16) + u16(1) + u16(1) + u64(GPA + 0x8100) + u32(1) + u16(2) + u16(0)
    return memfd_write(base, desc) + memfd_write(base + 0x80, u16(0) + u16(1) + u16(0))

def vu_start(q, features, packed=False, base=0):
    off = q * 0x4000
    b = vmsg(SET_VRING_NUM, u32(q) + u32(8))
    b += vmsg(SET_VRING_BASE, u32(q) + u32(base))
    if packed:
        b += vmsg(SET_VRING_ADDR, vring_addr(q, UVA + off, UVA + off + 0x200, UVA + off + 0x100))
    else:
        b += vmsg(SET_VRING_ADDR, vring_addr(q, UVA + off, UVA + off + 0x1000, UVA + off + 0x80))
    b += vmsg(SET_VRING_CALL, u64(q), fds=[FD_EVENT])
    b += vmsg(SET_VRING_ERR, u64(q), fds=[FD_EVENT])
    b += vmsg(SET_VRING_KICK, u64(q), fds=[FD_EVENT])
    if features & (1 << 30):
        b += vmsg(SET_VRING_ENABLE, u32(q) + u32(1))
    return b

def vu_seeds():
    out = {}
    proto = (1 << 0) | (1 << 3) | (1 << 9) | (1 << 13) | (1 << 15)
    for name, feat, packed in [('split', (1 << 32) | (1 << 30) | (1 << 29) | (1 << 28), False),
                               ('split-noproto', (1 << 32) | (1 << 28), False),
                               ('packed', (1 << 32) | (1 << 30) | (1 << 34) | (1 << 35), True)]:
        b = u8(1) + u8(0)                   # two queues, default protocol features
        b += u8(V_MEMFD) + u8(0x0f)         # 64 KiB of guest memory
        b += vmsg(GET_FEATURES) + vmsg(GET_PROTOCOL_FEATURES)
        if feat & (1 << 30):
            b += vmsg(SET_PROTOCOL_FEATURES, u64(proto))
        b += vmsg(GET_QUEUE_NUM) + vmsg(SET_OWNER)
        b += vmsg(SET_FEATURES, u64(feat), need_reply=True)
        b += vmsg(SET_MEM_TABLE, u32(1) + u32(0) + region(GPA, GUEST, UVA, 0), fds=[FD_MEMFD0],
                  natural=u8(1), need_reply=True)
        if not packed:
            b += split_ring_bytes(0)
        else:
            d = u64(GPA + 0x8000) + u32(16) + u16(0) + u16(AVAIL)
            b += memfd_write(0, d)
        b += vu_start(0, feat, packed, 0x80008000 if packed else 0)
        b += vu_start(1, feat, packed, 0x80008000 if packed else 0)
        b += vmsg(GET_VRING_BASE, u32(0) + u32(0))
        b += vmsg(GET_CONFIG, u32(0) + u32(16) + u32(0) + bytes(16), natural=u8(16))
        b += vmsg(SET_CONFIG, u32(8) + u32(4) + u32(0) + bytes(4), natural=u8(4))
        b += vmsg(GET_MAX_MEM_SLOTS)
        b += u8(V_MEMFD) + u8(0x03)
        b += vmsg(ADD_MEM_REG, u64(0) + region(GPA + GUEST, 0x4000, UVA + GUEST, 0), fds=[FD_MEMFD0 | 4])
        b += vmsg(REM_MEM_REG, u64(0) + region(GPA + GUEST, 0x4000, UVA + GUEST, 0))
        b += vmsg(RESET_DEVICE)
        out['vu-' + name] = b
    # inflight tracking: the daemon dies with a chain in flight; the next
    # connection hands the region back and the chain is popped again
    feat = (1 << 32) | (1 << 30) | (1 << 29)
    setup = vmsg(SET_PROTOCOL_FEATURES, u64(proto | (1 << 12))) + vmsg(SET_FEATURES, u64(feat))
    setup += vmsg(SET_MEM_TABLE, u32(1) + u32(0) + region(GPA, GUEST, UVA, 0), fds=[FD_MEMFD0],
                  natural=u8(1))
    inflight = u64(384) + u64(0) + u16(1) + u16(8) + u32(0)
    b = u8(0) + u8(0) + u8(V_MEMFD) + u8(0x0f) + setup
    b += vmsg(GET_INFLIGHT_FD, u64(0) + u64(0) + u16(1) + u16(8) + u32(0))  # its fd: memfd 1
    b += split_ring_bytes(0) + u8(V_NOTIFY) + u8(0x20) + vu_start(0, feat)
    b += u8(V_RECONNECT) + setup + vmsg(SET_INFLIGHT_FD, inflight, fds=[FD_MEMFD0 | 4])
    b += vu_start(0, feat)
    out['vu-inflight'] = b
    # ... and the front-end scribbles over the log in between
    b = u8(0) + u8(0) + u8(V_MEMFD) + u8(0x0f) + setup
    b += vmsg(GET_INFLIGHT_FD, u64(0) + u64(0) + u16(1) + u16(8) + u32(0))
    b += split_ring_bytes(0) + u8(V_NOTIFY) + u8(0x20) + vu_start(0, feat) + u8(V_RECONNECT)
    b += memfd_write(64 + 8, b'\x01' + bytes(7), memfd=1) + memfd_write(12, u16(0x1234), memfd=1)
    b += setup + vmsg(SET_INFLIGHT_FD, inflight, fds=[FD_MEMFD0 | 4]) + vu_start(0, feat)
    out['vu-inflight-corrupt'] = b
    # malformed: too many fds, a cut message, a wrong size
    b = u8(0) + u8(0) + u8(V_MEMFD) + u8(0)
    b += u8(V_MSG) + u8(GET_FEATURES) + u8(0) + u8(0) + u8(0x09) + u8(2) * 9
    b += u8(V_CUT) + u8(SET_FEATURES) + u8(0) + u8(0) + u64(1 << 32) + u8(0) + u8(7)
    b += u8(V_MSG) + u8(SET_VRING_NUM) + u8(0) + u8(0xc0) + u16(4) + u32(0) + u8(0)
    out['vu-malformed'] = b
    return out

def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')
    for harness, seeds in [('fuzz_split_dev', split_seeds()), ('fuzz_packed_dev', packed_seeds()),
                           ('fuzz_blk_req', blk_seeds()), ('fuzz_vhost_user', vu_seeds())]:
        d = os.path.join(outdir, harness)
        os.makedirs(d, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(d, 'seed-' + name), 'wb') as f:
                f.write(data)
        print('%s: %d seeds' % (harness, len(seeds)))

if __name__ == '__main__':
    main()
