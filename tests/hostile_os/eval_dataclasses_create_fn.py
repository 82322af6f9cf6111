# expect: ok
# kind: string-eval
# attack: dataclasses (from flax's module globals) ._create_fn exec()s arbitrary source lines with real builtins: import os, create /var/tmp/evonas-pwned-createfn, fork; Landlock and seccomp stop it
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
DC = AG("__call__.__globals__")(nn.Dense)["dataclasses"]
BODY = ["import os",
        "fd = os.open('/var/tmp/evonas-pwned-createfn', os.O_CREAT | os.O_WRONLY, 0o644)",
        "os.write(fd, b'pwned')",
        "return fd"]
RESULTS = []
try:
    RESULTS.append(AG("_create_fn")(DC)("pwn", [], BODY, globals={})())
except Exception as err:
    RESULTS.append(repr(err))
try:
    RESULTS.append(AG("_create_fn")(DC)("pwn2", [], ["import os", "return os.fork()"], globals={})())
except Exception as err:
    RESULTS.append(repr(err))


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(nn.relu(nn.Dense(14)(x)))
