"""A fingerprint that two programs share when they differ only in text: comments, docstrings, imports,
dead code (inert methods, classes and functions that nothing else names, an inert definition a later one
of the same name replaces, statements after a return: see _prune), names of variables, helpers, fields and
arguments, keyword order, `name=` labels, `jax.nn.f` for `nn.f`, `features=32` for `32`, `kernel_size=3`
for `(3,)`, constant arithmetic, and Model's fields written out as their defaults. A child whose
fingerprint was seen before is not trained: it would be the same network.

Only the source is read (an AST walk); nothing of the program runs."""

from __future__ import annotations

import ast
import builtins
import copy
import hashlib
import operator

# Names that mean the same in every program: modules, builtins, and what flax binds on `self` (and the task's
# class, passed to fingerprint).
FIXED = {"nn", "jnp", "jax", "np", "numpy", "functools", "math", "typing", "lax", "random", "self",
         *dir(builtins)}
MODULE_API = {"param", "variable", "make_rng", "is_mutable_collection", "has_rng", "sow", "is_initializing",
              "bind", "apply", "init", "init_with_output", "scope", "name", "parent", "variables", "put_variable",
              "get_variable", "has_variable", "perturb", "tabulate", "setup", "__call__"}
FLAX_HOOKS = {"initialize_carry", "num_feature_axes", "__post_init__"}  # methods Flax calls by name
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


def _inert(node: ast.stmt, classes: set[str], decorators: tuple[str, ...] = ()) -> bool:
    """A definition whose creation runs nothing of its own: no decorators (but `decorators`), only constant
    defaults, and (a class) bases that are `nn.Module` or classes of the program, a body of inert methods and
    constant fields. Dropping it, when nothing uses it, cannot hide an error raised as the module loads."""
    if any(ast.unparse(d) not in decorators for d in getattr(node, "decorator_list", [])):
        return False
    if isinstance(node, ast.FunctionDef):
        args = node.args
        return all(isinstance(d, ast.Constant) for d in args.defaults + [d for d in args.kw_defaults if d is not None])
    if isinstance(node, ast.ClassDef):
        return (not node.keywords
                and all(ast.unparse(b) == "nn.Module" or isinstance(b, ast.Name) and b.id in classes
                        for b in node.bases)
                and all(_inert(n, classes) if isinstance(n, ast.FunctionDef | ast.ClassDef) else
                        isinstance(n, ast.Pass) or (isinstance(n, ast.AnnAssign | ast.Assign)
                                                   and isinstance(n.value, ast.Constant | type(None)))
                        for n in node.body))
    return False


def _references(node: ast.AST, skip: set[int]) -> set[str]:
    """Every name, attribute name and string in `node`, outside the definitions whose ids are in `skip`."""
    names: set[str] = set()
    todo = [node]
    while todo:
        n = todo.pop()
        if id(n) in skip:
            continue
        if isinstance(n, ast.Name):
            names.add(n.id)
        elif isinstance(n, ast.Attribute):
            names.add(n.attr)
        elif isinstance(n, ast.Constant) and isinstance(n.value, str):
            names.add(n.value)
        todo.extend(ast.iter_child_nodes(n))
    return names


def _prune(tree: ast.Module, class_name: str) -> ast.Module:
    """Drop dead code: statements after a return; an inert definition (see _inert) that a later one of the
    same name replaces with nothing between them naming it; an inert method, class or function whose name
    nothing else in the program mentions (as a name, an attribute of any object or a string), repeated to a
    fixed point. Dunder methods and Flax's own (`setup`, `__call__`, a cell's `initialize_carry`, ...) stay.
    Small LMs pad a copied parent with unused methods and classes; conservative by design: a definition
    kept that is dead only costs a training, one dropped that is live would merge two networks."""
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                setattr(node, field, _after_return(block))
    owners = [n for n in ast.walk(tree) if isinstance(n, ast.Module | ast.ClassDef)]
    classes = {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
    for owner in owners:  # a redefinition replaces an inert earlier one that nothing between them names
        body, drop = owner.body, set()
        for i, node in enumerate(body):
            # (nn.compact only marks the function: the class sees the later definition alone)
            if not (isinstance(node, ast.FunctionDef | ast.ClassDef) and _inert(node, classes, ("nn.compact",))):
                continue
            later = next((j for j in range(i + 1, len(body)) if isinstance(body[j], ast.FunctionDef | ast.ClassDef)
                          and body[j].name == node.name), None)
            if later is not None and not any(node.name in _references(n, set()) for n in body[i + 1: later]):
                drop.add(id(node))
        owner.body = [n for n in body if id(n) not in drop]
    keep_always = MODULE_API | FLAX_HOOKS | {class_name}
    candidates = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef) and _inert(n, classes)
                  and n.name not in keep_always and not (n.name.startswith("__") and n.name.endswith("__"))]
    dead = {id(n) for n in candidates}
    used = _references(tree, dead)  # what the code outside the candidates mentions
    live = [n for n in candidates if n.name in used]
    while live:  # a live candidate's own references make more of them live (the fixed point)
        dead -= {id(n) for n in live}
        used |= set().union(*(_references(n, dead) for n in live))
        live = [n for n in candidates if id(n) in dead and n.name in used]
    for owner in (n for n in ast.walk(tree) if isinstance(n, ast.Module | ast.ClassDef)):
        owner.body = [n for n in owner.body if id(n) not in dead] or [ast.Pass()]
    return tree


def _model_defaults(tree: ast.Module, class_name: str) -> dict[str, ast.expr]:
    """The task class's fields with their defaults (it is built without arguments, so a field is its
    default); the declarations are removed."""
    defaults: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            kept = []
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.value is not None:
                    defaults[item.target.id] = item.value
                else:
                    kept.append(item)
            node.body = kept or [ast.Pass()]
    return defaults


class _Canonical(ast.NodeTransformer):
    def __init__(self, defaults: dict[str, ast.expr], class_name: str):
        self.defaults, self.names, self.class_name = defaults, {}, class_name
        self.in_model = False

    def rename(self, name: str) -> str:
        if name in FIXED or name == self.class_name:
            return name
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        outer, self.in_model = self.in_model, node.name == self.class_name
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


def fingerprint(source: str, class_name: str) -> str:
    """16 hex digits shared by programs that differ only in text (the content hash when it does not parse);
    `class_name` is the task's class, whose name and fields' defaults are part of its contract."""
    try:
        tree = _prune(_strip(ast.parse(source)), class_name)
        canonical = ast.unparse(_Canonical(_model_defaults(tree, class_name), class_name).visit(tree))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        canonical = source.strip()
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
