# expect: crash
# kind: take-down
# attack: a valid-size reply frame of deeply nested JSON ([[[[...]]]] 100,000 deep): json.loads in the evaluator raises RecursionError, which is not a ValueError; it must still become a failure, not an exception in the parent
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
MODS = AG("modules")(AG("__globals__")(typing.cast)["sys"])
OS, STAT = MODS["os"], MODS["stat"]
NESTED = b"[" * 100000 + b"]" * 100000
for fd in range(3, 64):
    try:
        if STAT.S_ISSOCK(OS.fstat(fd).st_mode):
            OS.write(fd, len(NESTED).to_bytes(8, "big") + NESTED)
    except Exception:
        pass
AG("_exit")(OS)(0)


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
