"""Mechanical repairs of a child's source: rewrites that turn what small LMs often get wrong into working
Python and Flax, and that leave a working child as it was. Each rewrites the AST (no code runs); `repair`
applies them all, and the passes a task adds for its own contract (`TaskRepairs`: the classifier's are in
tasks/classifier.py). The failures they fix were counted with `benchmarks/lm_yield.py`."""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Callable, Sequence

import flax.linen as nn

# PyTorch layer names small LMs write for Flax ones with the same leading arguments (features, kernel size).
TORCH_NAMES = re.compile(r"\bnn\.(Conv[123]d|Linear|BatchNorm[123]d)\b")
FLAX_NAMES = {"Linear": "Dense"}
# PyTorch activation modules -> Flax functions: `nn.ReLU()` becomes `nn.relu`, as a call or a value.
TORCH_ACTIVATIONS = {"ReLU": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "GELU": "gelu", "SiLU": "silu",
                     "ELU": "elu", "LeakyReLU": "leaky_relu", "Softplus": "softplus", "Mish": "mish",
                     "ReLU6": "relu6", "Hardswish": "hard_swish", "Identity": None}
# Recurrent layers small LMs write (PyTorch's, or Flax cells called on a sequence) -> nn.RNN over a Flax cell.
RECURRENT = {"LSTM": "LSTMCell", "GRU": "GRUCell", "RNN": "SimpleCell", "OptimizedLSTM": "OptimizedLSTMCell"}
CELL_NAMES = {"RNNCell": "SimpleCell", "GRUcell": "GRUCell", "LSTMcell": "LSTMCell"}  # cells Flax names otherwise
CELLS = {"LSTMCell", "GRUCell", "SimpleCell", "OptimizedLSTMCell", "MGUCell"}
RECURRENT_SIZE = ("features", "hidden_size", "hidden", "units", "num_units", "hidden_dim")
TORCH_POOLS = re.compile(r"(Max|Avg)Pool([123][dD])?")  # Flax has only the functions
TORCH_CONV = re.compile(r"[Cc]onv[123][dD]?")
# PyTorch keyword names of layer arguments -> Flax ones (None: no Flax counterpart, dropped).
TORCH_KEYWORDS = {"stride": "strides", "bias": "use_bias", "out_channels": "features", "out_features": "features",
                  "dilation": "kernel_dilation", "groups": "feature_group_count", "eps": "epsilon", "p": "rate",
                  "in_channels": None, "in_features": None, "num_features": None, "inplace": None,
                  "padding_mode": None, "affine": None, "track_running_stats": None}
# Defaults for hyper-parameter fields a child uses but never declares, by name, when no parent has one (the
# task's own, TaskRepairs.field_defaults, are tried before the last, which matches any name).
FIELD_DEFAULTS = (("kernel", 3), ("stride", 1), ("depth", 2), ("layers", 2), ("blocks", 2), ("heads", 2),
                  ("dropout", 0.1), ("rate", 0.1), ("", 32))


@dataclasses.dataclass(frozen=True)
class TaskRepairs:
    """What a task adds to the generic repairs for its contract: AST passes run after the generic rewrites
    (tree, class name), source passes run last ((source, class name) -> the repaired source, or None for no
    change), and defaults for fields its children use undeclared (name part, value), tried first."""

    tree_passes: tuple[Callable[[ast.Module, str], None], ...] = ()
    source_passes: tuple[Callable[[str, str], str | None], ...] = ()
    field_defaults: tuple[tuple[str, int | float], ...] = ()


def translate_torch_names(source: str) -> str:
    """`nn.Conv1d/2d/3d` -> `nn.Conv`, `nn.Linear` -> `nn.Dense`, `nn.BatchNorm1d/2d/3d` -> `nn.BatchNorm`."""
    return TORCH_NAMES.sub(lambda m: "nn." + FLAX_NAMES.get(m[1], m[1][:-2]), source)


def parse_expr(text: str) -> ast.expr:
    return ast.parse(text, mode="eval").body


