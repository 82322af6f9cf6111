"""Landlock (Linux >= 5.13) through its three syscalls (ctypes): read-only paths, writable paths, no TCP,
and signals and abstract unix sockets scoped to the sandbox. The rights handled grow with the kernel's
ABI; every right the kernel knows is handled, so anything not granted below is denied.

Why not the `landlock` package: the four structures and three syscall numbers below are all of it, and
the sandbox must know exactly which ABI it got (to refuse, or to say what `degraded` lacks)."""

from __future__ import annotations

import ctypes
import errno
import os
import struct
from collections.abc import Iterable

CREATE_RULESET, ADD_RULE, RESTRICT_SELF = 444, 445, 446  # the same on every architecture
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1
(EXECUTE, WRITE_FILE, READ_FILE, READ_DIR, REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR, MAKE_REG, MAKE_SOCK,
 MAKE_FIFO, MAKE_BLOCK, MAKE_SYM, REFER, TRUNCATE, IOCTL_DEV) = (1 << i for i in range(16))
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # the only rights a file (not dir) takes
READ = READ_FILE | READ_DIR
WRITE = READ | WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_DIR | MAKE_REG | TRUNCATE
READ_WRITE_FILE = READ_FILE | WRITE_FILE  # a file read and written (/dev/null)
DEVICE = READ | WRITE_FILE | IOCTL_DEV  # an accelerator's device nodes
NET_BIND_TCP, NET_CONNECT_TCP = 1, 2
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1, 2
MIN_ABI = 6  # scoped signals and abstract sockets; below it the layer counts as unavailable

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _syscall(*args: int | ctypes.c_char_p | None) -> int:
    result = _libc.syscall(*[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"landlock: {errno.errorcode.get(err, err)}")
    return result


def abi_version() -> int:
    """The kernel's Landlock ABI (0 when Landlock is absent or disabled)."""
    try:
        return _syscall(CREATE_RULESET, None, 0, CREATE_RULESET_VERSION)
    except OSError:
        return 0


def _handled_fs(abi: int) -> int:
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


def restrict(read: Iterable[str], write: Iterable[str], read_write_files: Iterable[str] = (),
             devices: Iterable[str] = ()) -> int:
    """Restrict this thread (and the threads and children it starts later: call it while the process has one
    thread) for good; return the ABI used. Paths that do not exist are skipped. Raises OSError when Landlock is
    missing or older than MIN_ABI."""
    abi = abi_version()
    if abi < MIN_ABI:
        raise OSError(errno.ENOSYS, f"landlock ABI {abi} < {MIN_ABI} (scoped signals and sockets)")
    handled = _handled_fs(abi)
    attr = struct.pack("=QQQ", handled, NET_BIND_TCP | NET_CONNECT_TCP, SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL)
    ruleset = _syscall(CREATE_RULESET, ctypes.c_char_p(attr), len(attr), 0)
    try:
        rules = [(p, READ) for p in read] + [(p, WRITE) for p in write] + [
            (p, READ_WRITE_FILE) for p in read_write_files] + [(p, DEVICE) for p in devices]
        for path, rights in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                if not os.path.isdir(path):
                    rights &= FILE_RIGHTS
                rule = struct.pack("=Qi", rights & handled, fd)
                _syscall(ADD_RULE, ruleset, RULE_PATH_BENEATH, ctypes.c_char_p(rule), 0)
            finally:
                os.close(fd)
        _syscall(RESTRICT_SELF, ruleset, 0)
    finally:
        os.close(ruleset)
    return abi
