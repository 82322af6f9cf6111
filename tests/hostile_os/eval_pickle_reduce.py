# expect: ok
# kind: string-eval
# attack: pickle.loads (reached through sys.modules / the real __import__) of crafted bytes calls os.system and builtins.open(w) on /var/tmp/evonas-pwned-pickle; seccomp and Landlock stop it
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
MODS = AG("modules")(AG("__globals__")(typing.cast)["sys"])
PICKLE = MODS["pickle"] if "pickle" in MODS else AG("__builtins__")(typing.cast)["__import__"]("pickle")
RESULTS = []
for payload in (b"cos\nsystem\n(S'touch /var/tmp/evonas-pwned-pickle'\ntR.",
                b"cbuiltins\nopen\n(S'/var/tmp/evonas-pwned-pickle-open'\nS'w'\ntR.",
                b"cos\nmkdir\n(S'/var/tmp/evonas-pwned-pickle-dir'\ntR."):
    try:
        RESULTS.append(repr(AG("loads")(PICKLE)(payload)))
    except Exception as err:
        RESULTS.append(repr(err))


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(nn.relu(nn.Dense(15)(x)))