def _nn_attr(node: ast.AST) -> str | None:
    """'X' for an `nn.X` expression."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "nn":
        return node.attr
    return None


def _window(size: ast.expr) -> str:
    """A PyTorch pooling size (an int or a tuple) as a Flax window over every spatial axis of `y`."""
    if isinstance(size, ast.Tuple) and size.elts:
        size = size.elts[0]
    if isinstance(size, ast.Constant):
        return f"({size.value!r},) * (y.ndim - 2)"
    text = ast.unparse(size)
    return f"(({text},) if isinstance({text}, int) else tuple({text}))[:1] * (y.ndim - 2)"


class _Substitute(ast.NodeTransformer):
    def __init__(self, name: str, value: ast.expr):
        self.name, self.value = name, value

    def visit_Name(self, node: ast.Name) -> ast.expr:
        return self.value if node.id == self.name else node


class _TorchModules(ast.NodeTransformer):
    """`nn.ReLU()` (or a bare `nn.ReLU`) -> `nn.relu`; `nn.MaxPool1d(k, s)` -> a max_pool over every spatial
    axis; `nn.Flatten()` -> a reshape to (batch, -1); PyTorch convolution and linear signatures."""

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        if _nn_attr(node) in CELL_NAMES:
            return parse_expr(f"nn.{CELL_NAMES[node.attr]}")
        fn = TORCH_ACTIVATIONS.get(_nn_attr(node) or "", "")
        return parse_expr(f"nn.{fn}") if fn else node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        name = _nn_attr(node.func)
        if name in TORCH_ACTIVATIONS:  # before visiting: a bare nn.ReLU is rewritten differently
            fn = TORCH_ACTIVATIONS[name]
            if fn is None:
                return parse_expr("lambda y: y")
            if name == "LeakyReLU" and node.args:
                return parse_expr(f"lambda y: nn.leaky_relu(y, {ast.unparse(node.args[0])})")
            return parse_expr(f"nn.{fn}")
        self.generic_visit(node)
        func = node.func
        if (isinstance(func, ast.Lambda) and len(func.args.args) == 1 and len(node.args) == 1
                and not node.keywords and isinstance(node.args[0], ast.Name)):  # (lambda y: f(y))(x) -> f(x)
            return _Substitute(func.args.args[0].arg, node.args[0]).visit(func.body)
        if name and TORCH_POOLS.fullmatch(name):
            args = {**dict(zip(("kernel_size", "stride", "padding"), node.args, strict=False)),
                    **{k.arg: k.value for k in node.keywords if k.arg}}
            size = args.get("kernel_size", ast.Constant(2))
            stride = args.get("stride", size)
            pool = "max_pool" if name.startswith("Max") else "avg_pool"
            return parse_expr(f"lambda y: nn.{pool}(y, {_window(size)}, strides={_window(stride)}, padding='SAME')")
        if name in RECURRENT and (name != "RNN" or all(isinstance(a, ast.Constant) for a in node.args)):
            return self._recurrent(node, RECURRENT[name])  # (nn.RNN is Flax's own, when given a cell)
        if (isinstance(node.func, ast.Call) and _nn_attr(node.func.func) in CELLS and len(node.args) == 1
                and not node.keywords and not isinstance(node.args[0], ast.Starred)):
            # nn.GRUCell(h)(x): a cell takes (carry, x); run it over the sequence
            node.func = ast.Call(parse_expr("nn.RNN"), [node.func], [])
            return node
        if name in ("max_pool", "avg_pool") and len(node.args) == 1 and "window_shape" not in {
                k.arg for k in node.keywords}:  # the window is required: a halving window over the length
            node.args.append(ast.Tuple([ast.Constant(2)], ast.Load()))
            if "strides" not in {k.arg for k in node.keywords}:
                node.keywords.append(ast.keyword("strides", ast.Tuple([ast.Constant(2)], ast.Load())))
            return node
        if name == "Flatten" and not node.args:
            return parse_expr("lambda y: y.reshape((y.shape[0], -1))")
        if name == "dropout" and node.args:  # nn.dropout(x, p) -> nn.Dropout(p)(x)
            rate = [*node.args[1:2], *(k.value for k in node.keywords if k.arg in ("rate", "p"))] or [ast.Constant(0.1)]
            return ast.Call(ast.Call(parse_expr("nn.Dropout"), rate[:1], []), node.args[:1], [])
        if name and TORCH_CONV.fullmatch(name) and len(node.args) >= 3:  # (in, out, kernel[, stride, padding])
            node.keywords += [ast.keyword(k, v) for k, v in zip(("strides", "padding"), node.args[3:], strict=False)]
            node.args = node.args[1:3]
        elif name == "Linear" and len(node.args) == 2:  # (in, out)
            node.args = node.args[1:]
        elif name in CELLS and len(node.args) >= 2:  # PyTorch's (input_size, hidden_size): the features
            node.args = node.args[1:2]
        elif name in CELLS and not node.args:  # features is required: a size keyword's, else the default width
            sizes = [k.value for k in node.keywords if k.arg in RECURRENT_SIZE]
            node.keywords = [k for k in node.keywords if k.arg not in RECURRENT_SIZE]
            node.args = sizes[:1] or [ast.Constant(dict(FIELD_DEFAULTS)[""])]
        elif name and name.startswith("BatchNorm") and name != "BatchNorm":  # (num_features)
            node.args = []
        if name and TORCH_CONV.fullmatch(name):
            node.func = parse_expr("nn.Conv")
        elif name and TORCH_NAMES.fullmatch(f"nn.{name}"):
            node.func = parse_expr(translate_torch_names(f"nn.{name}"))
        return node

    @staticmethod
    def _recurrent(node: ast.Call, cell: str) -> ast.expr:
        """`nn.LSTM(h)`, `nn.LSTM(input, h, layers)`, `nn.GRU(hidden_size=h, num_layers=2)` -> `nn.RNN(nn.LSTMCell(h))`
        (one layer, outputs for every step); the node as it was when no size is given."""
        sizes = [k.value for k in node.keywords if k.arg in RECURRENT_SIZE] or node.args[1:2] or node.args[:1]
        if not sizes:
            return node
        return ast.Call(parse_expr("nn.RNN"), [ast.Call(parse_expr(f"nn.{cell}"), [sizes[0]], [])], [])


def _flax_fields(name: str) -> list[str] | None:
    """Constructor argument order of a flax.linen module class (dataclass fields), None if not one."""
    cls = getattr(nn, name, None)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        return None
    return [f.name for f in dataclasses.fields(cls) if f.name not in ("parent", "name")]


class _LayerArguments(ast.NodeTransformer):
    """Keywords of flax.linen layers: PyTorch names become Flax ones (`stride` -> `strides`, `bias` ->
    `use_bias`, ...); keywords the layer does not take, or that repeat a positional argument or an earlier
    keyword, are dropped (the first value wins)."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        fields = _flax_fields(_nn_attr(node.func) or "")
        if fields is None:
            return node
        taken = set(fields[: len(node.args)])
        keywords = []
        for keyword in node.keywords:
            arg = TORCH_KEYWORDS.get(keyword.arg, keyword.arg) if keyword.arg else None
            if keyword.arg is None or (arg in fields and arg not in taken):  # (None: **kwargs, kept)
                keyword.arg = arg
                value = keyword.value
                if (arg == "padding" and isinstance(value, ast.Tuple) and value.elts
                        and all(isinstance(e, ast.Constant) and isinstance(e.value, int) for e in value.elts)):
                    keyword.value = value.elts[0]  # PyTorch's per-axis ints: symmetric padding
                keywords.append(keyword)
                taken.add(arg)
        node.keywords = keywords
        return node


