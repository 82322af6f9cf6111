# expect: ok
# attack: reach `os` through typing's globals, then write a marker in the project's folder and in /tmp and start
# a shell, all at import; the sandbox (Landlock, namespaces, seccomp) refuses each, and the triplet function
# itself is honest, so it trains
import typing

import flax.linen as nn
import jax.numpy as jnp

AG = typing.operator.attrgetter
MODULES = AG("modules")(AG("__globals__")(typing.cast)["sys"])
OS = MODULES["os"]
MARKER = "evonas-clrs-escape-marker"
PROJECT = OS.path.dirname(list(AG("__path__")(MODULES["evojax_nas"]))[0])
for attempt in (lambda: OS.open(OS.path.join(PROJECT, MARKER), OS.O_WRONLY | OS.O_CREAT),
                lambda: OS.open("/tmp/" + MARKER, OS.O_WRONLY | OS.O_CREAT),
                lambda: AG("system")(OS)("touch /tmp/" + MARKER + "-shell")):
    try:
        attempt()
    except Exception:
        pass


class TripletMessages(nn.Module):
    @nn.compact
    def __call__(self, z, edge_fts, graph_fts):
        tri = nn.Dense(4)(z)[:, :, None, None] + nn.Dense(4)(edge_fts)[:, None]
        return nn.Dense(edge_fts.shape[-1])(jnp.max(tri, axis=1))
