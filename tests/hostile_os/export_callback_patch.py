# expect: forbidden
# kind: os-boundary
# attack: patch jax.export.export (attribute store) to add DisabledSafetyCheck.custom_call for the CPU callback targets and no-op jax's host-callback lowering check, then call jax.pure_callback (via attrgetter) in __call__, so the exported program carries a host callback; the trusted train stage must refuse it
import typing

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy

AG = typing.operator.attrgetter
EXPORT = jax.export
ORIGINAL = EXPORT.export
CHECKS = [EXPORT.DisabledSafetyCheck.custom_call(t) for t in ("xla_ffi_python_cpu_callback", "xla_python_cpu_callback",
                                                              "xla_ffi_python_gpu_callback", "xla_python_gpu_callback")]


def patched(fun, *args, **kwargs):
    kwargs["disabled_checks"] = list(kwargs.get("disabled_checks", ())) + CHECKS
    return ORIGINAL(fun, *args, **kwargs)


EXPORT.export = patched
AG("_src.export._export.__dict__")(jax)["_check_lowering"] = lambda lowering: None
PURE = AG("pure_callback")(jax)


def host(a):
    return numpy.asarray(a) * 2.0


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        if not isinstance(x.shape[0], int):  # a callback cannot take a symbolic batch: ask for a fixed one
            raise ValueError("needs a concrete batch")
        y = nn.Dense(10)(x)
        if not train:
            y = PURE(host, jax.ShapeDtypeStruct(y.shape, y.dtype), y, vmap_method="sequential")
        return y
