# expect: crash
# kind: file-access
# attack: read /proc/self/environ, /proc/1/environ and cmdlines and put them in the error message; the sandbox has a clean environment (only HOME/TMPDIR/JAX_PLATFORMS...) and its own /proc, so nothing of the host shows
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
OPEN = AG("__builtins__")(typing.cast)["open"]
OUT = []
for path in ("/proc/self/environ", "/proc/1/environ", "/proc/self/cmdline", "/proc/1/cmdline", "/proc/0/environ"):
    try:
        with OPEN(path, "rb") as handle:
            OUT.append(path + "=" + handle.read().decode(errors="replace").replace("\x00", " "))
    except Exception as err:
        OUT.append(path + "!" + repr(err))
raise RuntimeError(" | ".join(OUT))


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
