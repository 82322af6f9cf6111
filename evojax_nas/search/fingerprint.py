"""A fingerprint that two programs share when they differ only in text: comments, docstrings, imports,
dead code (methods, classes and functions nothing reachable from Model uses, definitions a later one of the
same name replaces, statements after a return),
names of variables, helpers, fields and arguments, keyword order, `name=` labels, `jax.nn.f` for `nn.f`,
`features=32` for `32`, `kernel_size=3` for `(3,)`, constant arithmetic, and Model's fields written out as
their defaults. A child whose fingerprint was seen before is not trained: it would be the same network.

Only the source is read (an AST walk); nothing of the program runs."""

from __future__ import annotations

import ast
import builtins
import copy
import hashlib
import operator

# Names that mean the same in every program: modules, the Model, builtins, and what flax binds on `self`.
FIXED = {"nn", "jnp", "jax", "np", "numpy", "functools", "math", "typing", "lax", "random", "self", "Model",
         *dir(builtins)}
MODULE_API = {"param", "variable", "make_rng", "is_mutable_collection", "has_rng", "sow", "is_initializing",
              "bind", "apply", "init", "init_with_output", "scope", "name", "parent", "variables", "put_variable",
              "get_variable", "has_variable", "perturb", "tabulate", "setup", "__call__"}
POSITIONAL = {"Dense": ("features",), "Conv": ("features", "kernel_size"), "ConvTranspose": ("features", "kernel_size"),
              "Embed": ("num_embeddings", "features"), "GRUCell": ("features",), "LSTMCell": ("features",),
              "Dropout": ("rate",), "DenseGeneral": ("features",)}
TUPLE_ARGS = {"kernel_size", "strides", "window_shape", "kernel_dilation", "input_dilation"}
FOLD = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv}


def _strip(tree: ast.Module) -> ast.Module:
    """Drop imports and docstrings."""
    tree.body = [n for n in tree.body if not isinstance(n, ast.Import | ast.ImportFrom)]
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return tree


def _after_return(body: list[ast.stmt]) -> list[ast.stmt]:
    """A block cut after its first return or raise (what follows never runs)."""
    end = next((i for i, n in enumerate(body) if isinstance(n, ast.Return | ast.Raise)), len(body) - 1)
    return body[: end + 1]


def _prune(tree: ast.Module) -> ast.Module:
    """Drop dead code: methods that no kept method reaches through `self.`, and classes and functions that
    no kept code names, from Model's `__call__` and `setup` on (dunder methods always stay: Python calls
    them); statements after a return. Small LMs pad a copied parent with unused methods and classes."""
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                setattr(node, field, _after_return(block))
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}

    def defs(body: list[ast.stmt]) -> dict[str, ast.stmt]:
        return {n.name: n for n in body if isinstance(n, ast.FunctionDef | ast.ClassDef)}

    def live(body: list[ast.stmt], roots: set[str]) -> set[str]:
        """Names of the definitions in `body` reached from `roots` and from its other statements."""
        named = defs(body)
        keep = {n for n in named if n in roots or (n.startswith("__") and n.endswith("__")) or n in strings}
        todo = [named[n] for n in keep] + [n for n in body if not isinstance(n, ast.FunctionDef | ast.ClassDef)]
        while todo:
            for sub in ast.walk(todo.pop()):
                ref = sub.id if isinstance(sub, ast.Name) else sub.attr if (
                    isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id == "self"
                ) else None
                if ref in named and ref not in keep:
                    keep.add(ref)
                    todo.append(named[ref])
        return keep

    def prune_body(owner: ast.Module | ast.ClassDef, roots: set[str]) -> None:
        last = defs(owner.body)  # a name defined twice is the later definition
        owner.body = [n for n in owner.body if not isinstance(n, ast.FunctionDef | ast.ClassDef) or last[n.name] is n]
        keep = live(owner.body, roots)
        owner.body = [n for n in owner.body if not isinstance(n, ast.FunctionDef | ast.ClassDef) or n.name in keep]
        for cls in (n for n in owner.body if isinstance(n, ast.ClassDef)):
            prune_body(cls, {"__call__", "setup"})
        owner.body = owner.body or [ast.Pass()]

    top = defs(tree.body)
    if "Model" in top:
        prune_body(tree, {"Model"})
    return tree


def _model_defaults(tree: ast.Module) -> dict[str, ast.expr]:
    """Model's fields with their defaults (Model is built without arguments, so a field is its default);
    the declarations are removed."""
    defaults: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "Model":
            kept = []
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.value is not None:
                    defaults[item.target.id] = item.value
                else:
                    kept.append(item)
            node.body = kept or [ast.Pass()]
    return defaults


class _Canonical(ast.NodeTransformer):
    def __init__(self, defaults: dict[str, ast.expr]):
        self.defaults, self.names = defaults, {}
        self.in_model = False

    def rename(self, name: str) -> str:
        if name in FIXED:
            return name
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        outer, self.in_model = self.in_model, node.name == "Model"
        node.name = self.rename(node.name)
        self.generic_visit(node)
        self.in_model = outer
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        if node.name not in MODULE_API:
            node.name = self.rename(node.name)
        self.generic_visit(node)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg, node.annotation = self.rename(node.arg), None
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self.rename(node.id)
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if isinstance(node.value, ast.Name) and node.value.id == "self" and node.attr not in MODULE_API:
            if self.in_model and node.attr in self.defaults and isinstance(node.ctx, ast.Load):
                return self.visit(copy.deepcopy(self.defaults[node.attr]))
            node.attr = self.rename(node.attr)
            return node
        self.generic_visit(node)
        if isinstance(node.value, ast.Attribute) and isinstance(node.value.value, ast.Name) \
                and node.value.value.id == "jax" and node.value.attr == "nn":
            node.value = ast.Name("nn", ast.Load())  # flax.linen re-exports jax.nn's functions
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        node.annotation = ast.Name("T", ast.Load())
        self.generic_visit(node)
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        fold = FOLD.get(type(node.op))
        if fold and all(isinstance(v, ast.Constant) and type(v.value) is int for v in (node.left, node.right)):
            try:
                return ast.Constant(fold(node.left.value, node.right.value))
            except ZeroDivisionError:
                return node
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        layer = node.func.attr if isinstance(node.func, ast.Attribute) else None
        keywords = {k.arg: k for k in node.keywords if k.arg and k.arg != "name"}
        for position, field in enumerate(POSITIONAL.get(layer, ())):
            if len(node.args) == position and field in keywords:
                node.args.append(keywords.pop(field).value)
        for k in keywords.values():
            if k.arg in TUPLE_ARGS and isinstance(k.value, ast.Constant) and type(k.value.value) is int:
                k.value = ast.Tuple([k.value], ast.Load())
            if k.arg not in FIXED:
                k.arg = self.names.get(k.arg, k.arg)  # a helper's field passed by name
        if layer in ("Conv", "ConvTranspose") and len(node.args) > 1 and isinstance(node.args[1], ast.Constant) \
                and type(node.args[1].value) is int:
            node.args[1] = ast.Tuple([node.args[1]], ast.Load())
        node.keywords = sorted(keywords.values(), key=lambda k: k.arg) + [k for k in node.keywords if not k.arg]
        return node


def fingerprint(source: str) -> str:
    """16 hex digits shared by programs that differ only in text (the content hash when it does not parse)."""
    try:
        tree = _prune(_strip(ast.parse(source)))
        canonical = ast.unparse(_Canonical(_model_defaults(tree)).visit(tree))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        canonical = source.strip()
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
