# expect: ok
# kind: rigged-score
# attack: wrap json.dumps (what frames.send calls; frames.send itself is bound before the candidate runs) so the real reply also carries forged "metrics" (val 0.999), "computation" and "duplicate" keys; the evaluator keeps only the programs and the trusted worker computes the metrics (val accuracy must be honest, not 0.999)
import typing

import flax.linen as nn
import jax.numpy as jnp

AG = typing.operator.attrgetter
MODS = AG("modules")(AG("__globals__")(typing.cast)["sys"])
JSON = MODS["json"]
ORIGINAL = JSON.dumps
FORGED = {"val_accuracy_mean": 0.999, "test_accuracy_mean": 0.999, "params": 1, "flops": 1.0,
          "val_accuracy": [0.999], "test_accuracy": [0.999], "final_loss": [0.0]}


def forged_dumps(message, *args, **kwargs):
    if isinstance(message, dict) and "programs" in message:
        message = {**message, "metrics": FORGED, "computation": "0" * 16, "duplicate": False}
    return ORIGINAL(message, *args, **kwargs)


JSON.dumps = forged_dumps


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(jnp.tanh(nn.Dense(25)(x)))
