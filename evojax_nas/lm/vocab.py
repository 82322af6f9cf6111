"""A code vocabulary: the token ids a tokenizer uses on Python source, plus what keeps every text writable
(byte-fallback pieces, single ASCII characters, the special tokens). Sampling over it instead of the whole
vocabulary makes the LM head ~8x cheaper for Gemma-3-270M (262k tokens, ~31k of them kept), and that
head is the largest matmul of a decode step."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sysconfig
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, pre_tokenizers

from evojax_nas.paths import cache_dir

CORPUS_PACKAGES = ("flax", "optax", "jax", "numpy")  # installed with evojax_nas, so always there


def corpus_files() -> list[Path]:
    """The Python sources the vocabulary is read from: the standard library's top-level modules and the
    packages that candidate programs use (all installed alongside, so nothing is downloaded)."""
    files = sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"))
    for name in CORPUS_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            files += sorted(Path(spec.origin).parent.rglob("*.py"))
    return files


def _always_kept(tokenizer: Tokenizer) -> set[int]:
    """Byte-fallback pieces, byte-level alphabets and single ASCII characters: any text stays writable."""
    byte_level = set(pre_tokenizers.ByteLevel.alphabet())
    return {i for piece, i in tokenizer.get_vocab(with_added_tokens=True).items()
            if (piece.startswith("<0x") and piece.endswith(">")) or piece in byte_level
            or (len(piece) == 1 and piece.isascii())}


def code_vocabulary(tokenizer: Tokenizer, special: Iterable[int]) -> np.ndarray:
    """Sorted token ids: those the tokenizer produces on `corpus_files()`, the always-kept ones and
    `special` (BOS, EOS, padding). Cached per tokenizer, since reading the corpus takes a few seconds."""
    return np.union1d(_corpus_ids(tokenizer), np.fromiter(special, np.int64)).astype(np.int32)


def _corpus_ids(tokenizer: Tokenizer) -> np.ndarray:
    """The corpus and always-kept ids, from the cache or built (and cached) anew."""
    digest = hashlib.sha256(tokenizer.to_str().encode()).hexdigest()[:16]
    path = cache_dir() / "lm" / f"code-vocab-{digest}.npy"
    if path.exists():
        try:
            return np.load(path)
        except (OSError, ValueError):
            pass  # a damaged cache file is rebuilt below
    texts = [f.read_text(errors="ignore") for f in corpus_files()]
    seen = {i for encoding in tokenizer.encode_batch(texts, add_special_tokens=False) for i in encoding.ids}
    ids = np.asarray(sorted(seen | _always_kept(tokenizer)), np.int32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")  # test processes share a cache: a tmp file each
    np.save(tmp, ids)
    tmp.replace(path)
    return ids
