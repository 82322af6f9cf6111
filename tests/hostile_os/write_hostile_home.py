# expect: ok
# kind: file-access
# attack: write /var/tmp/evonas-hostile-home/evonas-pwned.txt, and chmod, truncate, rename and unlink the secret file there; Landlock refuses all (the test checks the secret is intact)
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
B = AG("__builtins__")(typing.cast)
OS = AG("modules")(AG("__globals__")(typing.cast)["sys"])["os"]
HOME = "/var/tmp/evonas-hostile-home"
RESULTS = []
for attempt in (
    lambda: B["open"](HOME + "/evonas-pwned.txt", "w").write("pwned"),
    lambda: OS.chmod(HOME + "/secret.txt", 0o777),
    lambda: OS.truncate(HOME + "/secret.txt", 0),
    lambda: B["open"](HOME + "/secret.txt", "a").write("pwned"),
    lambda: OS.rename(HOME + "/secret.txt", HOME + "/evonas-pwned-renamed"),
    lambda: OS.unlink(HOME + "/secret.txt"),
    lambda: OS.utime(HOME + "/secret.txt", (0, 0)),
):
    try:
        RESULTS.append(repr(attempt()))
    except Exception as err:
        RESULTS.append(repr(err))


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(nn.relu(nn.Dense(18)(x)))
