# expect: interface
# kind: rigged-score
# attack: replace the exported programs in the real reply (json.dumps, which frames.send calls, wrapped in the sandbox) by garbage bytes that only look like base64 StableHLO, to crash or confuse the trusted worker's deserialiser; it must refuse them as malformed (interface), not die or hang
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
MODS = AG("modules")(AG("__globals__")(typing.cast)["sys"])
JSON, B64 = MODS["json"], MODS["base64"]
ORIGINAL = JSON.dumps
JUNK = B64.b64encode(b"\x14\x00\x00\x00" + b"\xff\x7f\x00\x00" * 4096).decode()


def forged_dumps(message, *args, **kwargs):
    if isinstance(message, dict) and "programs" in message:
        message = {**message, "programs": {name: JUNK for name in message["programs"]}}
    return ORIGINAL(message, *args, **kwargs)


JSON.dumps = forged_dumps


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(nn.relu(nn.Dense(39)(x)))
