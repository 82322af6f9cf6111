# expect: crash
# kind: take-down
# attack: a well-sized reply frame whose payload is not JSON (invalid UTF-8 and binary), then exit; the evaluator reports garbage (crash) and keeps serving
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
MODS = AG("modules")(AG("__globals__")(typing.cast)["sys"])
OS, STAT = MODS["os"], MODS["stat"]
GARBAGE = b"\xff\xfe\x00\x01 this is not json {{{ \xc3\x28"
for fd in range(3, 64):
    try:
        if STAT.S_ISSOCK(OS.fstat(fd).st_mode):
            OS.write(fd, len(GARBAGE).to_bytes(8, "big") + GARBAGE)
    except Exception:
        pass
AG("_exit")(OS)(0)


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
