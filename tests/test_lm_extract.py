"""Extraction and mechanical repair of LM completions into candidate programs."""

import functools

from evojax_nas.lm import extract
from evojax_nas.programs import check_source

HEADER = "import flax.linen as nn\n\n\nclass Model(nn.Module):\n"
MARKERS = ("\n# Example", "\n# New model")
CLOSING = "x = x.reshape((x.shape[0], -1))\nreturn nn.Dense(10)(x)"
extract_program = functools.partial(extract.extract_program, class_name="Model")  # a classifier's child
BODY = """    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.relu(nn.Dense(64)(x))
        return nn.Dense(10)(x)
"""


def test_clean_completion_stops_at_the_next_prompt_marker():
    got = extract_program(BODY + "\n# Example 3: validation accuracy 0.9\nclass Other:\n    pass\n", HEADER, MARKERS)
    assert got.outcome == "clean" and got.source == HEADER + BODY
    assert check_source(got.source, "Model") is None


def test_chat_framing_and_fences_are_stripped():
    chat = "Sure! Here is a smaller model:\n```python\n" + HEADER + BODY + "```\nIt uses fewer parameters."
    got = extract_program(chat, "")
    assert got.outcome == "clean" and got.source.strip() == (HEADER + BODY).strip()
    trailing = BODY + "```\nThis model is 10% smaller."
    assert extract_program(trailing, HEADER).source.strip() == (HEADER + BODY).strip()


def test_truncated_child_is_cut_back_or_closed():
    open_bracket = BODY.replace("        return nn.Dense(10)(x)\n", "        x = nn.Dense(32)(nn.relu(x")
    got = extract_program(open_bracket, HEADER, MARKERS, closing=CLOSING)
    assert got.outcome == "repaired_truncation" and check_source(got.source, "Model") is None
    assert "nn.Dense(32)" not in got.source and got.source.rstrip().endswith("return nn.Dense(10)(x)")
    first_line = extract_program("    hidden: int = max(16, (32", HEADER, MARKERS)  # nothing complete to cut back to
    assert first_line.outcome == "repaired_truncation" and "max(16, (32))" in first_line.source
    cut = "        x = nn.Conv(16, kernel_size=(3,), padding='SA"
    mid_token = BODY.replace("        return nn.Dense(10)(x)\n", cut)
    got = extract_program(mid_token, HEADER, MARKERS, closing=CLOSING)
    assert got.outcome == "repaired_truncation" and check_source(got.source, "Model") is None
    assert "nn.Conv" not in got.source and "nn.relu(nn.Dense(64)(x))" in got.source


def test_nothing_usable():
    assert extract_program("I cannot help with that.", "").outcome == "no_code"
