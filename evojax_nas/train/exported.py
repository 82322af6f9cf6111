"""A candidate as the train stage sees it: exported StableHLO programs, checked before anything runs.

The bytes come from the sandboxed trace stage and are untrusted data. Before they are compiled: every op
must belong to the StableHLO/CHLO/func dialects, custom calls are limited to ALLOWED_CUSTOM_CALLS (host
callbacks are refused by name), host I/O ops and effects are refused, the program must be for this
platform on one device, unsharded. The identity of the computation is the hash of the modules printed
without their debug locations, so two texts that trace to the same program are trained once."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from typing import Any

import jax
from jax import export
from jax._src.export import _export
from jax._src.interpreters import mlir as jax_mlir
from jax._src.lib.mlir import ir

PROGRAMS = ("init", "train", "eval")  # what the trace stage exports (evaluate/trace.py)
KEY_IMPL = "threefry2x32"  # the key data both stages pass as u32[S, 2]
ALLOWED_DIALECTS = frozenset({"builtin", "func", "stablehlo", "chlo"})
# Shape assertions, and the dense linear-algebra kernels jax guarantees stable (orthogonal initialisers
# need a QR). Not in it: kernels written by the program (tpu_custom_call, mosaic), TF calls, sharding.
ALLOWED_CUSTOM_CALLS = frozenset({"shape_assertion", "Qr", "Eigh", "LuDecomposition",
                                  "ProductOfElementaryHouseholderReflectors", "cu_lu_pivots_to_permutation",
                                  "hip_lu_pivots_to_permutation"} | {
    t for t in _export._CUSTOM_CALL_TARGETS_GUARANTEED_STABLE
    if re.fullmatch(r"(lapack|cusolver|hipsolver)_\w+_ffi", t)})
HOST_IO_OPS = frozenset({"stablehlo.send", "stablehlo.recv", "stablehlo.infeed", "stablehlo.outfeed"})
# Ops that decide which loop strategy is fastest (part of the strategy cache's workload key).
HEAVY_OPS = ("convolution", "dot_general", "while", "reduce_window", "select_and_scatter", "sort", "fft",
             "scatter")


class ExportError(Exception):
    """The exported bytes are malformed or ask for something the train stage refuses; kind is a Failure kind."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def _walk(module_text: str) -> tuple[set[str], list[str], str]:
    """Op names, custom-call targets and the module printed without debug locations."""
    names: set[str] = set()
    targets: list[str] = []
    with jax_mlir.make_ir_context():
        module = ir.Module.parse(module_text)

        def visit(op: Any) -> Any:
            names.add(op.name)
            if op.name == "stablehlo.custom_call":
                attr = op.attributes["call_target_name"] if "call_target_name" in op.attributes else None
                targets.append(ir.StringAttr(attr).value if attr is not None else "")
            return ir.WalkResult.ADVANCE

        module.operation.walk(visit)
        text = module.operation.get_asm(enable_debug_info=False)
    return names, targets, text


def check_exported(name: str, exp: export.Exported, platform: str) -> tuple[set[str], str]:
    """Raise ExportError unless `exp` is a plain one-device program for `platform`; return its op names
    and canonical text (its VJP's included)."""
    if platform not in exp.platforms:
        raise ExportError("interface", f"{name} was exported for {list(exp.platforms)}, not {platform}")
    if exp.nr_devices != 1 or any(s is not None for s in (*exp.in_shardings_hlo, *exp.out_shardings_hlo)):
        raise ExportError("forbidden", f"{name} is sharded or asks for {exp.nr_devices} devices")
    if exp.ordered_effects or exp.unordered_effects:
        raise ExportError("forbidden", f"{name} has side effects (callbacks or I/O): "
                                       f"{[str(e) for e in (*exp.ordered_effects, *exp.unordered_effects)]}")
    names, targets, text = _walk(exp.mlir_module())
    for target in targets:
        if "callback" in target.lower():
            raise ExportError("forbidden", f"{name} calls back into the host ({target!r}): refused")
        if target not in ALLOWED_CUSTOM_CALLS:
            raise ExportError("forbidden", f"{name} makes custom call {target[:60]!r}, which is not allowed")
    foreign = sorted(n for n in names if n.split(".")[0] not in ALLOWED_DIALECTS or n in HOST_IO_OPS)
    if foreign:
        raise ExportError("forbidden", f"{name} uses ops the train stage refuses: {foreign[:5]}")
    if exp.has_vjp():
        vjp_names, vjp_text = check_exported(f"{name} (its VJP)", exp.vjp(), platform)
        names, text = names | vjp_names, text + vjp_text
    return names, text


