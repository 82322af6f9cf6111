# expect: ok
# kind: os-boundary
# attack: open /proc/<pid>/mem, environ, maps and root for every visible pid, /proc/<ppid>, and blind host pids 1..5000; its own /proc shows only itself (pid 1), so it raises only if another process's memory or environment was readable
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
B = AG("__builtins__")(typing.cast)
OS = AG("modules")(AG("__globals__")(typing.cast)["sys"])["os"]
ME = OS.getpid()
PIDS = sorted({int(p) for p in OS.listdir("/proc") if p.isdigit()} | {OS.getppid()} | set(range(2, 5000)))
LEAKS = []
for pid in PIDS:
    if pid == ME:
        continue
    for entry in ("mem", "environ", "maps", "root/etc/hostname", "cmdline"):
        try:
            with B["open"](f"/proc/{pid}/{entry}", "rb") as handle:
                data = handle.read(200)
            LEAKS.append(f"{pid}/{entry}={data!r}")
        except Exception:
            pass
if LEAKS:
    raise RuntimeError("read other processes: " + " | ".join(LEAKS[:20]))


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(nn.relu(nn.Dense(29)(x)))