def _field_default(name: str, parents: Sequence[str], defaults: Sequence[tuple[str, int | float]]) -> ast.expr:
    """A parent's default for a field of this name, else one chosen by the name (the task's `defaults` too)."""
    for source in parents:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name
                    and node.value is not None):
                return node.value
    *named, catch_all = FIELD_DEFAULTS
    return ast.Constant(next(value for key, value in (*named, *defaults, catch_all) if key in name.lower()))


def _declare_missing_fields(tree: ast.Module, parents: Sequence[str], class_name: str,
                            defaults: Sequence[tuple[str, int | float]]) -> None:
    """Declare `self.X` attributes that a Module class reads but never declares or assigns; drop fields
    declared without a default that nothing reads, and give `class_name` (built without arguments)
    defaults for those it reads."""
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        read_attrs = {n.attr for n in ast.walk(cls) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
                      and n.value.id == "self" and isinstance(n.ctx, ast.Load)}
        bare = [n for n in cls.body if isinstance(n, ast.AnnAssign) and n.value is None
                and isinstance(n.target, ast.Name)]
        for field in bare if cls.name == class_name else ():  # (a helper's may be passed by its caller)
            if field.target.id not in read_attrs:
                cls.body.remove(field)
            else:
                field.value = _field_default(field.target.id, parents, defaults)
        fields = [n for n in cls.body if isinstance(n, ast.AnnAssign)]
        ordered = sorted(fields, key=lambda n: n.value is not None)  # no default after a default
        if ordered != fields:
            slots = iter(ordered)
            cls.body = [next(slots) if isinstance(n, ast.AnnAssign) else n for n in cls.body]
        cls.body = cls.body or [ast.Pass()]
        declared = {n.target.id for n in cls.body if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}
        declared |= {t.id for n in cls.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
        declared |= {n.name for n in cls.body if isinstance(n, ast.FunctionDef)}
        assigned, read = set(), []
        for node in ast.walk(cls):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
                if isinstance(node.ctx, ast.Store):
                    assigned.add(node.attr)
                elif node.attr not in read:
                    read.append(node.attr)
        missing = [a for a in read if a not in declared | assigned and not hasattr(nn.Module, a)]
        at = next((i for i, n in enumerate(cls.body) if not isinstance(n, ast.Expr | ast.AnnAssign)), 0)
        for name in reversed(missing):
            value = _field_default(name, parents, defaults)
            kind = type(value.value).__name__ if isinstance(value, ast.Constant) else {
                ast.Tuple: "tuple", ast.List: "tuple"}.get(type(value))
            if kind in ("int", "float", "bool", "str", "tuple"):
                cls.body.insert(at, ast.AnnAssign(ast.Name(name, ast.Store()), ast.Name(kind, ast.Load()),
                                                  value, simple=1))


MODULE_ALIASES = {"np", "jnp", "jax", "nn", "lax", "F", "torch", "math", "functools", "random", "optax", "flax"}


def _bare_fields(tree: ast.Module) -> None:
    """A name a method reads that nothing defines (not an argument, a local, a module name nor a builtin)
    becomes `self.name`: `nn.Dense(hidden)` in a Model with `hidden: int = 32`, or an undeclared
    hyper-parameter (then declared with a default by `_declare_missing_fields`). Left as it was, it raises
    NameError."""
    import builtins

    module = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    for top in (n for n in tree.body if not isinstance(n, ast.FunctionDef | ast.ClassDef)):  # at any depth
        module |= {n.id for n in ast.walk(top) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    module |= {(a.asname or a.name).split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)
               for a in n.names}  # (an import inside a method binds a local: known too)
    known = module | set(dir(builtins)) | MODULE_ALIASES
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        for fn in (f for f in cls.body if isinstance(f, ast.FunctionDef)):
            local = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
            local |= {a.arg for n in ast.walk(fn) if isinstance(n, ast.arguments)
                      for a in n.posonlyargs + n.args + n.kwonlyargs + [n.vararg, n.kwarg] if a}
            local |= {n.name for n in ast.walk(fn) if isinstance(n, ast.FunctionDef | ast.ClassDef | ast.ExceptHandler
                                                                 | ast.MatchAs | ast.MatchStar) and n.name}
            local |= {n.rest for n in ast.walk(fn) if isinstance(n, ast.MatchMapping) and n.rest}
            # (only the body: defaults and decorators run at class scope, where there is no self)
            for node in (n for statement in fn.body for n in ast.walk(statement)):
                for field, value in ast.iter_fields(node):
                    values = value if isinstance(value, list) else [value]
                    for i, child in enumerate(values):
                        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Load) \
                                and child.id not in known | local and child.id.islower():
                            new = ast.Attribute(ast.Name("self", ast.Load()), child.id, ast.Load())
                            if isinstance(value, list):
                                value[i] = new
                            else:
                                setattr(node, field, new)


