"""Tokenizers without network or torch: a local tokenizer.json, or one rebuilt from GGUF metadata.

GGUF's SentencePiece-style vocabularies (tokenizer.ggml.model = llama, as in Gemma 3) become a BPE with
byte fallback whose merges are derived from the pieces and their scores; GPT-2-style ones (SmolLM2, Qwen)
carry their merges and use byte-level pre-tokenisation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers

NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6


def _sentencepiece_bpe(tokens: list[str], scores: list[float], types: list[int]) -> Tokenizer:
    # User-defined pieces (runs of spaces, newlines, tabs, HTML tags) are stored with real spaces.
    vocab = {(t if types[i] != USER_DEFINED else t.replace("▁", " ")): i for i, t in enumerate(tokens)}
    merges: list[tuple[float, int, str, str]] = []
    for i, piece in enumerate(tokens):
        if types[i] != NORMAL or len(piece) < 2:
            continue
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in vocab and right in vocab:
                merges.append((-scores[i], i, left, right))
    merges.sort()
    unk = tokens[types.index(UNKNOWN)] if UNKNOWN in types else "<unk>"
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[(a, b) for _, _, a, b in merges], unk_token=unk,
                               byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Replace(" ", "▁")
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()])
    tok.add_tokens([AddedToken(tokens[i].replace("▁", " "), normalized=False, special=False)
                    for i in range(len(tokens)) if types[i] == USER_DEFINED])
    tok.add_special_tokens([AddedToken(tokens[i], special=True) for i in range(len(tokens)) if types[i] == CONTROL])
    return tok


def _byte_level_bpe(tokens: list[str], merges: list[str], types: list[int]) -> Tokenizer:
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[tuple(m.split(" ", 1)) for m in merges]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(tokens[i], special=True) for i in range(len(tokens)) if types[i] == CONTROL])
    return tok


def tokenizer_from_gguf(meta: dict[str, Any]) -> Tokenizer:
    """Rebuild the tokenizer of a GGUF file from its tokenizer.ggml.* metadata."""
    tokens, types = list(meta["tokenizer.ggml.tokens"]), list(meta["tokenizer.ggml.token_type"])
    kind = meta["tokenizer.ggml.model"]
    if kind == "llama":
        return _sentencepiece_bpe(tokens, list(meta["tokenizer.ggml.scores"]), types)
    if kind == "gpt2":
        return _byte_level_bpe(tokens, list(meta["tokenizer.ggml.merges"]), types)
    raise ValueError(f"unsupported GGUF tokenizer model {kind!r}; supported: llama (SentencePiece), gpt2")


def load_tokenizer(path: str | Path) -> Tokenizer:
    """A tokenizer.json file (or a checkpoint directory holding one)."""
    path = Path(path)
    return Tokenizer.from_file(str(path / "tokenizer.json" if path.is_dir() else path))
