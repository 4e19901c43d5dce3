"""The model's byte-level BPE tokenizer, built with ``tokenizers`` from the GGUF vocabulary and merges.

GGUF stores what a ``tokenizer.json`` would: the token strings (already in GPT-2's byte-to-unicode alphabet),
their types, and the merge list. ``tokenizer.ggml.pre`` names the pre-tokenizer; for ``smollm`` (and the other
StarCoder-style vocabularies) llama.cpp splits every digit on its own and then applies GPT-2's regex, which is
``Digits(individual_digits=True)`` followed by ``ByteLevel`` in ``tokenizers`` terms.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kaizen_lab.errors import UnsupportedModelError

__all__ = ["Tokenizer", "build_tokenizer"]

# GGUF token types
_CONTROL, _USER_DEFINED = 3, 4
# Pre-tokenizer names that split digits individually before GPT-2's regex (llama.cpp's grouping).
_DIGIT_SPLIT = {"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva"}
_GPT2_STYLE = {"gpt2", "mpt", "olmo", "jais", "default"}


@dataclass(slots=True)
class Tokenizer:
    """Encode/decode text; ``hf`` is the ``tokenizers.Tokenizer``; ``json`` its serialised form."""

    hf: Any
    json: str
    bos_id: int | None
    eos_id: int
    special: dict[str, int]
    vocab_size: int
    #: ``tokenizer.ggml.add_bos_token``: the model expects its BOS token before every prompt
    add_bos: bool = False

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``; control tokens written out (``<|im_start|>``) become their ids."""
        return list(self.hf.encode(text, add_special_tokens=False).ids)

    def encode_prompt(self, text: str) -> list[int]:
        """``encode``, with the BOS token in front when the model expects one and the text has none."""
        ids = self.encode(text)
        if self.add_bos and self.bos_id is not None and ids[:1] != [self.bos_id]:
            ids.insert(0, self.bos_id)
        return ids

    def text_of(self, token_id: int | None) -> str:
        """The written form of a (special) token, e.g. for a chat template's ``eos_token``; "" for None."""
        return "" if token_id is None else str(self.hf.id_to_token(int(token_id)) or "")

    def decode(self, ids: Sequence[int], *, skip_special: bool = True) -> str:
        """Text of ``ids`` (control tokens dropped unless ``skip_special=False``)."""
        return str(self.hf.decode(list(ids), skip_special_tokens=skip_special))

    def token_bytes(self, token_id: int) -> bytes:
        """The raw bytes one token stands for (a token can hold part of a UTF-8 character)."""
        piece = self.hf.id_to_token(int(token_id))
        if piece is None:
            return b""
        if int(token_id) in self.special.values():
            return piece.encode("utf-8")
        return bytes(_UNICODE_TO_BYTE.get(ch, 0) for ch in piece)


def _bytes_to_unicode() -> dict[int, str]:
    # GPT-2's reversible byte <-> printable-unicode table used by ByteLevel vocabularies.
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), 256))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs, strict=True)}


BYTE_TO_UNICODE = _bytes_to_unicode()
_UNICODE_TO_BYTE = {c: b for b, c in BYTE_TO_UNICODE.items()}


def build_tokenizer(metadata: dict[str, Any]) -> Tokenizer:
    """Build the tokenizer from GGUF metadata.

    Raises:
        UnsupportedModelError: the vocabulary is not a byte-level BPE ("gpt2") one, or the pre-tokenizer is
            unknown (a ``ValueError`` too).
    """
    from tokenizers import Tokenizer as HFTokenizer

    model = metadata.get("tokenizer.ggml.model")
    if model != "gpt2":
        raise UnsupportedModelError(
            f"tokenizer.ggml.model is {model!r}; only byte-level BPE ('gpt2') vocabularies are supported by the "
            "embedded engine (SentencePiece 'llama' vocabularies, as in TinyLlama, are not). Use a model with a "
            "byte-level BPE vocabulary (SmolLM2), or serve this one with Ollama and use model='ollama:NAME'.",
            feature="tokenizer", value=model, supported=("gpt2",))
    tokens: list[str] = metadata["tokenizer.ggml.tokens"]
    types: list[int] = metadata.get("tokenizer.ggml.token_type") or [1] * len(tokens)
    merges: list[str] = metadata.get("tokenizer.ggml.merges") or []
    pre = str(metadata.get("tokenizer.ggml.pre", "default"))
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    if pre in _DIGIT_SPLIT:
        pre_tokenizer: dict[str, Any] = {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True}, byte_level]}
    elif pre in _GPT2_STYLE:
        pre_tokenizer = byte_level
    else:
        raise UnsupportedModelError(
            f"tokenizer.ggml.pre {pre!r} (how text is split before BPE) is not supported by the embedded engine "
            f"(supported: {', '.join(sorted(_DIGIT_SPLIT | _GPT2_STYLE))}); use a model with one of these, or "
            "serve this one with Ollama and use model='ollama:NAME'.", feature="pre-tokenizer", value=pre,
            supported=sorted(_DIGIT_SPLIT | _GPT2_STYLE))
    special = {tok: i for i, (tok, kind) in enumerate(zip(tokens, types, strict=True))
               if kind in (_CONTROL, _USER_DEFINED)}
    spec = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": i, "content": tok, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": types[i] == _CONTROL}
            for tok, i in special.items()
        ],
        "normalizer": None,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
            "vocab": {tok: i for i, tok in enumerate(tokens)},
            "merges": [m.split(" ", 1) for m in merges],
        },
    }
    text = json.dumps(spec, ensure_ascii=False)
    hf = HFTokenizer.from_str(text)
    bos = metadata.get("tokenizer.ggml.bos_token_id")
    return Tokenizer(hf=hf, json=text, bos_id=int(bos) if bos is not None else None,
                     eos_id=int(metadata.get("tokenizer.ggml.eos_token_id", 0)), special=special,
                     vocab_size=len(tokens), add_bos=bool(metadata.get("tokenizer.ggml.add_bos_token", False)))