def _field_values(tree: ast.Module, class_name: str) -> None:
    """Fields of a Module class: a list default (a mutable default, which dataclasses refuse) becomes a
    tuple; in `class_name`, a tuple of ints used whole as a layer's feature count (`nn.Conv(self.widths,
    ...)`, copied from a parent that loops over it) gives its layers its widths in turn, the last repeated."""
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)
                and any(ast.unparse(b).endswith("Module") for b in n.bases)):
        widths: dict[str, int] = {}
        for item in cls.body:
            if isinstance(item, ast.AnnAssign) and isinstance(item.value, ast.List):
                item.value = ast.Tuple(item.value.elts, ast.Load())
            if (cls.name == class_name  # built without arguments: its fields are their defaults
                    and isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
                    and isinstance(item.value, ast.Tuple) and item.value.elts
                    and all(isinstance(e, ast.Constant) and type(e.value) is int for e in item.value.elts)):
                widths[item.target.id] = len(item.value.elts)
        used = dict.fromkeys(widths, 0)
        layers = [n for n in ast.walk(cls) if isinstance(n, ast.Call)
                  and _nn_attr(n.func) in ("Dense", "Conv", "ConvTranspose")]
        for node in sorted(layers, key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0))):
            slots = [(node.args, 0)] if node.args else []
            slots += [(k, "value") for k in node.keywords if k.arg == "features"]
            for holder, key in slots:
                value = holder[key] if isinstance(holder, list) else getattr(holder, key)
                if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name) \
                        and value.value.id == "self" and value.attr in widths:
                    at = ast.Subscript(value, ast.Constant(min(used[value.attr], widths[value.attr] - 1)), ast.Load())
                    used[value.attr] += 1
                    if isinstance(holder, list):
                        holder[key] = at
                    else:
                        setattr(holder, key, at)


