"""Programs: content identity, JSON round trip, static checks and restricted loading."""

import sys

import flax.linen as nn
import pytest

from evojax_nas.programs import Failure, Program, check_source, program_id
from evojax_nas.programs.loader import LoadError, load_class
from tests.conftest import SEEDS, seed_source


def test_id_ignores_comments_docstrings_and_layout():
    source = seed_source("cnn")
    body = source.split('"""', 2)[2]  # drop the module docstring
    noisy = '"""Another docstring."""\n# a comment\n' + body.replace("    ", "        ").replace(
        "x = x[..., None]", "x = x[...,   None]  # add a channel axis")
    assert program_id(noisy) == program_id(source)
    assert program_id(source.replace("channels: int = 25", "channels: int = 24")) != program_id(source)


def test_program_json_round_trip():
    program = Program(seed_source("mlp"), parents=("a", "b"), origin={"kind": "crossover", "temperature": 0.6},
                      failure=Failure("nan", "loss diverged"))
    again = Program.from_dict(program.to_dict())
    assert again == program and again.id == program.id


def test_failure_kind_is_validated():
    with pytest.raises(ValueError, match="unknown failure kind"):
        Failure("bad-kind", "x")


@pytest.mark.parametrize("path", sorted(SEEDS.glob("*.py")), ids=lambda p: p.stem)
def test_every_seed_passes_the_check_and_loads(path):
    source = path.read_text()
    assert check_source(source, required_class="Model") is None
    assert issubclass(load_class(source, "Model", base=nn.Module), nn.Module)


def test_runtime_guard_blocks_what_the_static_check_cannot_see():
    # `from numpy import testing` names no forbidden word; the import guard still refuses the submodule.
    source = seed_source("mlp").replace("import flax.linen as nn", "import flax.linen as nn\nfrom numpy import testing")
    assert check_source(source) is None
    with pytest.raises(LoadError) as info:
        load_class(source, "Model")
    assert info.value.failure.kind == "forbidden"


def test_restricted_builtins_have_no_open():
    module_cls = load_class(seed_source("mlp"), "Model", base=nn.Module)
    builtins = sys.modules[module_cls.__module__].__dict__["__builtins__"]
    assert "open" not in builtins and "__import__" in builtins and "eval" not in builtins
