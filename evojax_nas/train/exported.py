"""A candidate as the train stage sees it: exported StableHLO programs, checked before anything runs.

The bytes come from the sandboxed trace stage and are untrusted data. Before they are compiled: every op
must belong to the StableHLO/CHLO/func dialects, host I/O ops and effects are refused, the program must be
for this platform on one device, unsharded, and every custom call must be one jax itself emits, in exactly
its form (`check_custom_call`). The identity of the computation is the hash of the modules printed without
their debug locations, so two texts that trace to the same program are trained once. The numbers each
module carries in constants are counted here, for the size (train/cost.py)."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
import re
from typing import Any

import jax
import jax.numpy as jnp
from jax import export
from jax._src.interpreters import mlir as jax_mlir
from jax._src.lax import linalg
from jax._src.lib.mlir import ir

PROGRAMS = ("init", "train", "eval")  # what the trace stage exports (tasks/classifier_trace.py)
KEY_IMPL = "threefry2x32"  # the key data both stages pass as u32[S, 2]
ALLOWED_DIALECTS = frozenset({"builtin", "func", "stablehlo", "chlo"})
HOST_IO_OPS = frozenset({"stablehlo.send", "stablehlo.recv", "stablehlo.infeed", "stablehlo.outfeed"})
# The kernels a custom call may name, by the jax operation whose lowering emits them on some platform: the QR
# of orthogonal initialisers (geqrf, then the Householder product). A kernel writes its results where the
# call's declared types and layouts say; a call declaring results too small for its operands made XLA write
# 1 MB past a 4-byte buffer and kill the worker. So a call is accepted only in exactly the form (operand and
# result types, layouts, aliasing, every attribute) jax's own lowering gives it for those operands.
KERNELS = {"geqrf": linalg.geqrf, "Qr": linalg.geqrf, "orgqr": linalg.householder_product,
           "ungqr": linalg.householder_product, "ProductOfElementaryHouseholderReflectors": linalg.householder_product}
ELEMENT_TYPES = {"f32": jnp.float32, "f64": jnp.float64, "complex<f32>": jnp.complex64,
                 "complex<f64>": jnp.complex128}
# (target, operand types, result types, the op as printed with its values unnamed): all a custom call says.
# Attributes are compared as printed: reading one through the bindings aborts the process for some element
# types (a complex dense attribute), which a hostile module could use to kill the worker.
CallSignature = tuple[str, tuple[str, ...], tuple[str, ...], str]
VALUE_NAME = re.compile(r"%[\w.$#:-]+")


class ExportError(Exception):
    """The exported bytes are malformed or ask for something the train stage refuses; kind is a Failure kind."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclasses.dataclass(frozen=True)
class ModuleFacts:
    """What one walk over a module finds: op names, custom calls, the text without debug locations, and how
    many numbers its constants carry (one per distinct splat value, every element of the others)."""

    names: frozenset[str]
    calls: tuple[CallSignature, ...]
    text: str
    constants: int


def _signature(op: Any) -> CallSignature:
    target = ir.StringAttr(op.attributes["call_target_name"]).value if "call_target_name" in op.attributes else ""
    return (target, tuple(str(v.type) for v in op.operands), tuple(str(r.type) for r in op.results),
            VALUE_NAME.sub("%", str(op)))


def _constant_key(op: Any) -> tuple[Any, int]:
    """(identity, numbers carried) of a constant, read from the op as printed (see CallSignature): a splat
    (`dense<v>`, one value for every element) carries one number, any other value (`dense<[...]>`,
    `dense<"0x...">`, a resource blob) every element of its type."""
    text = VALUE_NAME.sub("%", str(op))
    value = text.partition("stablehlo.constant ")[2]
    if value.startswith("dense<") and value[6:7] not in ('[', '"'):
        return ("splat", value), 1
    return hashlib.sha256(value.encode()).hexdigest(), math.prod(ir.ShapedType(op.results[0].type).shape)


def walk_module(module_text: str) -> ModuleFacts:
    """Parse a module and read its facts."""
    names: set[str] = set()
    calls: list[CallSignature] = []
    constants: dict[Any, int] = {}
    with jax_mlir.make_ir_context():
        module = ir.Module.parse(module_text)

        def visit(op: Any) -> Any:
            names.add(op.name)
            if op.name == "stablehlo.custom_call":
                calls.append(_signature(op))
            elif op.name == "stablehlo.constant":
                key, count = _constant_key(op)
                constants[key] = count
            return ir.WalkResult.ADVANCE

        module.operation.walk(visit)
        text = module.operation.get_asm(enable_debug_info=False)
    return ModuleFacts(frozenset(names), tuple(calls), text, sum(constants.values()))