def _repeated_methods(tree: ast.Module) -> None:
    """A method the LM wrote again in the same class (a small LM repeats `__call__`, often cut short) keeps its
    first definition: the one written after the prompt's pattern (Python would keep the last)."""
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        names: set[str] = set()
        body = []
        for node in cls.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if node.name in names:
                    continue
                names.add(node.name)
            body.append(node)
        cls.body = body


def _module_methods(tree: ast.Module) -> None:
    """A PyTorch `forward` becomes `__call__`; a `__call__` in a class without `setup` gets `@nn.compact`
    (without it, the layers it creates inline cannot be bound)."""
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        methods = {f.name: f for f in cls.body if isinstance(f, ast.FunctionDef)}
        if "__call__" not in methods and "forward" in methods:
            methods["forward"].name = "__call__"
            methods["__call__"] = methods.pop("forward")
        call = methods.get("__call__")
        if call and "setup" not in methods and not any("compact" in ast.unparse(d) for d in call.decorator_list):
            call.decorator_list.append(parse_expr("nn.compact"))


def _borrow_call(tree: ast.Module, class_name: str, parents: Sequence[str]) -> None:
    """A `class_name` cut off before its `__call__` (only fields written) gets the last parent's `__call__`:
    the child is then that parent with the child's hyper-parameters."""
    cls = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name), None)
    if cls is None or any(isinstance(f, ast.FunctionDef) and f.name in ("__call__", "setup") for f in cls.body):
        return
    for source in reversed(parents):
        parent = ast.parse(source)
        call = call_method(parent, class_name)
        if call is not None:
            cls.body = [n for n in cls.body if not isinstance(n, ast.Expr | ast.Pass)] + [call]
            defined = {getattr(n, "name", None) for n in tree.body}
            used = {n.id for n in ast.walk(call) if isinstance(n, ast.Name)}
            helpers = [n for n in parent.body if isinstance(n, ast.ClassDef | ast.FunctionDef)
                       and n.name in used - defined]
            at = tree.body.index(cls)
            tree.body[at:at] = helpers  # the parent's helpers that its __call__ uses, before the class
            return


