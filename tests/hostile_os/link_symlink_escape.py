# expect: crash
# kind: file-access
# attack: symlinks from the work dir to the secret, to /tmp and to /proc/self/root, then read/write through them; Landlock checks the resolved path, so every access fails and only errors reach the message
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
B = AG("__builtins__")(typing.cast)
OS = AG("modules")(AG("__globals__")(typing.cast)["sys"])["os"]
OS.chdir(AG("environ")(OS)["HOME"])  # the tmpfs work dir
OUT = []
for label, attempt in (
    ("mk-secret", lambda: OS.symlink("/var/tmp/evonas-hostile-home/secret.txt", "s")),
    ("read-secret", lambda: B["open"]("s").read()),
    ("mk-tmp", lambda: OS.symlink("/tmp", "t")),
    ("write-tmp", lambda: B["open"]("t/evonas-pwned-symlink", "w").write("pwned")),
    ("list-tmp", lambda: OS.listdir("t/")),
    ("mk-root", lambda: OS.symlink("/proc/self/root", "r")),
    ("read-root", lambda: B["open"]("r/tmp/evonas-hostile-home/secret.txt").read()),
    ("write-root", lambda: B["open"]("r/tmp/evonas-pwned-symlink-root", "w").write("pwned")),
):
    try:
        OUT.append(label + "=" + repr(attempt()))
    except Exception as err:
        OUT.append(label + "!" + repr(err))
raise RuntimeError(" | ".join(OUT))


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
