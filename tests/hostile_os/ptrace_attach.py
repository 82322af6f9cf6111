# expect: ok
# kind: os-boundary
# attack: ptrace(TRACEME/ATTACH/SEIZE) on pids 0..300, process_vm_readv, pidfd_open + pidfd_getfd, kcmp, perf_event_open, userfaultfd, io_uring_setup; seccomp refuses each (it raises if any call succeeded)
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
CT = AG("__builtins__")(typing.cast)["__import__"]("ctypes")
LIBC = CT.CDLL(None, use_errno=True)
LIBC.syscall.restype = CT.c_long
WINS = []
for label, args in [("ptrace(TRACEME)", (101, 0, 0, 0, 0))] + [
        (f"ptrace(ATTACH,{pid})", (101, 16, pid, 0, 0)) for pid in range(0, 300)] + [
        (f"ptrace(SEIZE,{pid})", (101, 0x4206, pid, 0, 0)) for pid in (0, 1, 2)] + [
        ("process_vm_readv", (310, 1, 0, 0, 0, 0, 0)), ("pidfd_open(1)", (434, 1, 0)),
        ("pidfd_getfd", (438, 0, 3, 0)), ("kcmp", (312, 1, 1, 0, 0, 0)),
        ("perf_event_open", (298, 0, 0, -1, -1, 0)), ("userfaultfd", (323, 0)), ("io_uring_setup", (425, 8, 0))]:
    result = LIBC.syscall(*[CT.c_long(a) for a in args])
    if result >= 0 and label not in ("pidfd_open(1)",):
        WINS.append(f"{label}={result}")
if WINS:
    raise RuntimeError("kernel facilities reachable: " + ", ".join(WINS))


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(nn.relu(nn.Dense(30)(x)))
