"""EvoPrompting's few-shot prompt: parents' source code, each after a comment with its metrics, in
ascending fitness, then the target metrics and the header of the child's class; and the child's
assembly back into a whole program."""

from __future__ import annotations

import ast

import numpy as np

from evojax_nas.programs.program import Failure, Program
from evojax_nas.search.fitness import program_fitness
from evojax_nas.tasks.base import CandidateSpec

IMPORTS = "import functools\n\nimport flax.linen as nn\nimport jax\nimport jax.numpy as jnp"


def stop_markers(spec: CandidateSpec) -> tuple[str, ...]:
    """Where a completion ends: the next model's comment or class, a fence, a main block."""
    return ("\n# Model ", f"\nclass {spec.class_name}", "```", "\nif __name__")


def code_body(source: str) -> str:
    """The program without its module docstring and import lines."""
    tree = ast.parse(source)
    keep = [n for n in tree.body if not isinstance(n, ast.Import | ast.ImportFrom)
            and not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
    lines = source.split("\n")
    return "\n\n\n".join("\n".join(lines[_start(n) - 1: n.end_lineno]) for n in keep)


def _start(node: ast.AST) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def metric_comment(index: int, val_score: float, params: int, score_name: str) -> str:
    return f"# Model {index}: {score_name} {val_score:.3f}, parameters {params}"


def build_prompt(parents: list[Program], spec: CandidateSpec, size_factor: float = 0.9,
                 accuracy_gain: float = 0.02, target: tuple[float, int] | None = None) -> tuple[str, str]:
    """Return (prompt, header). Parents must have metrics; they are shown in the given order (the
    caller sorts them by ascending fitness). The target asks for size_factor x the best parent's
    parameters and accuracy_gain more accuracy, unless `target` (accuracy, parameters) is given (a child's
    real metrics, for prompt-tuning). The prompt ends with the header, without a newline."""
    schema = spec.metrics
    blocks = [f'"""{spec.task_line} Each model is preceded by its {schema.score_name} and size."""', IMPORTS]
    for i, parent in enumerate(parents, 1):
        comment = metric_comment(i, *schema.of(parent.metrics or {}), schema.score_name)
        blocks.append(f"{comment}\n{code_body(parent.source)}")
    best = max(parents, key=lambda p: program_fitness(p, schema))
    best_score, best_params = schema.of(best.metrics or {})
    target_acc, target_params = min(schema.score_range[1], best_score + accuracy_gain), int(best_params * size_factor)
    if target is not None:
        target_acc, target_params = target
    header = f"class {spec.class_name}(nn.Module):"
    blocks.append(f"{metric_comment(len(parents) + 1, target_acc, target_params, schema.score_name)}\n{header}")
    return "\n\n\n".join(blocks), header


def edit_prefix(parent: Program, class_name: str, rng: np.random.Generator) -> str:
    """For a child written as an edit of its parent (`search.child_form = "edit"`): the parent's class from
    after its header up to a statement drawn at random (never the first), ending with a newline. The prompt
    ends with it and the LM rewrites the rest, so the child keeps the parent's working beginning."""
    lines = parent.source.split("\n")
    node = next(n for n in ast.parse(parent.source).body if isinstance(n, ast.ClassDef) and n.name == class_name)
    cuts = sorted({_start(n) for n in ast.walk(node) if isinstance(n, ast.stmt) and n is not node})[1:]
    if not cuts:
        return ""
    cut = int(cuts[rng.integers(len(cuts))])
    return "\n".join(lines[node.lineno: cut - 1]) + "\n"


def build_retry_prompt(parents: list[Program], code: str, failure: Failure, spec: CandidateSpec,
                       size_factor: float = 0.9, accuracy_gain: float = 0.02) -> tuple[str, str]:
    """The child's prompt with its failed code and error inserted before the target: the LM sees what
    went wrong and writes the child again."""
    prompt, header = build_prompt(parents, spec, size_factor, accuracy_gain)
    head, target = prompt.rsplit("\n\n\n", 1)
    message = " ".join(failure.message.split())[:300]
    attempt = f"# An attempt that failed ({failure.kind} error: {message}):\n{code.strip()}"
    return "\n\n\n".join([head, attempt, target]), header


def assemble_child(child_code: str, parents: list[Program]) -> str:
    """The child as a whole program: the imports, the parents' helpers it uses but does not define,
    then its own code."""
    try:
        tree = ast.parse(child_code)
    except SyntaxError:
        return f"{IMPORTS}\n\n\n{child_code}"
    defined = {n.name for n in tree.body if isinstance(n, ast.ClassDef | ast.FunctionDef)}
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    helpers: dict[str, str] = {}
    for parent in parents:
        for node in ast.parse(parent.source).body:
            name = getattr(node, "name", None)
            if isinstance(node, ast.ClassDef | ast.FunctionDef) and name in used - defined and name not in helpers:
                lines = parent.source.split("\n")
                helpers[name] = "\n".join(lines[_start(node) - 1: node.end_lineno])
    return "\n\n\n".join([IMPORTS, *helpers.values(), child_code.strip()]) + "\n"
