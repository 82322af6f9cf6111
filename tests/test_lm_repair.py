"""Mechanical repairs of children: each rewrite on its own, and a child with every defect they fix, which
crashes in the real sandbox before repair and trains after it."""

import functools
from collections.abc import Sequence
from pathlib import Path

import pytest

from evojax_nas.evaluate import Evaluator, EvaluatorConfig
from evojax_nas.programs import Program, check_source
from evojax_nas.programs import repair as generic
from evojax_nas.programs.repair import translate_torch_names
from evojax_nas.tasks import classifier
from evojax_nas.train import default_config

# The classifier's repairs, as the MNIST-1D task applies them (tasks/mnist1d.py)
insert_flatten = functools.partial(classifier.insert_flatten, class_name="Model")
fix_interface = functools.partial(classifier.fix_interface, class_name="Model", num_classes=10)


def rewrite(source: str, parents: Sequence[str] = (), num_classes: int | None = 10) -> str:
    """The AST rewrites of a classifier of num_classes classes (None: the generic ones alone)."""
    task = classifier.repairs(num_classes) if num_classes else generic.TaskRepairs()
    return generic.rewrite(source, "Model", parents, task)


def repair(source: str, parents: Sequence[str] = ()) -> str:
    return generic.repair(source, "Model", parents, classifier.repairs(10))


HEADER = "import flax.linen as nn\n\n\nclass Model(nn.Module):\n"
BODY = """    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.relu(nn.Dense(64)(x))
        return nn.Dense(10)(x)
"""
BROKEN = (Path(__file__).parent / "repairable" / "broken_child.py").read_text()
PARENT = "class Model(nn.Module):\n    features: int = 24\n"


def test_insert_flatten_before_the_final_dense():
    src = HEADER + BODY.replace("nn.relu(nn.Dense(64)(x))", "nn.relu(nn.Conv(8, (3,))(x[..., None]))")
    fixed = insert_flatten(src)
    assert fixed is not None and ".reshape(x.shape[0], -1)" in fixed.replace("(x).", "x.")
    assert insert_flatten(HEADER + "    def __call__(self, x, train=False):\n        return x\n") is None


def test_torch_layer_names_become_flax_ones():
    source = "x = nn.Conv2d(16, (3,))(x)\nx = nn.BatchNorm1d()(x)\nx = nn.Linear(10)(x)\ny = nn.Conv(8, (3,))(x)\n"
    assert translate_torch_names(source) == ("x = nn.Conv(16, (3,))(x)\nx = nn.BatchNorm()(x)\n"
                                             "x = nn.Dense(10)(x)\ny = nn.Conv(8, (3,))(x)\n")


def test_interface_repair_adds_train_and_fixes_the_class_count():
    source = HEADER + "    @nn.compact\n    def __call__(self, x):\n        return nn.Dense(64)(nn.Dense(32)(x))\n"
    fixed = fix_interface(source)
    assert "def __call__(self, x, *, train=False):" in fixed and "nn.Dense(10)(nn.Dense(32)(x))" in fixed
    assert fix_interface(fixed) == fixed
    assert check_source(repair(source)) is None
    assert repair("class Model(nn.Module:\n") == "class Model(nn.Module:\n"  # unparseable: left alone


def test_torch_modules_become_flax_functions():
    fixed = rewrite("y = nn.ReLU()(x)\nact = nn.Tanh()\nz = nn.MaxPool2d(3, stride=1)(y)\nw = nn.Flatten()(z)\n"
                    "v = nn.AvgPool1d((2, 2))(act(w))\n")
    assert fixed == ("y = nn.relu(x)\nact = nn.tanh\n"
                     "z = nn.max_pool(y, (3,) * (y.ndim - 2), strides=(1,) * (y.ndim - 2), padding='SAME')\n"
                     "w = z.reshape((z.shape[0], -1))\n"
                     "v = (lambda y: nn.avg_pool(y, (2,) * (y.ndim - 2), strides=(2,) * (y.ndim - 2), "
                     "padding='SAME'))(act(w))\n")


def test_the_array_a_helper_returns_is_not_called_but_a_returned_layer_is():
    source = ("import flax.linen as nn\n\n\ndef mlp(x, f):\n    return nn.Dense(f)(nn.relu(nn.Dense(f)(x)))\n\n\n"
              "def block(f):\n    return nn.Dense(f)\n\n\n" + HEADER + "    @nn.compact\n    def __call__(self, x):\n"
              "        return mlp(x, 8)(x) + block(8)(x)\n")
    assert "return mlp(x, 8) + block(8)(x)" in rewrite(source, num_classes=None)


def test_a_layer_built_but_not_applied_is_applied_to_the_running_array():
    fixed = rewrite(HEADER + "    @nn.compact\n    def __call__(self, x):\n        x = nn.relu(nn.Conv(8, (3,)))\n"
                    "        x = nn.LayerNorm()\n        dense = nn.Dense(10)\n        return dense(x)\n",
                    num_classes=None)
    assert "x = nn.relu(nn.Conv(8, (3,))(x))\n        x = nn.LayerNorm()(x)\n        dense = nn.Dense(10)\n" in fixed


