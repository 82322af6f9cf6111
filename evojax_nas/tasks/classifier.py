"""The classifier's contract with its candidates, one place: a `Model` Flax module mapping a batch of
signals to class logits. Its repairs (a channel axis before a convolution, a missing return, a flatten before
the final Dense, the `train` argument the trainer passes, the class count); the rest of the contract (the
tracer, the train stage) is in evaluate/trace.py and train/, and the task in tasks/mnist1d.py."""

from __future__ import annotations

import ast
import functools
import re

from evojax_nas.programs.repair import TaskRepairs, call_method, parse_expr

CLASS_NAME = "Model"
FLATTENED = re.compile(r"(.+)\.reshape\(\(?\(?\1\)?\.shape\[0\], -1\)?\)")  # x.reshape(x.shape[0], -1)


def repairs(num_classes: int) -> TaskRepairs:
    """A classifier of `num_classes` classes: its passes, and its class-count field's default."""
    return TaskRepairs(tree_passes=(_channel_axis, functools.partial(_ensure_return, num_classes=num_classes)),
                       source_passes=(insert_flatten, functools.partial(fix_interface, num_classes=num_classes)),
                       field_defaults=(("classes", num_classes),))


def _channel_axis(tree: ast.Module, class_name: str) -> None:
    """A `__call__` that convolves its input without giving it a channel axis first gets
    `if x.ndim == 2: x = x[..., None]` (a (batch, length) signal becomes (batch, length, 1))."""
    call = call_method(tree, class_name)
    if call is None or len(call.args.args) < 2:
        return
    x = call.args.args[1].arg
    for i, statement in enumerate(call.body):
        text = ast.unparse(statement)
        if re.search(r"None\]|expand_dims|reshape|\[:, *:, *None|newaxis", text):
            return  # the input is reshaped before any convolution
        if "nn.Conv(" in text:
            call.body.insert(i, ast.parse(f"if {x}.ndim == 2:\n    {x} = {x}[..., None]").body[0])
            return


def _ensure_return(tree: ast.Module, class_name: str, num_classes: int) -> None:
    """A `__call__` of `class_name` that never returns ends with a flatten and the class layer."""
    call = call_method(tree, class_name)
    if call is None or any(isinstance(n, ast.Return) for n in ast.walk(call)) or len(call.args.args) < 2:
        return
    x = call.args.args[1].arg
    call.body += ast.parse(f"{x} = {x}.reshape(({x}.shape[0], -1))\nreturn nn.Dense({num_classes})({x})").body


def insert_flatten(source: str, class_name: str) -> str | None:
    """Flatten everything but the batch axis before the final Dense of `class_name.__call__`
    (the fix for an output of rank > 2); None if there is no `return nn.Dense(...)(x)` to fix."""
    tree = ast.parse(source)
    call = call_method(tree, class_name)
    if call is None:
        return None
    for ret in (n for n in ast.walk(call) if isinstance(n, ast.Return) and isinstance(n.value, ast.Call)):
        layer = ret.value
        if isinstance(layer.func, ast.Call) and "Dense" in ast.unparse(layer.func.func) and len(layer.args) == 1:
            if FLATTENED.fullmatch(ast.unparse(layer.args[0])):
                return None  # flattened already
            arg = ast.unparse(layer.args[0])
            layer.args[0] = parse_expr(f"({arg}).reshape(({arg}).shape[0], -1)")
            return ast.unparse(tree) + "\n"
    return None


def fix_interface(source: str, class_name: str, num_classes: int) -> str:
    """Give `__call__` the `train` argument the trainer passes, and make a final `nn.Dense(k)` return
    num_classes outputs (children often copy a hidden width there)."""
    tree = ast.parse(source)
    call = call_method(tree, class_name)
    if call is None:
        return source
    args = call.args
    names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    if "train" not in names and args.kwarg is None:
        args.kwonlyargs.append(ast.arg("train"))
        args.kw_defaults.append(ast.Constant(False))
    for ret in (n for n in ast.walk(call) if isinstance(n, ast.Return) and isinstance(n.value, ast.Call)):
        layer = ret.value.func
        if (isinstance(layer, ast.Call) and ast.unparse(layer.func).endswith("Dense") and layer.args
                and isinstance(layer.args[0], ast.Constant) and isinstance(layer.args[0].value, int)):
            layer.args[0] = ast.Constant(num_classes)
    return ast.unparse(tree) + "\n"