MAX_SEEDS = 64


def _parse_name(name: str, expected: tuple[str, ...]) -> tuple[str, int]:
    program, _, count = name.partition("/")
    if program not in expected or not count.isdigit() or not 1 <= int(count) <= MAX_SEEDS:
        raise ExportError("interface", f"unexpected exported program {name[:40]!r}; expected name/seeds, "
                                       f"name in {expected}")
    return program, int(count)


def load_programs(blobs: dict[str, bytes], expected: tuple[str, ...], with_vjp: tuple[str, ...],
                  platform: str | None = None) -> tuple[dict[int, dict[str, export.Exported]], str, frozenset[str]]:
    """Deserialise and check untrusted exported programs named `program/S`: every name in `expected` for
    each seed count S, those in `with_vjp` serialised with their VJP. Returns ({S: {name: Exported}}, the
    hash of the computation, the op names); raises ExportError for anything the train stage will not run."""
    platform = platform or jax.default_backend()
    programs: dict[int, dict[str, export.Exported]] = {}
    texts, ops = [], set()
    for name in sorted(blobs):
        program, count = _parse_name(name, expected)
        if not isinstance(blobs[name], bytes | bytearray):
            raise ExportError("interface", f"{name}: not bytes")
        try:
            exp = export.deserialize(bytearray(blobs[name]))
        except Exception as err:  # noqa: BLE001 (untrusted bytes)
            raise ExportError("interface", f"{name}: not a serialised jax.export program "
                                           f"({type(err).__name__})") from err
        names, text = check_exported(name, exp, platform)
        ops |= names
        texts.append(f"{name}:{exp.in_avals}->{exp.out_avals}\n{text}")
        programs.setdefault(count, {})[program] = exp
    if not programs or any(set(p) != set(expected) for p in programs.values()):
        raise ExportError("interface", f"expected {expected} for each seed count, got {sorted(blobs)[:9]}")
    if not all(p[name].has_vjp() for p in programs.values() for name in with_vjp):
        raise ExportError("interface", f"{with_vjp} must be serialised with their VJP (vjp_order=1)")
    return programs, hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16], frozenset(ops)


@dataclasses.dataclass
class ExportedNetwork:
    """One candidate's exported programs (see evaluate/trace.py), checked, callable inside jit: for each
    seed count S, `programs[S]` holds init, train and eval; a call picks the set by its leading axis."""

    programs: dict[int, dict[str, export.Exported]]
    id: str  # hash of the computation
    ops: frozenset[str]

    @classmethod
    def from_bytes(cls, blobs: dict[str, bytes], platform: str | None = None) -> ExportedNetwork:
        """Deserialise and check; raises ExportError for anything the train stage will not run."""
        return cls(*load_programs(blobs, PROGRAMS, ("train",), platform))

    def _program(self, name: str, num_seeds: int) -> export.Exported:
        if num_seeds not in self.programs:
            raise ExportError("interface", f"no {name} program for {num_seeds} seeds (exported for "
                                           f"{sorted(self.programs)})")
        return self.programs[num_seeds][name]

    def init(self, param_keys: jax.Array, dropout_keys: jax.Array) -> tuple[Any, Any]:
        """u32[S,2] key data each -> (params, state), every leaf with a leading seed axis."""
        return self._program("init", param_keys.shape[0]).call(param_keys, dropout_keys)

    def apply_train(self, params: Any, state: Any, x: jax.Array, dropout_keys: jax.Array) -> tuple[Any, Any]:
        """x [S,B,...] -> (logits [S,B,C], new state), in training mode."""
        return self._program("train", x.shape[0]).call(params, state, x, dropout_keys)

    def apply_eval(self, params: Any, state: Any, x: jax.Array) -> jax.Array:
        """x [B,...] (the same batch for every seed) -> logits [S,B,C], in inference mode."""
        num_seeds = jax.tree.leaves(params)[0].shape[0] if jax.tree.leaves(params) else 1
        return self._program("eval", num_seeds).call(params, state, x)

    def fixed_batch(self, program: str) -> int | None:
        """The batch size an export was fixed to (None when its batch is symbolic)."""
        exp = next(iter(self.programs.values()))[program]
        dim = exp.in_avals[-2].shape[1] if program == "train" else exp.in_avals[-1].shape[0]
        return dim if isinstance(dim, int) else None

    def workload(self) -> str:
        """The heavy ops of the computation, for the strategy cache's key."""
        return "+".join(sorted({h for h in HEAVY_OPS for op in self.ops if op.endswith("." + h)}))
