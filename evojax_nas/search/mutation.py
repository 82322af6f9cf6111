"""The non-LM baseline's variation operator (`search.operator = "mutation"`): children written as source text
from their parents by rule, no language model, so the search measures what the LM adds over plain evolution.

A parent's knobs are the numbers a person would tune: a class field's default (a width, a hidden size, a
kernel, a tuple of widths) and the numeric arguments of a `nn.*` layer call (features, kernel and window
tuples, a dropout rate), but not the read-out (a number in a `return` statement: the task's output size) nor
arguments that only move shapes (padding, strides, axes). A child:
  - crossover, when two parents share a skeleton (the same source up to their knobs: one family at
    different settings): each knob from either parent;
  - mutation of its knobs (of the fitter parent otherwise): a width scaled by a factor drawn log-uniformly from
    1/2 to 2 (so a one-knob parent such as the GRU has dozens of children, not the 5 of a few fixed scales,
    of which 123 in 128 samples were duplicates), a kernel or window moved by 1 or 2, a rate moved by 0.1 in
    [0, 0.9]; how many knobs move grows with the prompt's temperature;
  - now and then a change of depth: a layer statement (`x = <nn layer of x>`) repeated or, when it occurs
    twice, dropped; a tuple of widths grown by its last width or cut by one.
Only `ast` reads a parent (nothing runs); the child goes through the same static check, sandbox, evaluator
and fitness as an LM's child."""

from __future__ import annotations

import ast
import copy
import dataclasses
from collections.abc import Sequence

import numpy as np

SHAPE_ONLY = frozenset({"padding", "strides", "axis", "kernel_dilation", "input_dilation", "feature_group_count"})
WIDTH_SCALE = 2.0  # a width moves by a factor in [1/WIDTH_SCALE, WIDTH_SCALE], log-uniform
DEPTH_CHANCE = 0.25  # of a structural change beside the knobs' (when the parent has a layer to repeat)


@dataclasses.dataclass(frozen=True)
class Knob:
    """A number of the source: its node's place in the walk, and what kind of setting it is."""

    index: int  # position among the tree's ast.Constant nodes (ast.walk order)
    kind: str  # "width" (an int alone), "kernel" (an int inside a tuple), "rate" (a float)


def _is_layer_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(
        node.func.value, ast.Name) and node.func.value.id == "nn"


