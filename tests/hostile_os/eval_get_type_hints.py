# expect: crash
# kind: string-eval
# attack: typing.get_type_hints(f, {}) evals a string annotation with the REAL builtins: os.system, then read the secret file into the error; seccomp refuses the fork, Landlock refuses the read
import typing

import flax.linen as nn


def probe(a: "(__import__('os').system('touch /var/tmp/evonas-pwned-hints'), open('/var/tmp/evonas-hostile-home/secret.txt').read())"):
    return a


typing.get_type_hints(probe, {})


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