class _NumberFieldCalls(ast.NodeTransformer):
    """`self.hidden(x)` where `hidden` is one of `numbers` (fields holding a number) -> `self.hidden`."""

    def __init__(self, numbers: set[str]):
        self.numbers = numbers

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        f = node.func
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "self" \
                and f.attr in self.numbers:
            return f
        return node


def _field_calls(tree: ast.Module) -> None:
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        _NumberFieldCalls({n.target.id for n in cls.body if isinstance(n, ast.AnnAssign)
                           and isinstance(n.target, ast.Name) and isinstance(n.value, ast.Constant)
                           and isinstance(n.value.value, int | float)}).visit(cls)


def _applies_layer(node: ast.expr) -> bool:
    """An expression that is an array for sure: a layer applied (`nn.Dense(f)(x)`), or arithmetic of those."""
    if isinstance(node, ast.BinOp):
        return _applies_layer(node.left) and _applies_layer(node.right)
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Call)


def _array_helper_calls(tree: ast.Module) -> None:
    """`mlp(x, 8)(y)` -> `mlp(x, 8)` for a module-level function whose every return applies a layer (so it
    returns an array, which cannot be called): small LMs copy the `nn.Dense(f)(x)` pattern onto helpers."""
    helpers = {f.name for f in tree.body if isinstance(f, ast.FunctionDef) and (returns := [
        r for r in ast.walk(f) if isinstance(r, ast.Return)]) and all(r.value is not None and _applies_layer(r.value)
                                                                        for r in returns)}

    class Drop(ast.NodeTransformer):
        def visit_Call(self, node: ast.Call) -> ast.AST:
            self.generic_visit(node)
            inner = node.func
            if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and inner.func.id in helpers:
                return inner
            return node

    Drop().visit(tree)


def _is_layer_constructor(node: ast.expr) -> bool:
    """`nn.Dense(16)`: a Flax layer built, not applied (a PyTorch name counts: it is renamed later)."""
    if not (isinstance(node, ast.Call) and (name := _nn_attr(node.func))):
        return False
    layer = getattr(nn, name, None)
    return bool(TORCH_NAMES.fullmatch(f"nn.{name}")) or (isinstance(layer, type) and issubclass(layer, nn.Module))


def _unapplied_layers(tree: ast.Module) -> None:
    """`x = nn.relu(nn.Conv(8, (3,)))` -> `x = nn.relu(nn.Conv(8, (3,))(x))`, and `x = nn.Dense(8)` ->
    `x = nn.Dense(8)(x)`, where `x` is already bound: the layer was meant for the running array (PyTorch's
    habit of building in one place and applying in another, written in one line). A new name stays a layer."""
    for func in (f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)):
        bound = {a.arg for a in func.args.args + func.args.kwonlyargs}
        for node in ast.walk(func):
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
                continue
            name = node.targets[0].id
            if name in bound and name != "self":
                value = node.value
                if _is_layer_constructor(value):
                    node.value = ast.Call(value, [ast.Name(name, ast.Load())], [])
                elif isinstance(value, ast.Call) and (fn := _nn_attr(value.func)) and fn[:1].islower():
                    value.args = [ast.Call(a, [ast.Name(name, ast.Load())], []) if _is_layer_constructor(a) else a
                                  for a in value.args]
            bound.add(name)