def test_pools_without_a_window_or_with_flax_like_names_get_one():
    fixed = rewrite(HEADER + "    @nn.compact\n    def __call__(self, x):\n        x = nn.max_pool(x)\n"
                    "        x = nn.AvgPool(kernel_size=2)(x)\n        return x\n", num_classes=None)
    assert "x = nn.max_pool(x, (2,), strides=(2,))\n" in fixed and "nn.avg_pool(x, (2,) * (x.ndim - 2)," in fixed


def test_repeated_arguments_keep_the_first_value():
    assert rewrite("y = nn.Conv(16, (3,), kernel_size=(5,), padding='SAME')(x)\n") == \
        "y = nn.Conv(16, (3,), padding='SAME')(x)\n"
    assert rewrite("y = Custom(16, features=3)(x)\n") == "y = Custom(16, features=3)(x)\n"  # not a flax layer


def test_undeclared_fields_take_a_parents_default_or_one_by_name():
    fixed = rewrite(HEADER + "    def __call__(self, x):\n        return nn.Dense(self.features)(nn.Conv("
                    "self.channels, (self.kernel_size,))(x))\n", [PARENT])
    assert "    features: int = 24\n    channels: int = 32\n    kernel_size: int = 3\n" in fixed
    assert rewrite(fixed) == fixed  # declared now: nothing more to add


def test_local_modules_get_train_and_dropout_gets_deterministic():
    source = ("class Block(nn.Module):\n    def __call__(self, x, train):\n        return x\n\n"
              "class Model(nn.Module):\n    def __call__(self, x, train=False):\n"
              "        x = Block()(x)\n        return nn.Dropout(0.1)(x)\n\n"
              "def helper(x):\n    return Block()(x)\n")
    fixed = rewrite(source)
    assert "x = Block()(x, train=train)" in fixed and "return Block()(x, train=False)" in fixed
    assert "nn.Dropout(0.1, deterministic=not train)(x)" in fixed
    assert rewrite("y = nn.Dropout(0.1)(x, deterministic=True)\n") == "y = nn.Dropout(0.1)(x, deterministic=True)\n"


def test_unused_forbidden_imports_are_dropped_and_used_ones_kept():
    assert rewrite("import sys\nimport os\nimport jax\nx = os.getcwd()\n") == "import os\nimport jax\nx = os.getcwd()\n"


def test_torch_signatures_and_keywords_become_flax_ones():
    fixed = rewrite("a = nn.Conv1d(1, 16, 3, 2)(x)\nb = nn.Conv(8, 3, stride=2, bias=False, inplace=True)(a)\n"
                    "c = nn.Linear(64, 10)(b)\nd = nn.BatchNorm1d(16)(c)\ne = nn.dropout(d, 0.5)\n")
    assert fixed == ("a = nn.Conv(16, 3, strides=2)(x)\nb = nn.Conv(8, 3, strides=2, use_bias=False)(a)\n"
                     "c = nn.Dense(10)(b)\nd = nn.BatchNorm()(c)\ne = nn.Dropout(0.5)(d)\n")


def test_forward_compact_and_a_missing_return():
    fixed = rewrite(HEADER + "    def forward(self, x):\n        x = nn.relu(nn.Dense(32)(x))\n")
    assert "    @nn.compact\n    def __call__(self, x):\n" in fixed
    assert fixed.endswith("        x = x.reshape((x.shape[0], -1))\n        return nn.Dense(10)(x)\n")
    with_setup = ("class Model(nn.Module):\n\n    def setup(self):\n        pass\n\n"
                  "    def __call__(self, x):\n        return x\n")
    assert rewrite(with_setup) == with_setup  # setup-style modules are left alone


def test_a_method_written_twice_keeps_its_first_definition():
    twice = ("class Model(nn.Module):\n    @nn.compact\n    def __call__(self, x, train: bool = False):\n"
             "        return nn.Dense(10)(x)\n\n    @nn.compact\n    def __call__(self, x, train: bool = False):\n"
             "        x\n")
    out = rewrite(twice)
    assert out.count("def __call__") == 1 and "return nn.Dense(10)(x)" in out


def test_recurrent_cells_get_flax_features():
    for cell, fixed in (("nn.LSTMCell(self.hidden, self.hidden)", "nn.LSTMCell(self.hidden)"),  # PyTorch's (in, out)
                        ("nn.GRUCell(hidden_size=16)", "nn.GRUCell(16)"), ("nn.LSTMCell()", "nn.LSTMCell(32)")):
        out = rewrite(HEADER + f"    @nn.compact\n    def __call__(self, x):\n        return nn.RNN({cell})(x)\n")
        assert f"nn.RNN({fixed})" in out


