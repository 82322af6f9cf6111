# expect: ok
# kind: file-access
# attack: hard links from the work dir to the secret, to a file of the repository and (linkat AT_SYMLINK_FOLLOW) through /proc/self/fd, then read/append through them; the tmpfs is another mount (EXDEV) and Landlock refuses REFER
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
B = AG("__builtins__")(typing.cast)
OS = AG("modules")(AG("__globals__")(typing.cast)["sys"])["os"]
OS.chdir(AG("environ")(OS)["HOME"])  # the tmpfs work dir
RESULTS = []
for attempt in (
    lambda: OS.link("/var/tmp/evonas-hostile-home/secret.txt", "h"),
    lambda: OS.link("/work/main/pyproject.toml", "p"),
    lambda: OS.link(f"/proc/self/fd/{OS.open('/work/main/README.md', OS.O_RDONLY)}", "q", follow_symlinks=True),
    lambda: B["open"]("p", "a").write("pwned"),
    lambda: OS.link("local-nonexistent", "/var/tmp/evonas-pwned-hardlink"),
):
    try:
        RESULTS.append(repr(attempt()))
    except Exception as err:
        RESULTS.append(repr(err))
if OS.path.exists("h"):
    raise RuntimeError("hard link to the secret: " + B["open"]("h").read())


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(nn.relu(nn.Dense(20)(x)))
