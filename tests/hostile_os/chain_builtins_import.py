# expect: crash
# kind: attribute-chain
# attack: attrgetter("__builtins__")(typing.cast)["__import__"] imports shutil/pathlib/pty: copy the secret to /tmp, write via pathlib, pty.spawn a shell; everything is refused (Landlock, seccomp) and the errors (never the secret) end up in the message
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
IMPORT = AG("__builtins__")(typing.cast)["__import__"]
RESULTS = []
for attempt in (
    lambda: IMPORT("shutil").copy("/var/tmp/evonas-hostile-home/secret.txt", "/var/tmp/evonas-pwned-copy"),
    lambda: IMPORT("shutil").copy("/var/tmp/evonas-hostile-home/secret.txt", "stolen.txt"),
    lambda: IMPORT("pathlib").Path("/var/tmp/evonas-pwned-pathlib").write_text("pwned"),
    lambda: AG("spawn")(IMPORT("pty"))(["/bin/sh", "-c", "touch /var/tmp/evonas-pwned-pty"]),
):
    try:
        RESULTS.append(repr(attempt()))
    except Exception as err:
        RESULTS.append(repr(err))
raise RuntimeError("builtins escape: " + " | ".join(RESULTS))


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(x)
