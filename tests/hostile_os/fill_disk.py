# expect: ok
# kind: file-access
# attack: fill the disk: 200 MB into the work dir and 20,000 small files, then /dev/shm; the 64 MB tmpfs (and RLIMIT_FSIZE) stop it with ENOSPC/EFBIG, which it swallows before defining a working model
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
OS = AG("modules")(AG("__globals__")(typing.cast)["sys"])["os"]
OS.chdir(AG("environ")(OS)["HOME"])  # the tmpfs work dir
CHUNK = b"\xaa" * (1 << 20)
WRITTEN = 0
try:
    fd = OS.open("fill.bin", OS.O_CREAT | OS.O_WRONLY, 0o644)
    for _ in range(200):
        WRITTEN += OS.write(fd, CHUNK)
except Exception as err:
    STOP = repr(err)
try:
    for i in range(20000):
        OS.close(OS.open(f"f{i}", OS.O_CREAT | OS.O_WRONLY, 0o644))
except Exception as err:
    STOP2 = repr(err)
try:
    OS.write(OS.open("/dev/shm/evonas-pwned-fill", OS.O_CREAT | OS.O_WRONLY, 0o644), CHUNK)
except Exception as err:
    STOP3 = repr(err)
if WRITTEN > (64 << 20):
    raise RuntimeError(f"the disk limit did not hold: wrote {WRITTEN >> 20} MB")


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(nn.relu(nn.Dense(21)(x)))
