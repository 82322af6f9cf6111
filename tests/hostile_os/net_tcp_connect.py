# expect: ok
# kind: os-boundary
# attack: TCP connect to 127.0.0.1:47631 (the test listens there), [::1] and 10.0.0.1:80, via socket.create_connection, AF_INET socket and a raw socket() syscall; seccomp refuses socket creation (and the net namespace and Landlock's TCP rules back it up); raises if it connected
import typing

import flax.linen as nn

AG = typing.operator.attrgetter
MODS = AG("modules")(AG("__globals__")(typing.cast)["sys"])
SOCKET = MODS["socket"]
CONNECTED = []
for addr in (("127.0.0.1", 47631), ("::1", 47631), ("10.0.0.1", 80)):
    try:
        SOCKET.create_connection(addr, timeout=2).sendall(b"pwned over tcp\n")
        CONNECTED.append(addr)
    except Exception:
        pass
try:
    conn = AG("socket")(SOCKET)(SOCKET.AF_INET, SOCKET.SOCK_STREAM)
    conn.connect(("127.0.0.1", 47631))
    CONNECTED.append("AF_INET socket")
except Exception:
    pass
if CONNECTED:
    raise RuntimeError(f"connected to {CONNECTED}")


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        return nn.Dense(10)(nn.relu(nn.Dense(34)(x)))
