"""A seccomp filter for the trace sandbox, as a classic BPF program installed through prctl (ctypes).

Why not pyseccomp: it binds the system's libseccomp.so.2, which a minimal machine may lack, for what is
here a list of syscall numbers and a dozen BPF instructions. The filter denies (EPERM):
- running programs (execve), processes other than threads (fork, vfork, clone without CLONE_THREAD or
  with namespace flags; clone3 answers ENOSYS so libc falls back to clone, whose flags can be read);
- reaching other processes (ptrace, process_vm_*, pidfd_getfd, kcmp);
- sockets of any kind (the parent's socket is inherited, never created);
- changing namespaces or mounts (unshare, setns, mount and the new mount API, pivot_root, chroot);
- kernel facilities that widen the attack surface (bpf, perf_event_open, userfaultfd, io_uring, keyrings,
  module loading, kexec, reboot, ...);
- changing any file's metadata (chmod, chown, utimes, extended attributes, inode flags): Landlock does
  not cover them, and a sandbox of a root search must not set a setuid bit or a file capability;
- clearing the parent-death signal (prctl PR_SET_PDEATHSIG), by which a sandbox would outlive the search;
- memory the address-space limit does not count (SysV shared memory, memfds) and other IPC.
Other architectures than x86_64 and aarch64 raise, so the sandbox fails closed."""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
RET_KILL_PROCESS = 0x80000000
LD_W_ABS, JEQ_K, JGE_K, JSET_K, RET_K = 0x20, 0x15, 0x35, 0x45, 0x06
CLONE_THREAD = 0x00010000
# CLONE_NEWTIME | NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
CLONE_NAMESPACES = 0x80 | 0x20000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000

DENIED = (
    "execve", "execveat", "fork", "vfork", "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd",
    "kcmp", "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4", "unshare", "setns",
    "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount",
    "fspick", "mount_setattr", "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "keyctl", "add_key", "request_key", "init_module", "finit_module", "delete_module",
    "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff", "acct", "syslog", "quotactl",
    "open_by_handle_at", "name_to_handle_at", "personality",
    "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat", "utime", "utimes",
    "utimensat", "futimesat", "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr",
    "fremovexattr", "setxattrat", "removexattrat", "link", "linkat",
    # memory outside the address-space limit (unmapped SysV segments, memfds), other IPC, and the rest
    "shmget", "shmat", "shmctl", "shmdt", "memfd_create", "memfd_secret", "msgget", "msgsnd", "msgrcv", "msgctl",
    "semget", "semop", "semtimedop", "semctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive",
    "mq_notify", "mq_getsetattr", "fanotify_init", "fanotify_mark", "modify_ldt", "iopl", "ioperm",
    "process_madvise", "quotactl_fd",
)
# The train worker's filter: it parses and compiles hostile StableHLO (XLA is its attack surface), so it may
# not run programs, reach other processes, change namespaces, mounts or file metadata, or use the kernel
# facilities above; threads only. It keeps sockets (in a network namespace of its own), shared memory and
# memfds, which accelerator runtimes use.
WORKER_DENIED = tuple(name for name in DENIED if name not in (
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4", "shmget", "shmat", "shmctl", "shmdt",
    "memfd_create", "msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop", "semtimedop", "semctl", "mq_open",
    "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr"))
