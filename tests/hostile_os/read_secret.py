# expect: crash
# kind: file-access
# attack: read /var/tmp/evonas-hostile-home/secret.txt by open, os.open, numpy.fromfile, mmap, linecache, /proc/self/root and /proc/self/cwd/../../.. paths, and put whatever came back in the message; Landlock denies every read, so the secret never shows
import typing

import flax.linen as nn
import numpy

AG = typing.operator.attrgetter
B = AG("__builtins__")(typing.cast)
MODS = AG("modules")(AG("__globals__")(typing.cast)["sys"])
OS = MODS["os"]
SECRET = "/var/tmp/evonas-hostile-home/secret.txt"
OUT = []


def via_mmap(path):
    fd = OS.open(path, OS.O_RDONLY)
    return B["__import__"]("mmap").mmap(fd, 0, access=1)[:64]


for label, attempt in (
    ("open", lambda: B["open"](SECRET).read()),
    ("os.open", lambda: OS.read(OS.open(SECRET, OS.O_RDONLY), 200)),
    ("fromfile", lambda: AG("fromfile")(numpy)(SECRET, dtype=numpy.uint8).tobytes()),
    ("mmap", lambda: via_mmap(SECRET)),
    ("linecache", lambda: B["__import__"]("linecache").getline(SECRET, 1)),
    ("proc-root", lambda: B["open"]("/proc/self/root" + SECRET).read()),
    ("proc-cwd", lambda: B["open"]("/proc/self/cwd/../../.." + SECRET[4:]).read()),
    ("O_PATH", lambda: B["open"](f"/proc/self/fd/{OS.open(SECRET, 0o10000000)}").read()),
):
    try:
        OUT.append(label + "=" + repr(attempt()))
    except Exception as err:
        OUT.append(label + "!" + repr(err))
raise RuntimeError(" | ".join(OUT))


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
