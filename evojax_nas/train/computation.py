"""What an exported forward pass computes, read from its StableHLO, never from the names, shapes or
collections the program chose for its variables (a program chooses those freely):

- FLOPs: 2 per multiply-accumulate of dot products and convolutions, 1 per element of other arithmetic,
  1 per reduced element; a loop counts its body once per iteration. Only loops whose trip count is a
  constant the stage can read (jax's scan and fori_loop: a counter from a constant, compared with a
  constant, stepped by a constant) are accepted in a forward pass: XLA's own cost analysis counts a loop
  body once, which a program can use to hide its cost.
- layers: dot products and convolutions between an activation (a value computed from the input) and a
  weight (one computed from variables and constants alone). `width` is their largest output feature
  count (the weight's free axes), `depth` the longest chain of them from the input to the output; a
  loop body's chain counts once (a recurrent cell is one layer), the products of two activations
  (attention scores) are not layers.
- constants: how many numbers the module carries in constants (`carried_constants`), for the size.

The module is the program called on concrete shapes and refined by jax (`refined_forward`), so every
shape is static and every call inlined."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
from jax._src.interpreters import mlir as jax_mlir
from jax._src.lib.mlir import ir
from jaxlib.mlir.dialects import stablehlo

from evojax_nas.train.exported import ExportError

ARITHMETIC = frozenset(f"stablehlo.{name}" for name in (
    "add", "subtract", "multiply", "divide", "remainder", "maximum", "minimum", "negate", "abs", "sign",
    "exponential", "exponential_minus_one", "log", "log_plus_one", "logistic", "tanh", "sqrt", "rsqrt", "cbrt",
    "power", "sine", "cosine", "tan", "atan2", "floor", "ceil", "round_nearest_even", "round_nearest_afz",
    "clamp", "select", "compare", "and", "or", "xor", "not", "popcnt", "shift_left", "shift_right_logical",
    "shift_right_arithmetic", "is_finite"))
BRANCHES = frozenset({"stablehlo.case", "stablehlo.if"})
MAX_CALL_DEPTH = 64


@dataclasses.dataclass(frozen=True)
class ForwardCost:
    """FLOPs of one forward pass and the width and depth of its layers."""

    flops: float
    width: int
    depth: int


@dataclasses.dataclass(frozen=True)
class _State:
    """What the analysis knows of a value: whether it depends on the input, and its layer depth if so."""

    active: bool = False
    depth: int = 0


WEIGHT = _State()


def _shape(value: Any) -> list[int]:
    return list(ir.RankedTensorType(value.type).shape)


def _elements(value: Any) -> int:
    return math.prod(_shape(value))


def _int_constant(value: Any) -> int | None:
    """The integer a value holds, when it is a scalar (or splat) constant."""
    owner = value.owner
    if (not isinstance(owner, ir.Block) and owner.name == "stablehlo.constant"
            and ir.RankedTensorType(value.type).element_type.typeid == ir.IntegerType.static_typeid):
        attr = ir.DenseElementsAttr(owner.attributes["value"])  # an integer constant: safe to read as one
        if attr.is_splat:
            return ir.IntegerAttr(attr.get_splat_value()).value
    return None


def _trip_count(op: Any) -> int:
    """Iterations of a `stablehlo.while` in jax's counted form; raises ExportError for any other loop."""
    cond, body = op.regions[0].blocks[0], op.regions[1].blocks[0]
    compare = _terminator(cond).operands[0].owner
    if not isinstance(compare, ir.Block) and compare.name == "stablehlo.compare":
        direction = str(compare.attributes["comparison_direction"])
        counter, bound = compare.operands[0], _int_constant(compare.operands[1])
        index = next((i for i, arg in enumerate(cond.arguments) if arg == counter), None)
        if bound is not None and index is not None and ("LT" in direction or "LE" in direction):
            start = _int_constant(op.operands[index])
            step_op = _terminator(body).operands[index].owner
            step = None
            if not isinstance(step_op, ir.Block) and step_op.name == "stablehlo.add":
                a, b = step_op.operands
                step = _int_constant(b) if a == body.arguments[index] else (
                    _int_constant(a) if b == body.arguments[index] else None)
            if start is not None and step is not None and step > 0:
                end = bound + 1 if "LE" in direction else bound
                return max(0, -(-(end - start) // step))
    raise ExportError("forbidden", "the forward pass has a loop whose number of iterations is not a constant "
                                   "the train stage can read (use lax.scan or fori_loop with fixed bounds)")


def _terminator(block: Any) -> Any:
    ops = list(block.operations)
    return ops[-1]


class _Analysis:
    """One walk over a refined module: FLOPs, and each value's state; layers' widths and depths."""

    def __init__(self, module: ir.Module):
        self.functions = {ir.StringAttr(op.attributes["sym_name"]).value: op for op in module.body.operations
                          if op.operation.name == "func.func"}
        self.states: dict[Any, _State] = {}
        self.widths: list[int] = [0]

    def state(self, value: Any) -> _State:
        return self.states.get(value, WEIGHT)

    def block(self, block: Any, arguments: Sequence[_State], calls: int = 0) -> tuple[list[_State], float]:
        """Analyse a block whose arguments have these states: (states of what it returns, its FLOPs)."""
        for arg, state in zip(block.arguments, arguments, strict=True):
            self.states[arg] = state
        flops = 0.0
        for op in block.operations:
            name = op.operation.name
            if name in ("func.return", "stablehlo.return"):
                return [self.state(v) for v in op.operands], flops
            flops += self.operation(op.operation, name, calls)
        return [], flops

    def operation(self, op: Any, name: str, calls: int) -> float:
        """Set the states of an operation's results; return its FLOPs."""
        inputs = [self.state(v) for v in op.operands]
        if name == "stablehlo.while":
            return self.loop(op, inputs, calls)
        if name in BRANCHES:
            return self.branches(op, inputs, calls)
        if name == "func.call":
            if calls >= MAX_CALL_DEPTH:
                raise ExportError("forbidden", "the forward pass nests calls too deeply")
            callee = self.functions[ir.FlatSymbolRefAttr(op.attributes["callee"]).value]
            outputs, flops = self.block(callee.regions[0].blocks[0], inputs, calls + 1)
            self._set(op, outputs)
            return flops
        if name in ("stablehlo.dot_general", "stablehlo.convolution", "stablehlo.dot"):
            return self.product(op, name, inputs)
        active = [s for s in inputs if s.active]
        merged = _State(True, max(s.depth for s in active)) if active else WEIGHT
        self._set(op, [merged] * len(op.results))
        if name in ARITHMETIC:
            return float(sum(_elements(r) for r in op.results))
        if name == "stablehlo.reduce":
            return float(sum(_elements(v) for v in op.operands[:len(op.operands) // 2]))
        if name == "stablehlo.reduce_window":
            window = math.prod(ir.DenseI64ArrayAttr(op.attributes["window_dimensions"]))
            return float(window * sum(_elements(r) for r in op.results))
        return 0.0

    def _set(self, op: Any, states: Sequence[_State]) -> None:
        for result, state in zip(op.results, states, strict=True):
            self.states[result] = state

    def product(self, op: Any, name: str, inputs: list[_State]) -> float:
        """A dot product or convolution: a layer when one side is an activation and the other a weight."""
        lhs, rhs = op.operands[0], op.operands[1]
        out = op.results[0]
        if name == "stablehlo.convolution":
            dims = stablehlo.ConvDimensionNumbers(op.attributes["dimension_numbers"])
            kernel = _shape(rhs)
            per_output = kernel[dims.kernel_input_feature_dimension] * math.prod(
                kernel[d] for d in dims.kernel_spatial_dimensions)
            features = kernel[dims.kernel_output_feature_dimension] if not inputs[1].active else \
                _shape(out)[dims.output_feature_dimension]
        else:
            if name == "stablehlo.dot":
                contracting, batching = ([len(_shape(lhs)) - 1], [0]), ([], [])
            else:
                dims = stablehlo.DotDimensionNumbers(op.attributes["dot_dimension_numbers"])
                contracting = (list(dims.lhs_contracting_dimensions), list(dims.rhs_contracting_dimensions))
                batching = (list(dims.lhs_batching_dimensions), list(dims.rhs_batching_dimensions))
            per_output = math.prod(_shape(lhs)[d] for d in contracting[0])
            weight = 0 if inputs[1].active else 1
            free = [size for d, size in enumerate(_shape((lhs, rhs)[weight]))
                    if d not in contracting[weight] and d not in batching[weight]]
            features = math.prod(free)
        if inputs[0].active != inputs[1].active:  # a layer
            self.widths.append(features)
            state = _State(True, max(s.depth for s in inputs if s.active) + 1)
        elif inputs[0].active:  # two activations (attention scores): not a layer
            state = _State(True, max(inputs[0].depth, inputs[1].depth))
        else:
            state = WEIGHT
        self._set(op, [state])
        return 2.0 * per_output * _elements(out)

    def loop(self, op: Any, inputs: list[_State], calls: int) -> float:
        """A while loop: its body's FLOPs times the trip count; which carried values depend on the input is
        found by running the body to a fixed point, their depth by one pass (a body counts once)."""
        trips = _trip_count(op)
        cond, body = op.regions[0].blocks[0], op.regions[1].blocks[0]
        active = [s.active for s in inputs]
        for _ in range(len(inputs) + 1):
            carried = [_State(a, s.depth) for a, s in zip(active, inputs, strict=True)]
            outputs, flops = self.block(body, carried, calls)
            grown = [a or o.active for a, o in zip(active, outputs, strict=True)]
            if grown == active:
                break
            active = grown
        _, cond_flops = self.block(cond, carried, calls)
        self._set(op, [_State(a, o.depth if a else 0) for a, o in zip(active, outputs, strict=True)])
        return trips * (flops + cond_flops)

    def branches(self, op: Any, inputs: list[_State], calls: int) -> float:
        """case / if: the costliest branch; a result depends on the input if the selector or a branch does."""
        costs, results = [], [WEIGHT] * len(op.results)
        selector = inputs[0] if inputs else WEIGHT
        for region in op.regions:
            outputs, flops = self.block(region.blocks[0], [], calls)
            costs.append(flops)
            results = [_State(r.active or o.active or selector.active, max(r.depth, o.depth))
                       for r, o in zip(results, outputs, strict=True)]
        self._set(op, results)
        return max(costs, default=0.0)


def analyse(module: ir.Module, active_arguments: Sequence[int]) -> ForwardCost:
    """FLOPs, width and depth of a refined module's `main`, whose arguments at these indices are the input."""
    with module.context:
        analysis = _Analysis(module)
        main = analysis.functions["main"].regions[0].blocks[0]
        states = [_State(i in active_arguments) for i in range(len(main.arguments))]
        outputs, flops = analysis.block(main, states)
    depth = max((s.depth for s in outputs if s.active), default=0)
    return ForwardCost(flops=flops, width=max(analysis.widths), depth=depth)


def refined_forward(fn: Callable[..., Any], *args: Any) -> ir.Module:
    """The StableHLO of `fn` (which calls exported programs) lowered for `args` (ShapeDtypeStructs or arrays)
    with every symbolic shape resolved and every call inlined by jax's shape refinement."""
    return jax_mlir.refine_polymorphic_shapes(jax.jit(fn).lower(*args).compiler_ir("stablehlo"))


def forward_cost(fn: Callable[..., Any], args: Sequence[Any], active_arguments: Sequence[int]) -> ForwardCost:
    """ForwardCost of `fn(*args)`; `active_arguments` are the indices, among the flattened leaves of args, of
    the input's leaves."""
    return analyse(refined_forward(fn, *args), active_arguments)