PR_SET_PDEATHSIG = 1
# ioctl requests refused: inode flags (FS_IOC_SETFLAGS, 64- and 32-bit), FS_IOC_FSSETXATTR, TIOCSTI.
DENIED_IOCTLS = (0x40086602, 0x40046602, 0x401C5820, 0x5412)
# (audit arch, syscall numbers); x86_64's x32 ABI (numbers with bit 30 set) is denied as a whole.
ARCHES: dict[str, tuple[int, dict[str, int]]] = {
    "x86_64": (0xC000003E, {
        "execve": 59, "execveat": 322, "fork": 57, "vfork": 58, "clone": 56, "clone3": 435, "ptrace": 101,
        "process_vm_readv": 310, "process_vm_writev": 311, "pidfd_getfd": 438, "kcmp": 312, "socket": 41,
        "socketpair": 53, "connect": 42, "bind": 49, "listen": 50, "accept": 43, "accept4": 288,
        "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
        "mount_setattr": 442, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323, "io_uring_setup": 425,
        "io_uring_enter": 426, "io_uring_register": 427, "keyctl": 250, "add_key": 248, "request_key": 249,
        "init_module": 175, "finit_module": 313, "delete_module": 176, "kexec_load": 246,
        "kexec_file_load": 320, "reboot": 169, "swapon": 167, "swapoff": 168, "acct": 163, "syslog": 103,
        "quotactl": 179, "open_by_handle_at": 304, "name_to_handle_at": 303, "personality": 135,
        "chmod": 90, "fchmod": 91, "fchmodat": 268, "fchmodat2": 452, "chown": 92, "fchown": 93, "lchown": 94,
        "fchownat": 260, "utime": 132, "utimes": 235, "utimensat": 280, "futimesat": 261, "setxattr": 188,
        "lsetxattr": 189, "fsetxattr": 190, "removexattr": 197, "lremovexattr": 198, "fremovexattr": 199,
        "setxattrat": 463, "removexattrat": 466, "link": 86, "linkat": 265, "prctl": 157, "ioctl": 16,
        "shmget": 29, "shmat": 30, "shmctl": 31, "shmdt": 67, "memfd_create": 319, "memfd_secret": 447,
        "msgget": 68, "msgsnd": 69, "msgrcv": 70, "msgctl": 71, "semget": 64, "semop": 65, "semctl": 66,
        "semtimedop": 220, "mq_open": 240, "mq_unlink": 241, "mq_timedsend": 242, "mq_timedreceive": 243,
        "mq_notify": 244, "mq_getsetattr": 245, "fanotify_init": 300, "fanotify_mark": 301, "modify_ldt": 154,
        "iopl": 172, "ioperm": 173, "process_madvise": 440, "quotactl_fd": 443,
    }),
    "aarch64": (0xC00000B7, {
        "execve": 221, "execveat": 281, "clone": 220, "clone3": 435, "ptrace": 117, "process_vm_readv": 270,
        "process_vm_writev": 271, "pidfd_getfd": 438, "kcmp": 272, "socket": 198, "socketpair": 199,
        "connect": 203, "bind": 200, "listen": 201, "accept": 202, "accept4": 242, "unshare": 97,
        "setns": 268, "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51, "open_tree": 428,
        "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
        "mount_setattr": 442, "bpf": 280, "perf_event_open": 241, "userfaultfd": 282, "io_uring_setup": 425,
        "io_uring_enter": 426, "io_uring_register": 427, "keyctl": 219, "add_key": 217, "request_key": 218,
        "init_module": 105, "finit_module": 273, "delete_module": 106, "kexec_load": 104,
        "kexec_file_load": 294, "reboot": 142, "swapon": 224, "swapoff": 225, "acct": 89, "syslog": 116,
        "quotactl": 60, "open_by_handle_at": 265, "name_to_handle_at": 264, "personality": 92,
        "fchmod": 52, "fchmodat": 53, "fchmodat2": 452, "fchown": 55, "fchownat": 54, "utimensat": 88,
        "setxattr": 5, "lsetxattr": 6, "fsetxattr": 7, "removexattr": 14, "lremovexattr": 15, "fremovexattr": 16,
        "setxattrat": 463, "removexattrat": 466, "linkat": 37, "prctl": 167, "ioctl": 29,
        "shmget": 194, "shmctl": 195, "shmat": 196, "shmdt": 197, "memfd_create": 279, "memfd_secret": 447,
        "msgget": 186, "msgctl": 187, "msgrcv": 188, "msgsnd": 189, "semget": 190, "semctl": 191,
        "semtimedop": 192, "semop": 193, "mq_open": 180, "mq_unlink": 181, "mq_timedsend": 182,
        "mq_timedreceive": 183, "mq_notify": 184, "mq_getsetattr": 185, "fanotify_init": 262,
        "fanotify_mark": 263, "process_madvise": 440, "quotactl_fd": 443,
    }),
}


class _Filter(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def _refuse_argument(number: int, arg: int, values: tuple[int, ...], refuse: int) -> list[bytes]:
    """If the syscall is `number` and its argument `arg` (low 32 bits) is one of `values`, refuse; if it
    is `number` otherwise, allow; else fall through to what follows (which reloads the syscall number)."""
    block = [_op(LD_W_ABS, 16 + 8 * arg)]
    for i, value in enumerate(values):
        block.append(_op(JEQ_K, value, len(values) - i, 0))  # jump to the refusal after the last compare
    block += [_op(RET_K, RET_ALLOW), _op(RET_K, refuse)]
    return [_op(JEQ_K, number, 0, len(block)), *block]


def build(denied: tuple[str, ...] = DENIED, restrict_clone: bool = True) -> bytes:
    """The BPF program for this machine's architecture (raises OSError if it has no syscall table here)."""
    arch = platform.machine()
    if arch not in ARCHES:
        raise OSError(errno.ENOSYS, f"no seccomp syscall table for {arch}")
    audit_arch, numbers = ARCHES[arch]
    eperm, kill, allow = RET_ERRNO | errno.EPERM, RET_KILL_PROCESS, RET_ALLOW
    prog = [_op(LD_W_ABS, 4), _op(JEQ_K, audit_arch, 1, 0), _op(RET_K, kill), _op(LD_W_ABS, 0)]
    if arch == "x86_64":
        prog += [_op(JGE_K, 0x40000000, 0, 1), _op(RET_K, eperm)]
    for name in denied:
        if name in numbers:  # fork, vfork, chmod, ... exist only on x86_64
            prog += [_op(JEQ_K, numbers[name], 0, 1), _op(RET_K, eperm)]
    if restrict_clone:  # the full sandbox filter: argument checks too
        prog += _refuse_argument(numbers["prctl"], 0, (PR_SET_PDEATHSIG,), eperm)
        prog += _refuse_argument(numbers["ioctl"], 1, DENIED_IOCTLS, eperm)
        prog.append(_op(LD_W_ABS, 0))
        prog += [_op(JEQ_K, numbers["clone3"], 0, 1), _op(RET_K, RET_ERRNO | errno.ENOSYS),
                 _op(JEQ_K, numbers["clone"], 1, 0), _op(RET_K, allow),
                 # clone: its flags are the first argument (low 32 bits at offset 16)
                 _op(LD_W_ABS, 16), _op(JSET_K, CLONE_NAMESPACES, 0, 1), _op(RET_K, eperm),
                 _op(JSET_K, CLONE_THREAD, 0, 1), _op(RET_K, allow), _op(RET_K, eperm)]
    else:
        prog.append(_op(RET_K, allow))
    return b"".join(prog)


def install(denied: tuple[str, ...] = DENIED, restrict_clone: bool = True) -> None:
    """Install the filter on the calling thread (and every thread it starts later); needs no_new_privs.
    Raises OSError when the kernel refuses."""
    program = build(denied, restrict_clone)
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _Filter(len(program) // 8, ctypes.addressof(buffer))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp filter refused: {errno.errorcode.get(err, err)}")
