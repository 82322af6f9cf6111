# expect: crash
# kind: file-access
# attack: read /proc entries (mountinfo, status, cgroup, net/tcp, uid_map, /proc/self/root and cwd/..) and /sys/fs/cgroup into the error message: a reconnaissance leak, shows what Landlock lets through (/proc of its own pid namespace only)
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
OPEN = AG("__builtins__")(typing.cast)["open"]
OS = AG("modules")(AG("__globals__")(typing.cast)["sys"])["os"]
OUT = []
for path in ("/proc/self/mountinfo", "/proc/self/status", "/proc/self/cgroup", "/proc/net/tcp",
             "/proc/self/uid_map", "/proc/self/attr/current", "/proc/sys/kernel/hostname"):
    try:
        with OPEN(path) as handle:
            OUT.append(path + "=" + handle.read()[:300])
    except Exception as err:
        OUT.append(path + "!" + repr(err))
for path in ("/proc/self/root", "/proc/self/root/tmp", "/proc/self/cwd/..", "/proc/self/cwd/../..", "/sys/fs/cgroup"):
    try:
        OUT.append(path + "=" + repr(OS.listdir(path)[:20]))
    except Exception as err:
        OUT.append(path + "!" + repr(err))
raise RuntimeError(" | ".join(OUT))


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
