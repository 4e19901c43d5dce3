"""Tiny random-weight GGUF files written with the ``gguf`` package, and an independent llama forward pass.

The files are shaped unlike SmolLM2 (another width, head count, key/value head count, depth and vocabulary,
a plain GPT-2 pre-tokenizer, an untied output head, several quantization types) so a test that loads one
proves the engine reads the shape from the file. ``reference_logits`` recomputes the model from the file with
``gguf.GGUFReader`` and straightforward numpy (a loop over heads, llama.cpp's adjacent-pair rotary), sharing
no code with the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kaizen_lab.models.local._tokenizer import BYTE_TO_UNICODE

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MERGES = ["Ġ t", "h e", "Ġt he", "Ġ a", "i n", "Ġ c", "a t", "Ġc at", "o n", "Ġ s"]
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
          "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
          "{% endif %}")


@dataclass
class Shape:
    dim: int = 64
    n_heads: int = 4
    n_kv_heads: int = 2
    n_layers: int = 2
    ffn: int = 96
    context: int = 256
    rope_base: float = 10000.0
    eps: float = 1e-5
    architecture: str = "llama"
    tokenizer_model: str = "gpt2"
    #: tensor name (without ``blk.N.``) -> ggml type name; anything not listed is F32
    types: dict[str, str] = field(default_factory=lambda: {
        "token_embd.weight": "F16", "output.weight": "Q8_0", "attn_q.weight": "Q8_0", "attn_k.weight": "Q5_0",
        "attn_v.weight": "Q4_0", "attn_output.weight": "BF16", "ffn_gate.weight": "Q4_1",
        "ffn_up.weight": "Q5_1", "ffn_down.weight": "F16"})
    chat_template: str = CHATML
    extra_tensors: tuple[str, ...] = ()
    extra_metadata: dict[str, Any] = field(default_factory=dict)


def vocabulary() -> tuple[list[str], list[int]]:
    """Special tokens, the 256 byte tokens, then one token per merge."""
    tokens = [*SPECIALS, *(BYTE_TO_UNICODE[b] for b in range(256)), *(m.replace(" ", "") for m in MERGES)]
    types = [3] * len(SPECIALS) + [1] * (len(tokens) - len(SPECIALS))
    return tokens, types


def write_tiny_llama(path: Path, shape: Shape | None = None, *, seed: int = 0) -> Path:
    """Write a random-weight llama GGUF to ``path``; returns ``path``."""
    import gguf
    from gguf.quants import quantize

    s = shape or Shape()
    rng = np.random.default_rng(seed)
    tokens, types = vocabulary()
    hd = s.dim // s.n_heads
    writer = gguf.GGUFWriter(str(path), s.architecture)
    arch = s.architecture
    writer.add_uint32(f"{arch}.block_count", s.n_layers)
    writer.add_uint32(f"{arch}.context_length", s.context)
    writer.add_uint32(f"{arch}.embedding_length", s.dim)
    writer.add_uint32(f"{arch}.feed_forward_length", s.ffn)
    writer.add_uint32(f"{arch}.attention.head_count", s.n_heads)
    writer.add_uint32(f"{arch}.attention.head_count_kv", s.n_kv_heads)
    writer.add_float32(f"{arch}.rope.freq_base", s.rope_base)
    writer.add_float32(f"{arch}.attention.layer_norm_rms_epsilon", s.eps)
    writer.add_uint32(f"{arch}.rope.dimension_count", hd)
    writer.add_tokenizer_model(s.tokenizer_model)
    writer.add_tokenizer_pre("gpt2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(MERGES)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_chat_template(s.chat_template)
    for key, value in s.extra_metadata.items():
        if isinstance(value, bool):
            writer.add_bool(key, value)
        elif isinstance(value, str):
            writer.add_string(key, value)
        elif isinstance(value, float):
            writer.add_float32(key, value)
        else:
            writer.add_uint32(key, int(value))

    def add(name: str, shape: tuple[int, ...], scale: float = 0.3) -> None:
        data = (rng.standard_normal(shape) * scale).astype(np.float32)
        if name.endswith("norm.weight"):
            data = (1.0 + 0.1 * rng.standard_normal(shape)).astype(np.float32)
        kind = s.types.get(name.split(".", 2)[2] if name.startswith("blk.") else name, "F32")
        if kind == "F32":
            writer.add_tensor(name, data)
        elif kind == "F16":
            writer.add_tensor(name, data.astype(np.float16))
        else:
            qtype = gguf.GGMLQuantizationType[kind]
            try:
                packed = quantize(data, qtype)
            except NotImplementedError:  # a type the gguf package cannot write: zero bytes of the right size
                block, size = gguf.GGML_QUANT_SIZES[qtype]
                packed = np.zeros((*shape[:-1], shape[-1] // block * size), np.uint8)
            writer.add_tensor(name, packed, raw_dtype=qtype)

    vocab, D, F = len(tokens), s.dim, s.ffn
    add("token_embd.weight", (vocab, D), 1.0)
    add("output_norm.weight", (D,))
    add("output.weight", (vocab, D))
    for i in range(s.n_layers):
        p = f"blk.{i}."
        add(p + "attn_norm.weight", (D,))
        add(p + "attn_q.weight", (s.n_heads * hd, D))
        add(p + "attn_k.weight", (s.n_kv_heads * hd, D))
        add(p + "attn_v.weight", (s.n_kv_heads * hd, D))
        add(p + "attn_output.weight", (D, s.n_heads * hd))
        add(p + "ffn_norm.weight", (D,))
        add(p + "ffn_gate.weight", (F, D))
        add(p + "ffn_up.weight", (F, D))
        add(p + "ffn_down.weight", (D, F))
    for name in s.extra_tensors:
        add(name, (D,))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _weights(path: Path) -> dict[str, np.ndarray]:
    import gguf
    from gguf.quants import dequantize

    reader = gguf.GGUFReader(str(path))
    out = {}
    for t in reader.tensors:
        shape = tuple(int(n) for n in reversed(t.shape.tolist()))
        out[t.name] = np.asarray(dequantize(t.data, t.tensor_type), dtype=np.float64).reshape(shape)
    return out


def reference_logits(path: Path, tokens: list[int], shape: Shape | None = None) -> np.ndarray:
    """Next-token logits after each of ``tokens`` (shape (len(tokens), vocab)), in float64."""
    s = shape or Shape()
    w = _weights(path)
    hd = s.dim // s.n_heads
    group = s.n_heads // s.n_kv_heads

    def rms(x: np.ndarray, gain: np.ndarray) -> np.ndarray:
        return x / np.sqrt(np.mean(x * x) + s.eps) * gain

    def rope(v: np.ndarray, pos: int) -> np.ndarray:  # llama.cpp's "normal" rope: adjacent pairs
        out = v.copy()
        for i in range(0, hd, 2):
            theta = pos * s.rope_base ** (-i / hd)
            c, si = np.cos(theta), np.sin(theta)
            out[i], out[i + 1] = v[i] * c - v[i + 1] * si, v[i] * si + v[i + 1] * c
        return out

    keys: list[list[list[np.ndarray]]] = [[[] for _ in range(s.n_kv_heads)] for _ in range(s.n_layers)]
    values: list[list[list[np.ndarray]]] = [[[] for _ in range(s.n_kv_heads)] for _ in range(s.n_layers)]
    rows = []
    for pos, token in enumerate(tokens):
        x = w["token_embd.weight"][token].copy()
        for layer in range(s.n_layers):
            p = f"blk.{layer}."
            h = rms(x, w[p + "attn_norm.weight"])
            q, k, v = w[p + "attn_q.weight"] @ h, w[p + "attn_k.weight"] @ h, w[p + "attn_v.weight"] @ h
            for kv in range(s.n_kv_heads):
                keys[layer][kv].append(rope(k[kv * hd:(kv + 1) * hd], pos))
                values[layer][kv].append(v[kv * hd:(kv + 1) * hd])
            heads = []
            for head in range(s.n_heads):
                kv = head // group
                qh = rope(q[head * hd:(head + 1) * hd], pos)
                scores = np.array([qh @ key for key in keys[layer][kv]]) / np.sqrt(hd)
                weights = np.exp(scores - scores.max())
                weights /= weights.sum()
                heads.append(sum(wt * val for wt, val in zip(weights, values[layer][kv], strict=True)))
            x = x + w[p + "attn_output.weight"] @ np.concatenate(heads)
            h = rms(x, w[p + "ffn_norm.weight"])
            gate, up = w[p + "ffn_gate.weight"] @ h, w[p + "ffn_up.weight"] @ h
            x = x + w[p + "ffn_down.weight"] @ (gate / (1.0 + np.exp(-gate)) * up)
        rows.append(w["output.weight"] @ rms(x, w["output_norm.weight"]))
    return np.array(rows)
