"""The GGUF reader: header fields, tensor directory and dequantization."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from kaizen_lab.models.local._gguf import GGML_TYPES, dequantize_into, read_gguf

pytestmark = pytest.mark.slow


def test_header_metadata_matches_smollm2(model_path: str) -> None:
    g = read_gguf(model_path)
    md = g.metadata
    assert md["general.architecture"] == "llama"
    assert md["llama.block_count"] == 30
    assert md["llama.embedding_length"] == 576
    assert md["llama.attention.head_count"] == 9 and md["llama.attention.head_count_kv"] == 3
    assert isinstance(md["llama.attention.layer_norm_rms_epsilon"], float)  # a Python float, not numpy
    assert len(md["tokenizer.ggml.tokens"]) == 49152
    assert md["tokenizer.ggml.tokens"][2] == "<|im_end|>"
    assert md["tokenizer.ggml.merges"][0] == "Ġ t"
    assert "<|im_start|>" in md["tokenizer.chat_template"]
    # 30 layers x 9 tensors + embedding + final norm; the output head is tied to the embedding
    assert len(g.tensors) == 272 and "output.weight" not in g.tensors
    assert g.tensors["blk.0.ffn_down.weight"].shape == (576, 1536)
    assert g.tensors["blk.0.ffn_down.weight"].type_name == "Q4_1"


def test_dequantize_matches_the_gguf_package(model_path: str) -> None:
    from gguf import GGMLQuantizationType
    from gguf.quants import dequantize

    ours = read_gguf(model_path)
    for name in ("token_embd.weight", "blk.7.attn_k.weight", "blk.29.ffn_gate.weight", "output_norm.weight"):
        info = ours.tensors[name]
        mine = ours.load_f32(name)
        assert mine.dtype == np.float32 and mine.shape == info.shape
        raw = ours.read_raw(name).reshape(info.shape[0], -1)
        reference = dequantize(raw, GGMLQuantizationType[info.type_name]).reshape(mine.shape)
        np.testing.assert_array_equal(mine, reference)


def _f16(x: float) -> bytes:
    return np.float16(x).tobytes()


def test_q4_1_block_by_hand() -> None:
    # d=0.5, m=-1; low nibbles give weights 0..15, high nibbles the next 16
    nibbles = bytes((i & 0xF) | ((15 - i) << 4) for i in range(16))
    raw = np.frombuffer(_f16(0.5) + _f16(-1.0) + nibbles, np.uint8)
    out = np.empty(32, np.float32)
    dequantize_into(raw, 3, out)
    expected = [i * 0.5 - 1.0 for i in range(16)] + [(15 - i) * 0.5 - 1.0 for i in range(16)]
    assert out.tolist() == expected


def test_q8_0_block_by_hand() -> None:
    qs = struct.pack("32b", *range(-16, 16))
    raw = np.frombuffer(_f16(0.25) + qs, np.uint8)
    out = np.empty(32, np.float32)
    dequantize_into(raw, 8, out)
    assert out.tolist() == [q * 0.25 for q in range(-16, 16)]
    assert GGML_TYPES[8] == ("Q8_0", 32, 34)


def test_not_a_gguf_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"NOPE" + bytes(100))
    with pytest.raises(ValueError, match="not a GGUF file"):
        read_gguf(str(bad))
