# expect: timeout
# kind: os-boundary
# attack: burn every CPU: 16 threads doing GIL-free numpy matmuls forever plus a Python loop in the main thread; the trace deadline kills the sandbox (RLIMIT_CPU backs it up)
import typing

import flax.linen as nn
import numpy

AG = typing.operator.attrgetter
THREADING = AG("modules")(AG("__globals__")(typing.cast)["sys"])["threading"]
A = numpy.ones((256, 256))


def burn():
    while True:
        A @ A


for _ in range(16):
    THREADING.Thread(target=burn, daemon=True).start()
N = 0
while True:
    N += 1


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
