"""The dm-clrs haiku baseline beside ours: build it on the same data, copy its weights into our tree."""

from __future__ import annotations

from typing import Any

import numpy as np

from clrs_tasks import data
from clrs_tasks.dmclrs import load

PROCESSOR = {  # haiku creation order in processors.PGN.__call__ -> our names
    "linear": "m_1", "linear_1": "m_2", "linear_2": "m_e", "linear_3": "m_g", "linear_4": "o1", "linear_5": "o2",
    **{f"linear_{6 + i}": f"triplet/Dense_{i}" for i in range(8)},
    "linear_14": "gate1", "linear_15": "gate2", "linear_16": "gate3",
    "mlp/~/linear_0": "msg_mlp_0", "mlp/~/linear_1": "msg_mlp_1", "layer_norm": "ln",
}
LEAVES = {"w": "kernel", "b": "bias", "scale": "scale", "offset": "bias"}


def haiku_model(algorithm: str, feedback: Any, spec: dict, hidden: int, seed: int = 43) -> Any:
    """dm-clrs' BaselineModel with run.py's settings, initialised on `feedback`."""
    baselines, processors = load("baselines"), load("processors")
    model = baselines.BaselineModel(
        spec=spec, dummy_trajectory=feedback,
        processor_factory=processors.get_processor_factory("triplet_gmpnn", use_ln=True, nb_triplet_fts=8),
        hidden_dim=hidden, encode_hints=True, decode_hints=True, encoder_init="xavier_on_scalars",
        learning_rate=1e-3, grad_clip_max_norm=1.0, hint_teacher_forcing=0.0, hint_repred_mode="soft")
    model.init(feedback.features, seed)
    return model


def to_flax(hk_params: dict) -> dict:
    """haiku {module: {w, b}} -> our {"params": {...}} (encoders and decoders keep dm-clrs' names)."""
    tree: dict = {}
    for module, leaves in hk_params.items():
        if module.startswith("net/mpnn_aggr_clrs_processor/"):
            ours = PROCESSOR[module.removeprefix("net/mpnn_aggr_clrs_processor/")]
            path = ours.split("/") if ours.startswith("triplet/") else ["processor", ours]  # the slot is Step's
        else:
            path = [module.rsplit("/", 1)[1].removeprefix("algo_0_")]
        node = tree
        for part in path:
            node = node.setdefault(part, {})
        for name, value in leaves.items():
            node[LEAVES[name]] = np.asarray(value)
    return {"params": tree}


def feedback_and_spec(algorithm: str, length: int, batch: int, seed: int = 0) -> tuple[Any, dict]:
    """One dm-clrs Feedback from a fixed dataset, processed as run.py does (pred_h as input, permutations;
    positions as sampled), and its spec."""
    probes, stream = data._stream(algorithm, length, batch, batch, seed, np.random.RandomState(seed), False, {})
    return next(stream), data.spec(probes)
