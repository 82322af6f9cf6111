# expect: ok
# kind: os-boundary
# attack: raw syscalls that make processes without libc's help: clone(SIGCHLD), clone(CLONE_PARENT), fork, vfork, clone3 and their x32 numbers; a child (if any) sleeps forever; seccomp refuses every one (clone3 gets ENOSYS)
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
CT = AG("__builtins__")(typing.cast)["__import__"]("ctypes")
TIME = AG("modules")(AG("__globals__")(typing.cast)["sys"])["time"]
LIBC = CT.CDLL(None, use_errno=True)
LIBC.syscall.restype = CT.c_long
RESULTS = []
for args in ((56, 17, 0, 0, 0, 0), (56, 0x8000 | 17, 0, 0, 0, 0), (57,), (58,), (435, 0, 0),
             (0x40000000 + 56, 17, 0, 0, 0, 0), (0x40000000 + 57,)):
    child = LIBC.syscall(*[CT.c_long(a) for a in args])
    if child == 0:
        while True:
            TIME.sleep(1)
    RESULTS.append((args[0], child, CT.get_errno()))


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(nn.relu(nn.Dense(32)(x)))
