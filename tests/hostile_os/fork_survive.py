# expect: ok
# kind: os-boundary
# attack: leave a process alive after the trace: os.fork (child loops forever), os.setsid, subprocess.Popen(["sleep","1000"], start_new_session=True), posix_spawn, multiprocessing.Process and a ProcessPoolExecutor; seccomp refuses fork/exec and the pid namespace dies with its init
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
B = AG("__builtins__")(typing.cast)
MODS = AG("modules")(AG("__globals__")(typing.cast)["sys"])
OS, TIME = MODS["os"], MODS["time"]


def forever():
    while True:
        TIME.sleep(1)


def via_fork():
    pid = AG("fork")(OS)()
    if pid == 0:
        OS.setsid()
        forever()
    return pid


RESULTS = []
for attempt in (
    via_fork,
    lambda: OS.setsid(),
    lambda: B["__import__"]("subprocess").Popen(["/usr/bin/sleep", "1000"], start_new_session=True),
    lambda: OS.posix_spawn("/usr/bin/sleep", ["sleep", "1000"], {}, setsid=True),
    lambda: B["__import__"]("multiprocessing").Process(target=forever, daemon=False).start(),
    lambda: B["__import__"]("concurrent.futures", fromlist=["x"]).ProcessPoolExecutor(1).submit(forever),
):
    try:
        RESULTS.append(repr(attempt()))
    except Exception as err:
        RESULTS.append(repr(err))


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(nn.relu(nn.Dense(31)(x)))
