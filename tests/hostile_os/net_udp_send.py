# expect: ok
# kind: os-boundary
# attack: UDP sendto 127.0.0.1:47631 (Landlock has no UDP rule) through a new socket, and sendto with an address through the inherited reply socket (a connected AF_UNIX pair); seccomp refuses socket(), the inherited one cannot reach the network; raises if a datagram left
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
MODS = AG("modules")(AG("__globals__")(typing.cast)["sys"])
SOCKET, OS, STAT = MODS["socket"], MODS["os"], MODS["stat"]
SENT = []
try:
    SENT.append(AG("socket")(SOCKET)(SOCKET.AF_INET, SOCKET.SOCK_DGRAM).sendto(b"pwned udp", ("127.0.0.1", 47631)))
except Exception:
    pass
for fd in range(3, 64):
    try:
        if STAT.S_ISSOCK(OS.fstat(fd).st_mode):
            inherited = AG("socket")(SOCKET)(fileno=OS.dup(fd))
            SENT.append(inherited.sendto(b"pwned udp", ("127.0.0.1", 47631)))
    except Exception:
        pass
if SENT:
    raise RuntimeError(f"sent datagrams: {SENT}")


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(nn.relu(nn.Dense(36)(x)))
