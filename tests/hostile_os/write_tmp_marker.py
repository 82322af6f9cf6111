# expect: ok
# kind: file-access
# attack: create /var/tmp/evonas-pwned-write-* by open(w), os.open(O_CREAT), mkdir, mkfifo, symlink, rename and shutil.move of a work-dir file; Landlock grants writes only under the work dir (and the tmpfs is another mount)
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
B = AG("__builtins__")(typing.cast)
OS = AG("modules")(AG("__globals__")(typing.cast)["sys"])["os"]
OS.chdir(AG("environ")(OS)["HOME"])  # the tmpfs work dir
with B["open"]("local.txt", "w") as handle:
    handle.write("pwned")
RESULTS = []
for attempt in (
    lambda: B["open"]("/var/tmp/evonas-pwned-write-open", "w").write("pwned"),
    lambda: OS.open("/var/tmp/evonas-pwned-write-osopen", OS.O_CREAT | OS.O_WRONLY, 0o644),
    lambda: OS.mkdir("/var/tmp/evonas-pwned-write-dir"),
    lambda: OS.mkfifo("/var/tmp/evonas-pwned-write-fifo"),
    lambda: OS.symlink("/etc/passwd", "/var/tmp/evonas-pwned-write-symlink"),
    lambda: OS.rename("local.txt", "/var/tmp/evonas-pwned-write-rename"),
    lambda: B["__import__"]("shutil").move("local.txt", "/var/tmp/evonas-pwned-write-move"),
):
    try:
        RESULTS.append(repr(attempt()))
    except Exception as err:
        RESULTS.append(repr(err))


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(nn.relu(nn.Dense(16)(x)))
