"""The classifier's contract with its candidates, one place for every classification task (tasks/mnist1d.py,
tasks/sign1d.py): a `Model` Flax module mapping a batch of examples to class logits; its repairs (a channel
axis before a convolution, a missing return, a flatten before the final Dense, the `train` argument the
trainer passes, the class count); what its sandbox traces (tasks/classifier_trace.py exports the whole network) and
warms up with; its train stage (train/'s `Trainer` on the task's arrays)."""

from __future__ import annotations

import ast
import dataclasses
import functools
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from evojax_nas.programs.repair import TaskRepairs, call_method, parse_expr
from evojax_nas.tasks.base import CandidateSpec, MetricsSchema
from evojax_nas.train.dataset import ClassificationTask

CLASS_NAME = "Model"
# what the train stage (train/trainer.py) reports: accuracies per seed, their means, size and FLOPs
METRICS = MetricsSchema(score="val_accuracy", test="test_accuracy", score_name="validation accuracy")
FLATTENED = re.compile(r"(.+)\.reshape\(\(?\(?\1\)?\.shape\[0\], -1\)?\)")  # x.reshape(x.shape[0], -1)

WARM_UP = """
import flax.linen as nn


class Model(nn.Module):  # a little of everything: the modules tracing it imports are imported once here
    @nn.compact
    def __call__(self, x, train=False):
        h = nn.Conv(4, (3,))(x[..., None])
        h = nn.Dropout(0.1, deterministic=not train)(nn.BatchNorm(use_running_average=not train)(h))
        h = nn.SelfAttention(num_heads=1)(nn.RNN(nn.GRUCell(4))(h))
        return nn.Dense(10)(nn.LayerNorm()(h.reshape(h.shape[0], -1)))
"""


def trace_spec(class_name: str, input_shape: tuple[int, ...], platform: str, train_config: Mapping[str, Any]
               ) -> dict[str, Any]:
    """What the classifier's tracer (tasks/classifier_trace.py) needs: the class, one example's shape, the platform,
    and the batch sizes the exported programs are made for."""
    from evojax_nas.tasks.classifier_trace import TraceSpec

    return dataclasses.asdict(TraceSpec.of(class_name, input_shape, platform, train_config))


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


@dataclasses.dataclass
class ClassifierTrainer:
    """The train stage of a classification task: exported whole networks, trained by `Trainer`."""

    trainer: Any  # train.Trainer (imported in the worker only: jax starts its threads)

    @classmethod
    def of(cls, data: ClassificationTask, train_config: Mapping[str, Any], memory_budget_bytes: int | None,
           state_dir: str | None) -> ClassifierTrainer:
        import ml_collections

        from evojax_nas.train import Trainer
        from evojax_nas.train.states import StateStore

        return cls(Trainer(data, ml_collections.ConfigDict(dict(train_config)), memory_budget_bytes=memory_budget_bytes,
                           states=StateStore(Path(state_dir) if state_dir else None)))

    @property
    def devices(self) -> int:
        return len(self.trainer.devices)

    def load(self, blobs: dict[str, bytes]) -> Any:
        from evojax_nas.train.exported import ExportedNetwork

        return ExportedNetwork.from_bytes(blobs)

    def train_many(self, programs: Sequence[Any], seeds: Sequence[int] | None, steps: Sequence[int] | None = None,
                   on_phase: Any = None) -> list[dict[str, Any] | Exception]:
        if on_phase is not None:
            self.trainer.on_phase = on_phase
        return [r if isinstance(r, Exception) else r.metrics()
                for r in self.trainer.train_many(programs, seeds, steps=steps)]


class ClassifierTask:
    """What every classification task shares: its tracer and warm-up, repairs, trace spec and train stage. A
    task (a frozen dataclass) adds its name, `candidate`, `num_classes`, `input_shape`, `data()`, `prepare` and
    `train_defaults`."""

    tracer = "evojax_nas.tasks.classifier_trace:trace_job"
    warm_up = WARM_UP
    candidate: CandidateSpec
    num_classes: int
    input_shape: tuple[int, ...]  # one example's

    def data(self) -> ClassificationTask:
        raise NotImplementedError

    def repair(self, source: str, parents: Sequence[str] = ()) -> str:
        from evojax_nas.programs.repair import repair

        return repair(source, self.candidate.class_name, parents, repairs(self.num_classes))

    def trace_spec(self, platform: str, train_config: Mapping[str, Any]) -> dict[str, Any]:
        return trace_spec(self.candidate.class_name, self.input_shape, platform, train_config)

    def trainer(self, train_config: Mapping[str, Any], memory_budget_bytes: int | None = None,
                state_dir: str | None = None) -> ClassifierTrainer:
        return ClassifierTrainer.of(self.data(), train_config, memory_budget_bytes, state_dir)