def _kernel(target: str) -> Any:
    return next((fn for name, fn in KERNELS.items() if name == target or f"{name}_" in target), None)


@functools.lru_cache(maxsize=256)
def reference_calls(target: str, operand_types: tuple[str, ...], platform: str) -> frozenset[CallSignature]:
    """The custom calls jax's own export emits, on `platform`, for the operation behind `target` on operands of
    these types (empty when there is none: a target of no known operation, operands it does not take)."""
    kernel = _kernel(target)
    if kernel is None:
        return frozenset()
    with jax_mlir.make_ir_context():
        types = [ir.RankedTensorType(ir.Type.parse(t)) for t in operand_types]
        if any(ir.ShapedType.is_dynamic_size(d) for t in types for d in t.shape) or any(
                str(t.element_type) not in ELEMENT_TYPES for t in types):
            return frozenset()
        avals = [jax.ShapeDtypeStruct(tuple(t.shape), ELEMENT_TYPES[str(t.element_type)]) for t in types]
    try:
        text = export.export(jax.jit(kernel), platforms=(platform,))(*avals).mlir_module()
    except Exception:  # noqa: BLE001 (operands the operation does not take)
        return frozenset()
    return frozenset(walk_module(text).calls)


def check_custom_call(name: str, call: CallSignature, platform: str) -> None:
    """Raise ExportError unless the call is a shape assertion (no results, scalar integer operands) or a
    kernel call exactly as jax emits it for its operands on `platform`."""
    target, operands, results, _ = call
    if "callback" in target.lower():
        raise ExportError("forbidden", f"{name} calls back into the host ({target[:60]!r}): refused")
    if target == "shape_assertion":
        if not results and operands and all(t in ("tensor<i1>", "tensor<i32>", "tensor<i64>") for t in operands):
            return
        raise ExportError("forbidden", f"{name} makes a shape assertion of an unexpected form: {operands[:4]}")
    if _kernel(target) is None:
        raise ExportError("forbidden", f"{name} makes custom call {target[:60]!r}, which is not allowed")
    if call not in reference_calls(target, operands, platform):
        raise ExportError("forbidden", f"{name} calls {target[:60]!r} on {list(operands)[:3]} in another form "
                                       f"(result types, layouts, aliasing or attributes) than jax's own lowering "
                                       f"gives it: refused before compilation")


def check_exported(name: str, exp: export.Exported, platform: str) -> ModuleFacts:
    """Raise ExportError unless `exp` is a plain one-device program for `platform`; return its module's facts
    (its VJP's op names and text included)."""
    if platform not in exp.platforms:
        raise ExportError("interface", f"{name} was exported for {list(exp.platforms)}, not {platform}")
    if exp.nr_devices != 1 or any(s is not None for s in (*exp.in_shardings_hlo, *exp.out_shardings_hlo)):
        raise ExportError("forbidden", f"{name} is sharded or asks for {exp.nr_devices} devices")
    if exp.ordered_effects or exp.unordered_effects:
        raise ExportError("forbidden", f"{name} has side effects (callbacks or I/O): "
                                       f"{[str(e) for e in (*exp.ordered_effects, *exp.unordered_effects)]}")
    facts = walk_module(exp.mlir_module())
    for call in facts.calls:
        check_custom_call(name, call, platform)
    foreign = sorted(n for n in facts.names if n.split(".")[0] not in ALLOWED_DIALECTS or n in HOST_IO_OPS)
    if foreign:
        raise ExportError("forbidden", f"{name} uses ops the train stage refuses: {foreign[:5]}")
    if exp.has_vjp():
        vjp = check_exported(f"{name} (its VJP)", exp.vjp(), platform)
        facts = dataclasses.replace(facts, names=facts.names | vjp.names, text=facts.text + vjp.text)
    return facts


MAX_SEEDS = 64


