# expect: ok
# kind: attribute-chain
# attack: dotted attrgetter("version.subprocess") / ("_src.environment_info.subprocess") from jax, then subprocess.run / Popen(start_new_session=True) of sh and sleep 1000; seccomp (no fork, no execve) stops it
import typing

import flax.linen as nn
import jax

AG = typing.operator.attrgetter
SP = AG("version.subprocess")(jax)
SP2 = AG("_src.environment_info.subprocess")(jax)
RESULTS = []
for attempt in (
    lambda: SP.run(["/bin/sh", "-c", "touch /var/tmp/evonas-pwned-subprocess; sleep 1000"]),
    lambda: SP.Popen(["/usr/bin/sleep", "1000"], start_new_session=True),
    lambda: SP2.check_output(["/usr/bin/id"]),
    lambda: SP2.Popen("sleep 1000 &", shell=True, start_new_session=True),
):
    try:
        RESULTS.append(repr(attempt()))
    except Exception as err:
        RESULTS.append(repr(err))


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(nn.relu(nn.Dense(12)(x)))
