"""``model="local:PATH.gguf"``: another, differently shaped llama GGUF runs on the same engine; files the engine
cannot run fail with ``UnsupportedModelError`` naming what they have and what is supported."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import openai
import pytest

from kaizen_lab.errors import UnsupportedModelError, UserError
from kaizen_lab.models.base import Message, ModelSettings
from kaizen_lab.models.local import LocalModel, serve
from kaizen_lab.models.local._gguf import dequantize_into, read_gguf, supported_types
from kaizen_lab.models.registry import resolve_model
from tests.models.local._tiny_gguf import Shape, reference_logits, write_tiny_llama


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_llama(tmp_path_factory.mktemp("gguf") / "tiny-llama.gguf")


@pytest.fixture(scope="module")
def tiny_model(tiny: Path) -> LocalModel:
    model = resolve_model(f"local:{tiny}")
    assert isinstance(model, LocalModel)
    model.backend = "numpy"
    return model


def write(tmp_path: Path, **changes: object) -> str:
    return str(write_tiny_llama(tmp_path / "variant.gguf", Shape(**changes)))  # type: ignore[arg-type]


def test_the_shape_comes_from_the_file(tiny_model: LocalModel) -> None:
    loaded = tiny_model.load()
    cfg = loaded._engine.cfg
    assert (cfg.dim, cfg.n_heads, cfg.n_kv_heads, cfg.head_dim, cfg.n_layers, cfg.ffn_dim) == (64, 4, 2, 16, 2, 96)
    assert cfg.vocab_size == loaded.tokenizer.vocab_size == 269 and loaded.context_length == 256
    assert loaded._engine.output is not loaded._engine.embed  # an untied output head, unlike SmolLM2
    types = {info.type_name for info in read_gguf(loaded.path).tensors.values()}
    assert {"F16", "Q8_0", "Q5_0", "Q4_0", "BF16", "Q4_1", "Q5_1", "F32"} <= types


def test_logits_match_an_independent_forward_pass(tiny_model: LocalModel, tiny: Path) -> None:
    loaded = tiny_model.load()
    tokens = loaded.tokenizer.encode("<|im_start|>user\nthe cat sat on a mat<|im_end|>\n")
    reference = reference_logits(tiny, tokens)
    stepwise = loaded.session(len(tokens) + 1)
    for position, token in enumerate(tokens):
        stepwise.feed([token])
        np.testing.assert_allclose(stepwise.next_logits(), reference[position], atol=1e-3, rtol=1e-3)
    batched = loaded.session(len(tokens) + 1)
    batched.feed(tokens)
    np.testing.assert_allclose(batched.next_logits(), reference[-1], atol=1e-3, rtol=1e-3)


def test_it_generates_greedy_tokens_of_the_reference_model(tiny_model: LocalModel, tiny: Path) -> None:
    loaded = tiny_model.load()
    prompt = loaded.tokenizer.encode("<|im_start|>user\nthe cat<|im_end|>\n<|im_start|>assistant\n")
    steps = list(loaded.generate(prompt, max_tokens=5))
    generated = [t for step in steps for t in step.tokens]
    sequence = list(prompt)
    expected = []
    for _ in generated:  # greedy: each token is the reference model's argmax after the text so far
        expected.append(int(np.argmax(reference_logits(tiny, sequence)[-1])))
        sequence.append(expected[-1])
    assert generated == expected and steps[-1].finish_reason in ("stop", "length")
    assert len(generated) == 5 or int(np.argmax(reference_logits(tiny, sequence)[-1])) in loaded.stop_ids


def test_local_model_answers_through_the_chat_template(tiny_model: LocalModel) -> None:
    loaded = tiny_model.load()
    reply = tiny_model.request_sync([Message("user", "the cat")], settings=ModelSettings(max_tokens=6))
    prompt = loaded.tokenizer.encode("<|im_start|>system\nAnswer with a short factual answer.<|im_end|>\n"
                                     "<|im_start|>user\nthe cat<|im_end|>\n<|im_start|>assistant\n")
    assert reply.usage.input_tokens == len(prompt) and 0 < reply.usage.output_tokens <= 6
    assert reply.model_name == "tiny-llama" and reply.raw["path"] == loaded.path


@pytest.mark.parametrize("template_has_bos", [False, True])
def test_a_model_that_wants_bos_gets_it_once(tmp_path: Path, template_has_bos: bool) -> None:
    template = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}{{ eos_token }}\n{% endfor %}"
                "assistant:")
    path = write(tmp_path, chat_template=("{{ bos_token }}" if template_has_bos else "") + template,
                 extra_metadata={"tokenizer.ggml.add_bos_token": True})
    model = LocalModel(path=path, backend="numpy")
    tok = model.load().tokenizer
    reply = model.request_sync([Message("system", "be brief"), Message("user", "the cat")],
                               settings=ModelSettings(max_tokens=1))
    body = tok.encode("system: be brief<|im_end|>\nuser: the cat<|im_end|>\nassistant:")
    assert tok.add_bos and body.count(tok.eos_id) == 2  # eos_token rendered as the model's own token
    assert reply.usage.input_tokens == len(body) + 1  # the BOS token, whether the template wrote it or not


def test_structured_output_validates_on_the_tiny_model(tiny_model: LocalModel) -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}, "kind": {"enum": ["cat", "dog"]}},
              "required": ["ok", "kind"]}
    reply = tiny_model.request_sync([Message("user", "the cat")], output_schema=schema)
    jsonschema.validate(json.loads(reply.text), schema)


def test_serve_the_tiny_model(tiny: Path) -> None:
    with serve(f"local:{tiny}") as server:
        client = openai.OpenAI(base_url=server.url, api_key=server.api_key, max_retries=0)
        assert [m.id for m in client.models.list().data] == ["tiny-llama"]
        reply = client.chat.completions.create(model="tiny-llama", max_tokens=4, logprobs=True,
                                               messages=[{"role": "user", "content": "the cat"}])
    assert reply.usage is not None and reply.usage.completion_tokens <= 4
    assert reply.choices[0].logprobs is not None


# -- what the engine refuses --------------------------------------------------------------------------------


def test_another_architecture_is_refused_by_name(tmp_path: Path) -> None:
    path = write(tmp_path, architecture="qwen2")
    with pytest.raises(UnsupportedModelError) as err:
        LocalModel(path=path, backend="numpy").load()
    assert err.value.feature == "architecture" and err.value.value == "qwen2"
    assert err.value.supported == ("llama",)
    assert "'qwen2'" in str(err.value) and "ollama" in str(err.value) and isinstance(err.value, UserError)


def test_an_unsupported_quantization_lists_the_supported_ones(tmp_path: Path) -> None:
    path = write(tmp_path, types={"ffn_down.weight": "Q8_1"})
    with pytest.raises(UnsupportedModelError) as err:
        LocalModel(path=path, backend="numpy").load()
    message = str(err.value)
    assert err.value.feature == "quantization" and err.value.value == "Q8_1"
    assert "blk.0.ffn_down.weight" in message and "Q8_1" in message
    for name in ("F16", "Q4_0", "Q8_0", "Q4_K", "Q6_K"):
        assert name in err.value.supported and name in message


def test_weights_the_engine_would_skip_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, extra_tensors=("blk.0.attn_q.bias",))
    with pytest.raises(UnsupportedModelError, match=r"blk\.0\.attn_q\.bias") as err:
        LocalModel(path=path, backend="numpy").load()
    assert err.value.feature == "tensors"


def test_a_mixture_of_experts_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, extra_metadata={"llama.expert_count": 8})
    with pytest.raises(UnsupportedModelError, match="mixture of experts"):
        LocalModel(path=path, backend="numpy").load()


def test_rope_scaling_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, extra_metadata={"llama.rope.scaling.type": "yarn", "llama.rope.scaling.factor": 4.0})
    with pytest.raises(UnsupportedModelError, match="rope scaling") as err:
        LocalModel(path=path, backend="numpy").load()
    assert err.value.feature == "rope scaling"


def test_a_sentencepiece_vocabulary_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, tokenizer_model="llama")
    with pytest.raises(UnsupportedModelError, match="byte-level BPE") as err:
        LocalModel(path=path, backend="numpy").load()
    assert err.value.feature == "tokenizer" and err.value.supported == ("gpt2",)


def test_a_model_too_big_for_memory_is_refused_before_loading(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from kaizen_lab.models.local import _llama

    path = write(tmp_path)
    needed = _llama.check_memory(read_gguf(path))
    monkeypatch.setattr(_llama, "available_memory", lambda: needed - 1)
    with pytest.raises(UnsupportedModelError, match="float32") as err:
        LocalModel(path=path, backend="numpy").load()
    assert err.value.feature == "memory" and err.value.value == needed
    assert "SmolLM2-135M" in str(err.value) and "llama-cpp-python" in str(err.value)


def test_a_missing_file_names_the_path(tmp_path: Path) -> None:
    model = resolve_model(f"local:{tmp_path / 'nowhere.gguf'}")
    with pytest.raises(UserError, match="nowhere.gguf"):
        model.request_sync([Message("user", "hi")])


# -- dequantization paths --------------------------------------------------------------------------------------


def test_bf16_is_the_top_half_of_float32() -> None:
    values = np.array([1.0, -2.5, 3.140625, 0.0], np.float32)
    raw = (values.view(np.uint32) >> 16).astype("<u2").view(np.uint8)
    out = np.empty(4, np.float32)
    dequantize_into(raw, 30, out)
    assert out.tolist() == values.tolist()


@pytest.mark.parametrize("kind", ["Q4_K", "Q5_K", "Q6_K", "Q2_K", "Q3_K"])
def test_k_quants_dequantize_in_chunks_like_the_gguf_package(kind: str) -> None:
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
    from gguf.quants import dequantize

    qtype = GGMLQuantizationType[kind]
    block, size = GGML_QUANT_SIZES[qtype]
    # bit 6 cleared in every byte: no float16 scale can have an all-ones exponent (inf/NaN)
    raw = np.random.default_rng(1).integers(0, 256, (37, size), dtype=np.uint8) & 0xBF
    out = np.empty(37 * block, np.float32)
    dequantize_into(raw.reshape(-1), int(qtype), out, chunk_blocks=64)  # 8 blocks a chunk: several chunks
    np.testing.assert_array_equal(out, dequantize(raw, qtype).reshape(-1))
    assert kind in supported_types()