def _parse_name(name: str, expected: tuple[str, ...]) -> tuple[str, int]:
    program, _, count = name.partition("/")
    if program not in expected or not count.isdigit() or not 1 <= int(count) <= MAX_SEEDS:
        raise ExportError("interface", f"unexpected exported program {name[:40]!r}; expected name/seeds, "
                                       f"name in {expected}")
    return program, int(count)


@dataclasses.dataclass(frozen=True)
class CheckedPrograms:
    """Exported programs that passed every check: {S: {name: Exported}}, the hash of the computation, the op
    names of them all, and the numbers the constants of each `name/S` carry."""

    programs: dict[int, dict[str, export.Exported]]
    id: str
    ops: frozenset[str]
    constants: dict[str, int]


def load_programs(blobs: dict[str, bytes], expected: tuple[str, ...], with_vjp: tuple[str, ...],
                  platform: str | None = None) -> CheckedPrograms:
    """Deserialise and check untrusted exported programs named `program/S`: every name in `expected` for
    each seed count S (one seed among them: the train stage measures a network on it), those in `with_vjp`
    serialised with their VJP. Raises ExportError for anything the train stage will not run."""
    platform = platform or jax.default_backend()
    programs: dict[int, dict[str, export.Exported]] = {}
    texts, ops, constants = [], set(), {}
    for name in sorted(blobs):
        program, count = _parse_name(name, expected)
        if not isinstance(blobs[name], bytes | bytearray):
            raise ExportError("interface", f"{name}: not bytes")
        try:
            exp = export.deserialize(bytearray(blobs[name]))
        except Exception as err:  # noqa: BLE001 (untrusted bytes)
            raise ExportError("interface", f"{name}: not a serialised jax.export program "
                                           f"({type(err).__name__})") from err
        facts = check_exported(name, exp, platform)
        ops |= facts.names
        constants[name] = facts.constants
        texts.append(f"{name}:{exp.in_avals}->{exp.out_avals}\n{facts.text}")
        programs.setdefault(count, {})[program] = exp
    if 1 not in programs or any(set(p) != set(expected) for p in programs.values()):
        raise ExportError("interface", f"expected {expected} for one seed and for each other seed count, got "
                                       f"{sorted(blobs)[:9]}")
    if not all(p[name].has_vjp() for p in programs.values() for name in with_vjp):
        raise ExportError("interface", f"{with_vjp} must be serialised with their VJP (vjp_order=1)")
    return CheckedPrograms(programs, hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16], frozenset(ops),
                           constants)


@dataclasses.dataclass
class ExportedNetwork:
    """One candidate's exported programs (see tasks/classifier_trace.py), checked, callable inside jit: for each
    seed count S, `programs[S]` holds init, train and eval; a call picks the set by its leading axis."""

    programs: dict[int, dict[str, export.Exported]]
    id: str  # hash of the computation
    ops: frozenset[str]
    constants: int  # numbers carried by the constants of the one-seed forward pass (eval/1)

    @classmethod
    def from_bytes(cls, blobs: dict[str, bytes], platform: str | None = None) -> ExportedNetwork:
        """Deserialise and check; raises ExportError for anything the train stage will not run."""
        checked = load_programs(blobs, PROGRAMS, ("train",), platform)
        return cls(checked.programs, checked.id, checked.ops, checked.constants["eval/1"])

    def _program(self, name: str, num_seeds: int) -> export.Exported:
        if num_seeds not in self.programs:
            raise ExportError("interface", f"no {name} program for {num_seeds} seeds (exported for "
                                           f"{sorted(self.programs)})")
        return self.programs[num_seeds][name]

    def init(self, param_keys: jax.Array, dropout_keys: jax.Array) -> tuple[Any, Any]:
        """u32[S,2] key data each -> (params, state), every leaf with a leading seed axis. Each seed is
        initialised by the one-seed program (the same numbers): an S-seed init batches the QR of orthogonal
        initialisers (recurrent cells), and jaxlib's batched LAPACK QR, run on XLA's CPU thread pool while
        another does the same, deadlocked that pool (two threads on this 2-core CPU; every thread waiting)."""
        s = param_keys.shape[0]
        if s == 1 or 1 not in self.programs:
            return self._program("init", s).call(param_keys, dropout_keys)
        one = self._program("init", 1)
        per_seed = [one.call(param_keys[i:i + 1], dropout_keys[i:i + 1]) for i in range(s)]
        return jax.tree.map(lambda *a: jnp.concatenate(a), *per_seed)

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
