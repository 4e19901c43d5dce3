"""The BPE tokenizer built from the GGUF vocabulary: known ids, a reference BPE, round trips."""

from __future__ import annotations

import pytest

from kaizen_lab.models.local._tokenizer import BYTE_TO_UNICODE

pytestmark = pytest.mark.slow

TEXTS = [
    "What is the capital of France?",
    "Hello, world! 12345 and 3.14",
    "héllo wörld — naïve café",
    "日本語のテキスト 😀🎉",
    "  leading spaces\n\ttabs and\r\nnewlines   ",
    "don't you'll we've I'm",
    'JSON: {"a": [1, 2, {"b": null}]}',
    "def f(x):\n    return x ** 2  # square",
]


def _reference_bpe(word: str, ranks: dict[tuple[str, str], int]) -> list[str]:
    """Textbook BPE: repeatedly merge the adjacent pair with the lowest merge rank."""
    parts = list(word)
    while len(parts) > 1:
        pairs = [(ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(parts, parts[1:], strict=False))]
        rank, i = min(pairs)
        if rank == 1 << 30:
            break
        parts[i:i + 2] = [parts[i] + parts[i + 1]]
    return parts


def test_known_ids(loaded, gguf_metadata) -> None:  # type: ignore[no-untyped-def]
    tok = loaded.tokenizer
    vocab = {t: i for i, t in enumerate(gguf_metadata["tokenizer.ggml.tokens"])}
    ids = tok.encode("What is the capital of France?")
    assert ids == [vocab["What"], vocab["Ġis"], vocab["Ġthe"], vocab["Ġcapital"], vocab["Ġof"],
                   vocab["ĠFrance"], vocab["?"]]
    assert ids == [1780, 314, 260, 3575, 282, 4649, 47]
    # digits are split one by one (the 'smollm' pre-tokenizer), the space before them stays alone
    assert tok.encode("in 2024") == [vocab["in"], vocab["Ġ"], vocab["2"], vocab["0"], vocab["2"], vocab["4"]]
    # control tokens written out in text become their single ids
    assert tok.encode("<|im_start|>user\n") == [1, vocab["user"], vocab["Ċ"]]
    assert tok.eos_id == 2 and tok.special["<|im_end|>"] == 2


@pytest.mark.parametrize("text", TEXTS)
def test_matches_reference_bpe(loaded, gguf_metadata, text: str) -> None:  # type: ignore[no-untyped-def]
    tok = loaded.tokenizer
    vocab = {t: i for i, t in enumerate(gguf_metadata["tokenizer.ggml.tokens"])}
    ranks = {tuple(m.split(" ", 1)): r for r, m in enumerate(gguf_metadata["tokenizer.ggml.merges"])}
    expected: list[int] = []
    for piece, _ in tok.hf.pre_tokenizer.pre_tokenize_str(text):
        expected += [vocab[p] for p in _reference_bpe(piece, ranks)]  # type: ignore[arg-type]
    assert tok.encode(text) == expected


@pytest.mark.parametrize("text", TEXTS)
def test_round_trip(loaded, text: str) -> None:  # type: ignore[no-untyped-def]
    tok = loaded.tokenizer
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert b"".join(tok.token_bytes(i) for i in ids) == text.encode("utf-8")


def test_byte_alphabet_is_a_bijection() -> None:
    assert len(BYTE_TO_UNICODE) == 256 and len(set(BYTE_TO_UNICODE.values())) == 256
    assert BYTE_TO_UNICODE[ord(" ")] == "Ġ" and BYTE_TO_UNICODE[ord("\n")] == "Ċ"


def test_unsupported_vocabulary_is_rejected() -> None:
    from kaizen_lab.models.local._tokenizer import build_tokenizer

    with pytest.raises(ValueError, match="byte-level BPE"):
        build_tokenizer({"tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": ["a"]})