def test_fields_without_defaults_are_ordered_first_and_the_models_dropped_or_defaulted():
    fixed = rewrite("class Block(nn.Module):\n    kernel: int = 3\n    channels: int\n    unused: nn.ReLU\n\n"
                    "    def __call__(self, x):\n        return nn.Conv(self.channels, (self.kernel,))(x)\n\n"
                    "class Model(nn.Module):\n    activation: nn.ReLU\n    width: int\n\n"
                    "    def __call__(self, x):\n        return nn.Dense(self.width)(x)\n", [PARENT])
    assert "class Block(nn.Module):\n    channels: int\n    unused: nn.relu\n    kernel: int = 3\n\n" in fixed
    assert "class Model(nn.Module):\n    width: int = 32\n\n" in fixed


def test_channel_axis_padding_number_fields_and_a_cut_off_call():
    fixed = rewrite(HEADER + "    hidden: int = 8\n\n    @nn.compact\n    def __call__(self, x):\n"
                    "        x = nn.Conv(self.hidden(x), 3, padding=(1, 1))(x)\n        return nn.Dense(10)(x)\n")
    assert ("        if x.ndim == 2:\n            x = x[..., None]\n"
            "        x = nn.Conv(self.hidden, 3, padding=1)(x)") in fixed
    assert "ndim" not in rewrite(HEADER + BODY)  # no convolution: no channel axis added
    parent = "class Block(nn.Module):\n    pass\n\nclass Model(nn.Module):\n\n    def __call__(self, x):\n" \
             "        return Block()(x)\n"
    cut = rewrite("class Model(nn.Module):\n    width: int = 64\n", [parent])
    assert cut.startswith("class Block(nn.Module):") and "    width: int = 64\n\n    @nn.compact\n" \
        "    def __call__(self, x):\n        return Block()(x)\n" in cut


@pytest.mark.parametrize("bad", ["class Model(nn.Module:\n", "nn.MaxPool1d(*sizes)(x)\n", ""])
def test_repair_never_raises(bad):
    assert isinstance(repair(bad), str)


def test_broken_child_crashes_before_repair_and_trains_after():
    fixed = repair(BROKEN, parents=[PARENT])
    assert check_source(fixed) is None
    train = default_config()
    train.num_steps, train.strategy = 20, "python-serial"
    with Evaluator(EvaluatorConfig(train_config=train.to_dict(), timeout_s=120)) as evaluator:
        before, after = evaluator.evaluate([Program(BROKEN), Program(fixed)])
    assert before.failure is not None and before.failure.kind in ("forbidden", "crash")
    assert after.ok, after.failure
    assert after.metrics["params"] > 0 and 0.0 <= after.metrics["val_accuracy_mean"] <= 1.0


def test_recurrent_layers_bare_fields_list_defaults_and_tuple_widths():
    """Failures the embedded LM made in a search (flax has no nn.LSTM; a cell takes (carry, x); `hidden`
    for `self.hidden`; a list default; a parent's tuple of widths used as one width)."""
    fixed = rewrite(HEADER + "    hidden: int = 16\n    widths: list = [8, 12]\n\n    @nn.compact\n"
                    "    def __call__(self, x, train=False):\n        x = nn.Conv(self.widths, (3,))(x[..., None])\n"
                    "        x = nn.relu(nn.Conv(features=self.widths, kernel_size=(3,))(x))\n"
                    "        x = nn.Conv(self.widths, (3,))(x)\n        a = nn.LSTM(1, hidden)(x)\n"
                    "        b = nn.GRU(hidden_size=size, num_layers=2)(x)\n        c = nn.GRUCell(4)(x)\n"
                    "        d = nn.RNN(nn.RNNCell(4))(x)\n        return nn.Dense(10)(a + b + c + d)\n")
    assert "    widths: list = (8, 12)\n" in fixed and "    size: int = 32\n" in fixed
    assert "nn.Conv(self.widths[0], (3,))" in fixed and "nn.Conv(features=self.widths[1]" in fixed
    assert "nn.Conv(self.widths[1], (3,))" in fixed
    assert "a = nn.RNN(nn.LSTMCell(self.hidden))(x)" in fixed and "b = nn.RNN(nn.GRUCell(self.size))(x)" in fixed
    assert "c = nn.RNN(nn.GRUCell(4))(x)" in fixed and "d = nn.RNN(nn.SimpleCell(4))(x)" in fixed
    assert rewrite(fixed) == fixed
    kept = "cell = nn.GRUCell(8)\ny = nn.RNN(cell)(x)\ncarry, z = nn.GRUCell(8)(carry, x)\nw = nn.GRUCell(8)(*a)\n"
    assert rewrite(kept) == kept  # Flax's own recurrent API is left alone
    working = ("import math\nhidden: int = 64\n\nclass Block(nn.Module):\n    width: tuple = (8,)\n\n"
               "    @nn.compact\n    def __call__(self, x):\n        return nn.Dense(self.width)(x)\n\n"
               "class Model(nn.Module):\n\n"
               "    @nn.compact\n    def __call__(self, x, train=False):\n        from math import sqrt\n"
               "        match x.shape:\n            case [b, n]:\n                x = x * sqrt(n)\n"
               "        return nn.Dense(10)(Block(width=hidden)(x))\n")
    assert rewrite(working) == working  # module-level names, local imports, match captures, a helper's field
    trained = repair(fixed)
    assert repair(trained) == trained  # the flatten is not added twice
