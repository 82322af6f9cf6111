# expect: ok
# kind: os-boundary
# attack: connect to the abstract unix socket "\0evonas-test" (the test listens there), send to "\0evonas-test-dgram", and to a path socket (/run/systemd/private); seccomp refuses socket creation, Landlock scopes abstract sockets; raises if it got through
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
MODS = AG("modules")(AG("__globals__")(typing.cast)["sys"])
SOCKET = MODS["socket"]
MAKE = AG("socket")(SOCKET)
CONNECTED = []
for addr in ("\0evonas-test", "/run/systemd/private", "/var/run/docker.sock"):
    try:
        conn = MAKE(SOCKET.AF_UNIX, SOCKET.SOCK_STREAM)
        conn.connect(addr)
        conn.sendall(b"pwned over unix\n")
        CONNECTED.append(repr(addr))
    except Exception:
        pass
try:
    MAKE(SOCKET.AF_UNIX, SOCKET.SOCK_DGRAM).sendto(b"pwned dgram", "\0evonas-test-dgram")
    CONNECTED.append("dgram")
except Exception:
    pass
if CONNECTED:
    raise RuntimeError(f"reached {CONNECTED}")


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(nn.relu(nn.Dense(35)(x)))
