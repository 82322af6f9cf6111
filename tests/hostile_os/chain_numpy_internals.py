# expect: ok
# kind: attribute-chain
# attack: numpy.info.__globals__["os"] (numpy.lib._utils_impl) and attrgetter("_core._internal.ctypes")(numpy) -> libc system/creat, os.open O_CREAT and ndarray.tofile outside the work dir; Landlock and seccomp stop it
import typing

import flax.linen as nn
import numpy

AG = typing.operator.attrgetter
OS = AG("__globals__")(numpy.info)["os"]
CT = AG("_core._internal.ctypes")(numpy)
LIBC = CT.CDLL(None)
RESULTS = []
for attempt in (
    lambda: OS.open("/var/tmp/evonas-pwned-numpy", OS.O_CREAT | OS.O_WRONLY, 0o644),
    lambda: AG("system")(LIBC)(b"touch /var/tmp/evonas-pwned-numpy-libc"),
    lambda: LIBC.creat(b"/var/tmp/evonas-pwned-numpy-creat", 0o644),
    lambda: AG("tofile")(numpy.arange(4))("/var/tmp/evonas-pwned-numpy-tofile"),
):
    try:
        RESULTS.append(repr(attempt()))
    except Exception as err:
        RESULTS.append(repr(err))


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(nn.relu(nn.Dense(13)(x)))