def _numbers(node: ast.AST, in_tuple: bool = False) -> list[tuple[ast.Constant, str]]:
    """The tunable numbers an expression spells out directly: an int or float, or the ints of a tuple."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        if isinstance(node.value, float):
            return [(node, "rate")] if 0.0 <= node.value < 1.0 else []
        return [(node, "kernel" if in_tuple else "width")] if node.value >= 1 else []
    if isinstance(node, ast.Tuple) and not in_tuple:
        return [pair for element in node.elts for pair in _numbers(element, in_tuple=True)]
    return []


def _field_defaults(tree: ast.Module) -> list[ast.expr]:
    """The default of every class field that has one (`name: type = default`)."""
    return [stmt.value for node in ast.walk(tree) if isinstance(node, ast.ClassDef) for stmt in node.body
            if isinstance(stmt, ast.AnnAssign) and stmt.value is not None]


def knobs(tree: ast.Module) -> list[Knob]:
    """The tree's knobs, in walk order (see the module's docstring)."""
    returned = {id(n) for stmt in ast.walk(tree) if isinstance(stmt, ast.Return) for n in ast.walk(stmt)}
    found: dict[int, str] = {}
    for default in _field_defaults(tree):  # a tuple field is a list of widths (a kernel field is an int alone)
        found.update((id(c), "width" if k == "kernel" else k) for c, k in _numbers(default))
    for node in ast.walk(tree):
        if _is_layer_call(node) and id(node) not in returned:
            args = [*node.args, *(kw.value for kw in node.keywords if kw.arg not in SHAPE_ONLY)]
            found.update((id(c), k) for arg in args for c, k in _numbers(arg))
    return [Knob(i, found[id(c)]) for i, c in enumerate(_constants(tree)) if id(c) in found]


def _constants(tree: ast.Module) -> list[ast.Constant]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Constant)]


def skeleton(tree: ast.Module) -> str:
    """The source up to its knobs: equal for two programs of one family at different settings."""
    blank = copy.deepcopy(tree)
    constants = _constants(blank)
    for knob in knobs(tree):
        constants[knob.index].value = 0
    return ast.dump(blank)


def _moved(value: int | float, kind: str, rng: np.random.Generator) -> int | float:
    if kind == "rate":
        return round(float(np.clip(value + rng.choice((-0.1, 0.1)), 0.0, 0.9)), 2)
    if kind == "kernel":
        return max(1, int(value) + int(rng.choice((-2, -1, 1, 2))))
    moved = max(1, int(round(int(value) * WIDTH_SCALE ** float(rng.uniform(-1.0, 1.0)))))
    if moved == value:  # a move moves
        moved = int(value) + (1 if value == 1 else int(rng.choice((-1, 1))))
    return moved


def _layer_statements(tree: ast.Module) -> list[tuple[list[ast.stmt], int]]:
    """(the body holding it, its position) of each statement `name = <expression using name with a layer>`."""
    found = []
    for node in ast.walk(tree):
        for field in ("body", "orelse"):
            block = getattr(node, field, None)
            if not isinstance(block, list):
                continue
            for i, stmt in enumerate(block):
                if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                        and any(_is_layer_call(n) for n in ast.walk(stmt.value))
                        and any(isinstance(n, ast.Name) and n.id == stmt.targets[0].id for n in ast.walk(stmt.value))):
                    found.append((block, i))
    return found


def _change_depth(tree: ast.Module, rng: np.random.Generator) -> bool:
    """Repeat a layer statement, drop one that occurs twice in a row, or grow or cut a tuple of widths."""
    options: list[tuple[str, object]] = []
    for block, i in _layer_statements(tree):
        options.append(("repeat", (block, i)))
        if i + 1 < len(block) and ast.dump(block[i]) == ast.dump(block[i + 1]):
            options.append(("drop", (block, i)))
    for default in _field_defaults(tree):
        if isinstance(default, ast.Tuple) and default.elts and all(
                isinstance(e, ast.Constant) and type(e.value) is int for e in default.elts):
            options.append(("grow", default))
            if len(default.elts) > 1:
                options.append(("cut", default))
    if not options:
        return False
    kind, target = options[int(rng.integers(len(options)))]
    if kind in ("repeat", "drop"):
        block, i = target  # type: ignore[misc]
        if kind == "repeat":
            block.insert(i + 1, copy.deepcopy(block[i]))
        else:
            del block[i]
    elif kind == "grow":
        target.elts.append(copy.deepcopy(target.elts[-1]))  # type: ignore[attr-defined]
    else:
        target.elts.pop()  # type: ignore[attr-defined]
    return True


def vary(parents: Sequence[str], rng: np.random.Generator, temperature: float = 0.6) -> str | None:
    """A child of the parents' sources (ascending fitness, as a prompt shows them; the last is the fittest),
    or None when no parent can be read or none has a knob or a layer to change."""
    trees = []
    for source in parents:
        try:
            trees.append(ast.parse(source))
        except SyntaxError:
            continue
    if not trees:
        return None
    child = copy.deepcopy(trees[-1])
    found, constants, family = knobs(child), _constants(child), skeleton(child)
    mates = [t for t in trees[:-1] if skeleton(t) == family]
    if mates:  # crossover: each knob from the fittest or from a mate of its family
        mate = _constants(mates[int(rng.integers(len(mates)))])
        for knob in found:
            if rng.random() < 0.5:
                constants[knob.index].value = mate[knob.index].value
    changed = False
    if found:
        chance = min(1.0, max(1.0 / len(found), temperature / 2))
        picked = [k for k in found if rng.random() < chance] or [found[int(rng.integers(len(found)))]]
        for knob in picked:
            constants[knob.index].value = _moved(constants[knob.index].value, knob.kind, rng)
        changed = True
    if rng.random() < DEPTH_CHANCE or not changed:
        changed = _change_depth(child, rng) or changed
    return ast.unparse(child) if changed else None  # the docstring stays; comments go (the fingerprint's too)
