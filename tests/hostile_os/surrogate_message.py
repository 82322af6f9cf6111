# expect: crash
# kind: take-down
# attack: fail with a message full of lone surrogates (not UTF-8: a strict encoder, a terminal or a log handler raises on them) and control characters; the failure must reach the journal, prompts and terminals as one clean line of valid UTF-8
import flax.linen as nn


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        raise RuntimeError("\ud800 broken \udfff\udc00 tail \x1b[2J" + "\ud83d" * 50)
