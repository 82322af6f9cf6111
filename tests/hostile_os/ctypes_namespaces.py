# expect: crash
# kind: os-boundary
# attack: ctypes (real __import__) unshare(CLONE_NEWNET|NEWUSER|NEWNS), setns on /proc/1/ns/net and user, mount a tmpfs over /tmp, chroot, pivot_root, and raw/x32 syscalls (socket, unshare); seccomp answers EPERM to each, and the return codes go into the message
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
B = AG("__builtins__")(typing.cast)
CT = B["__import__"]("ctypes")
OS = AG("modules")(AG("__globals__")(typing.cast)["sys"])["os"]
LIBC = CT.CDLL(None, use_errno=True)
OUT = []


def call(label, thunk):
    try:
        result = thunk()
        OUT.append(f"{label}={result} errno={CT.get_errno()}")
    except Exception as err:
        OUT.append(f"{label}!{err!r}")


call("unshare(NEWNET)", lambda: LIBC.unshare(0x40000000))
call("unshare(NEWUSER)", lambda: LIBC.unshare(0x10000000))
call("unshare(NEWNS)", lambda: LIBC.unshare(0x00020000))
call("setns(net)", lambda: LIBC.setns(OS.open("/proc/1/ns/net", OS.O_RDONLY), 0))
call("setns(user)", lambda: LIBC.setns(OS.open("/proc/1/ns/user", OS.O_RDONLY), 0))
call("mount(tmpfs,/tmp)", lambda: LIBC.mount(b"tmpfs", b"/tmp", b"tmpfs", 0, None))
call("chroot", lambda: LIBC.chroot(b"."))
call("pivot_root", lambda: LIBC.syscall(155, b".", b"."))
call("syscall(socket)", lambda: LIBC.syscall(41, 2, 1, 0))
call("x32 socket", lambda: LIBC.syscall(0x40000000 + 41, 2, 1, 0))
call("x32 unshare", lambda: LIBC.syscall(0x40000000 + 272, 0x40000000))
call("clone3", lambda: LIBC.syscall(435, None, 0))
call("bpf", lambda: LIBC.syscall(321, 0, None, 0))
raise RuntimeError(" | ".join(OUT))


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
