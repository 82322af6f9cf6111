# expect: ok
# kind: file-access
# attack: change metadata of files outside the work dir, which Landlock's file rights do not cover: chmod the secret to 04777 (setuid, world-readable) and its directory to 0777, utime, set a user xattr and a security.capability xattr (file capability cap_setuid+ep), chown; stat them and raise if anything changed (it must not: seccomp should refuse chmod/utime/xattr/chown)
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
OS = AG("modules")(AG("__globals__")(typing.cast)["sys"])["os"]
HOME = "/var/tmp/evonas-hostile-home"
SECRET = HOME + "/secret.txt"
RESULTS = []
try:
    UID0 = OS.stat(SECRET).st_uid  # as the sandbox sees it (unmapped owners show as the overflow uid)
except Exception:
    UID0 = None
for label, attempt in (
    ("chmod", lambda: OS.chmod(SECRET, 0o4777)),
    ("chmod-dir", lambda: OS.chmod(HOME, 0o777)),
    ("utime", lambda: OS.utime(SECRET, (12345, 12345))),
    ("setxattr", lambda: OS.setxattr(SECRET, "user.evonas", b"pwned")),
    ("chown", lambda: OS.chown(SECRET, 65534, 65534)),
    ("setcap", lambda: OS.setxattr(SECRET, "security.capability", (0x02000001).to_bytes(4, "little") + (
        1 << 7).to_bytes(4, "little") + b"\0" * 12)),
):
    try:
        attempt()
        RESULTS.append(label + " succeeded")
    except Exception as err:
        RESULTS.append(label + "!" + repr(err))
CHANGED = []
try:
    ST = OS.stat(SECRET)
    if ST.st_mode & 0o4000 or int(ST.st_mtime) == 12345 or ST.st_uid != UID0:
        CHANGED.append(f"secret mode={oct(ST.st_mode)} mtime={int(ST.st_mtime)} uid={ST.st_uid}")
    if OS.stat(HOME).st_mode & 0o777 == 0o777:
        CHANGED.append(f"home dir mode={oct(OS.stat(HOME).st_mode)}")
    for name in OS.listxattr(SECRET):
        CHANGED.append(f"xattr {name}={OS.getxattr(SECRET, name)!r}")
except Exception as err:
    RESULTS.append("stat!" + repr(err))
if CHANGED:
    raise RuntimeError("changed metadata outside the sandbox: " + "; ".join(CHANGED) + " (" + ", ".join(RESULTS) + ")")


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(nn.relu(nn.Dense(38)(x)))
