# expect: crash
# kind: string-eval
# attack: typing.ForwardRef(...)._evaluate (via attrgetter) evals a string with the real builtins: list /tmp and create /var/tmp/evonas-pwned-forwardref; Landlock refuses (PermissionError in the message)
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
REF = typing.ForwardRef("[open('/var/tmp/evonas-pwned-forwardref', 'w'), __import__('os').listdir('/tmp')]")
LEAK = AG("_evaluate")(REF)({}, None, frozenset())
raise RuntimeError(f"forward reference evaluated to {LEAK!r}")


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