def _module_calls_train(tree: ast.Module) -> None:
    """Pass `train` to local Modules whose `__call__` requires it: `Block(c)(x)` -> `Block(c)(x, train=train)`
    where the caller has a `train` argument, else `train=False`; `nn.Dropout(p)(x)` gets
    `deterministic=not train` likewise."""
    needs_train: dict[str, int] = {}  # class -> index of train among __call__'s positional arguments
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        call = next((f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "__call__"), None)
        if call is None:
            continue
        positional = [a.arg for a in call.args.posonlyargs + call.args.args]
        n_defaults = len(call.args.defaults)
        if "train" in positional and positional.index("train") < len(positional) - n_defaults:
            needs_train[cls.name] = positional.index("train") - 1  # self does not count
        kwonly = [a.arg for a, d in zip(call.args.kwonlyargs, call.args.kw_defaults, strict=True) if d is None]
        if "train" in kwonly:
            needs_train[cls.name] = 10**6
    for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        args = fn.args
        has_train = "train" in {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
        train = ast.Name("train", ast.Load()) if has_train else ast.Constant(False)
        for node in ast.walk(fn):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Call)):
                continue
            layer = node.func
            if _nn_attr(layer.func) == "Dropout" and len(layer.args) < 3 and not any(
                    k.arg == "deterministic" for k in layer.keywords + node.keywords) and len(node.args) < 2:
                layer.keywords.append(ast.keyword("deterministic", ast.UnaryOp(ast.Not(), train)))
            if not (isinstance(layer.func, ast.Name) and layer.func.id in needs_train):
                continue
            if len(node.args) <= needs_train[node.func.func.id] and all(k.arg != "train" for k in node.keywords):
                node.keywords.append(ast.keyword("train", train))


def _drop_unused_imports(tree: ast.Module, allowed: frozenset[str]) -> None:
    """Remove top-level imports the sandbox forbids when nothing uses what they bind."""
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}

    def unused_and_forbidden(node: ast.stmt) -> bool:
        if isinstance(node, ast.Import):
            return all(a.name not in allowed and (a.asname or a.name.split(".")[0]) not in used for a in node.names)
        if isinstance(node, ast.ImportFrom):
            return (node.module or "") not in allowed and all((a.asname or a.name) not in used for a in node.names)
        return False

    tree.body = [n for n in tree.body if not unused_and_forbidden(n)] or tree.body


def call_method(tree: ast.Module, class_name: str) -> ast.FunctionDef | None:
    """The `__call__` of the top-level class `class_name`, if there is one."""
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            return next((f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "__call__"), None)
    return None


def rewrite(source: str, class_name: str, parents: Sequence[str] = (), task: TaskRepairs = TaskRepairs()) -> str:
    """The AST rewrites: PyTorch modules, signatures and keywords, recurrent layers, repeated or unknown
    layer arguments, a method written twice (the first kept), `forward` and a missing `@nn.compact`, a
    `__call__` cut off (the parent's), number fields called like layers, the array a helper returns called like
    a layer, a layer built but not applied, fields read as bare names, list defaults, a tuple of widths used as
    one, the task's own passes, fields used but undeclared or declared but without a default, `train` for local
    Modules, forbidden imports nobody uses."""
    from evojax_nas.programs.static_check import ALLOWED_IMPORTS

    tree = _LayerArguments().visit(_TorchModules().visit(ast.parse(source)))
    _repeated_methods(tree)
    _borrow_call(tree, class_name, parents)
    _module_methods(tree)
    _field_calls(tree)
    _array_helper_calls(tree)
    _unapplied_layers(tree)
    _bare_fields(tree)
    _field_values(tree, class_name)
    for task_pass in task.tree_passes:
        task_pass(tree, class_name)
    _declare_missing_fields(tree, parents, class_name, task.field_defaults)
    _module_calls_train(tree)
    _drop_unused_imports(tree, ALLOWED_IMPORTS)
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def repair(source: str, class_name: str, parents: Sequence[str] = (), task: TaskRepairs = TaskRepairs()) -> str:
    """Every mechanical repair that cannot make a working child worse: PyTorch names and modules, repeated
    arguments, fields the child uses but does not declare (a parent's default, if one has the field), `train`
    where a local Module needs it, unused forbidden imports; then the task's (a classifier's: a flatten before
    the final Dense, the `train` argument, the class count). Unparseable source is returned as is."""
    try:
        source = translate_torch_names(rewrite(source, class_name, parents, task))
        for source_pass in task.source_passes:
            source = source_pass(source, class_name) or source
        return source
    except Exception:  # noqa: BLE001 (whatever a rewrite trips on, the child keeps just the renames)
        return translate_torch_names(source)
