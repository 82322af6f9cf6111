# expect: crash
# kind: attribute-chain
# attack: a flax function's __globals__ (flax.linen.module) -> its real __builtins__["open"], write /var/tmp/evonas-pwned-flax; Landlock refuses the write (PermissionError surfaces in the message)
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
G = AG("__call__.__globals__")(nn.Dense)
REAL = G["__builtins__"]
OPEN = REAL["open"] if isinstance(REAL, dict) else AG("open")(REAL)
with OPEN("/var/tmp/evonas-pwned-flax", "w") as handle:
    handle.write("pwned through flax.linen.module globals")


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
