# expect: ok
# kind: attribute-chain
# attack: typing.operator.attrgetter -> typing.cast.__globals__["sys"].modules["os"], then os.system / os.popen / posix_spawn / execv to touch /var/tmp/evonas-pwned-system*; seccomp (no fork, no execve) stops it
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
OS = AG("modules")(AG("__globals__")(typing.cast)["sys"])["os"]
RESULTS = []
for attempt in (
    lambda: AG("system")(OS)("touch /var/tmp/evonas-pwned-system"),
    lambda: AG("popen")(OS)("touch /var/tmp/evonas-pwned-system-popen").read(),
    lambda: OS.posix_spawn("/usr/bin/touch", ["touch", "/var/tmp/evonas-pwned-system-spawn"], {}),
    lambda: OS.execv("/usr/bin/touch", ["touch", "/var/tmp/evonas-pwned-system-execv"]),
):
    try:
        RESULTS.append(repr(attempt()))
    except Exception as err:  # swallow: the model below must still train
        RESULTS.append(repr(err))


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(nn.relu(nn.Dense(11)(x)))
