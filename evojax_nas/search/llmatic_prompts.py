"""LLMatic's prompts (Nasir et al. 2023, appendix A), adapted to Flax: the 13 mutation instructions, the
crossover instruction and the random-generation ablation's; each follows the parents' code as a docstring,
and the prompt ends with the header of the class the LM writes."""

from __future__ import annotations

import ast

from evojax_nas.programs.program import Program
from evojax_nas.search.prompts import IMPORTS, code_body
from evojax_nas.tasks.base import CandidateSpec

MUTATIONS = (
    "Add a layer to improve the above network",
    "Delete a layer to improve the above network",
    "Improve the above network",
    "Improve the above network by reducing the size drastically",
    "Improve the above network by increasing the size drastically",
    "Add a fully connected layer (nn.Dense) to improve the above network",
    "Add a convolutional layer (nn.Conv) to improve the above network",
    "Add a pooling layer (nn.max_pool or nn.avg_pool) to improve the above network",
    "Add a residual connection to improve the above network",
    "Add multiple residual connections to improve the above network",
    "Add a dropout layer (nn.Dropout, deterministic=not train) to improve the above network",
    "Add a normalization layer (nn.LayerNorm or nn.BatchNorm) to improve the above network",
    "Add a recurrent layer (nn.RNN over nn.GRUCell) to improve the above network",
)
CROSSOVER = ("Combine the above two neural networks and create a third neural network class that also inherits "
             "from nn.Module and performs better than the above two neural networks")
RANDOM_GENERATION = ("Create a neural network that inherits from nn.Module and performs better than the above "
                     "neural network")


def call_header(source: str, class_name: str) -> str:
    """The class line, then the parent's `@nn.compact` and `def __call__` lines: a small base LM shown one
    network and an instruction otherwise drifts into PyTorch (`__init__`, `forward`), which measured here
    left no child of the first warm-up trainable. Only the class line for a parent without a compact call."""
    lines = source.split("\n")
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__call__" and any(
                        ast.unparse(d) == "nn.compact" for d in item.decorator_list):
                    signature = "\n".join(lines[item.lineno - 1: item.body[0].lineno - 1]).rstrip()
                    return f"class {class_name}(nn.Module):\n    @nn.compact\n{signature}"
    return f"class {class_name}(nn.Module):"


def build_instruction_prompt(parents: list[Program], instruction: str, spec: CandidateSpec,
                             example: tuple[Program, Program] | None = None) -> tuple[str, str]:
    """(prompt, header): the task line, the imports, a worked example when given (a network, the instruction
    in the other's docstring, the other network), each parent's code, the instruction, the header of the
    child's class (with the first parent's call signature)."""
    header = call_header(parents[0].source, spec.class_name) if parents else f"class {spec.class_name}(nn.Module):"
    blocks = [f'"""{spec.task_line}"""', IMPORTS]
    if example is not None:
        before, after = example
        blocks += [code_body(before.source), f'"""{ast.get_docstring(ast.parse(after.source))}"""',
                   code_body(after.source)]
    blocks += [*(code_body(p.source) for p in parents), f'"""{instruction}"""', header]
    return "\n\n\n".join(blocks), header
