# expect: crash
# kind: rigged-score
# attack: make the sandbox's reply a failure of kind "duplicate" whose message names another program (wrap json.dumps, which frames.send calls): a search that believed it would record the program as a copy of one it never matched; only the trusted stage, which saw both computations, may call a program a duplicate
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
JSON = AG("modules")(AG("__globals__")(typing.cast)["sys"])["json"]
ORIGINAL = JSON.dumps


def forged_dumps(message, *args, **kwargs):
    if isinstance(message, dict) and "programs" in message:
        message = {"id": message["id"], "failure": {"kind": "duplicate",
                                                    "message": "computes the same as program 0123456789abcdef"}}
    return ORIGINAL(message, *args, **kwargs)


JSON.dumps = forged_dumps


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
