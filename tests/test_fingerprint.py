"""The fingerprint sees through text (and dead code) but never merges two different networks."""

from __future__ import annotations

import functools
from pathlib import Path

from evojax_nas.search import fingerprint as fingerprints
from evojax_nas.tasks.mnist1d import Mnist1D

fingerprint = functools.partial(fingerprints.fingerprint, class_name="Model")  # a classifier's programs
repair = Mnist1D().repair

GRU = (Path(__file__).resolve().parents[1] / "seeds" / "mnist1d" / "gru.py").read_text()

CALL = """
    @nn.compact
    def __call__(self, x, train: bool = False):
        x = x[..., None]
        h = nn.RNN(nn.GRUCell(features=self.hidden))(x)
        return nn.Dense(10)(h[:, -1])
"""


def model(call: str = CALL, extra: str = "", top: str = "", hidden: int = 32) -> str:
    return f"import flax.linen as nn\n\n{top}\nclass Model(nn.Module):\n    hidden: int = {hidden}\n{extra}{call}"


def test_dead_code_is_not_a_new_network():
    """Children the embedded LM wrote in a search, each the GRU seed padded with code that never runs, were
    trained and scored exactly as the seed; they now share its fingerprint."""
    seed = {fingerprint(GRU), fingerprint(repair(GRU))}
    forward = "\n    def forward(self, x):\n        return nn.Dense(10)(self.hidden)(x)\n"
    padded = {
        "unused methods": model(CALL + forward * 3),
        "an unused nested class": model(extra="\n    class Blocks:\n        def __call__(self, x):\n"
                                              "            return nn.Dense(2)(x)\n"),
        "an unused top-level helper": model(top="\ndef helper(x):\n    return nn.Dense(7)(x)\n\n"),
        "__call__ written twice": model(CALL.replace("h[:, -1])", "h[:, 0])") + CALL),
        "code after the return": model(CALL + "        x = nn.Dense(99)(x)\n        return x\n"),
    }
    for what, source in padded.items():
        assert fingerprint(source) in seed, what


def test_live_code_still_tells_networks_apart():
    base = fingerprint(model())
    different = {
        "another width": model(hidden=24),
        "an unused layer call (it still makes parameters)": model(CALL.replace(
            "        return", "        _ = nn.Dense(3)(h)\n        return")),
        "a helper Model calls": model(CALL.replace("nn.Dense(10)(h[:, -1])", "self.head(h[:, -1])"),
                                      extra="\n    def head(self, h):\n        return nn.Dense(10)(nn.relu(h))\n"),
        "the later of two __call__s": model(CALL + CALL.replace("h[:, -1])", "h.mean(axis=1))")),
        "a base class's method": model(CALL.replace("nn.Dense(10)(h[:, -1])", "nn.Dense(10)(self.block(h[:, -1]))"),
                                       top="class Base(nn.Module):\n    def block(self, h):\n"
                                           "        return nn.Dense(8)(h)\n\n").replace("(nn.Module):\n    hidden",
                                                                                    "(Base):\n    hidden"),
        "a dead class that fails as the module loads": model(extra="\n    class Blocks(Undefined):\n        pass\n"),
    }
    prints = {what: fingerprint(source) for what, source in different.items()}
    assert base not in prints.values(), [w for w, p in prints.items() if p == base]
    assert len(set(prints.values())) == len(prints)
