"""A llama-architecture forward pass in numpy, with a preallocated KV cache.

Design choices, all for speed on a couple of CPU cores:

* Weights are dequantized once at load to float32: numpy's BLAS only multiplies float32/float64 fast, and
  decoding one token is a chain of matrix-vector products whose cost is reading the weights from memory.
* Q, K and V share one fused matrix per layer, as do the FFN's gate and up projections: fewer, larger BLAS
  calls and fewer Python round trips per token.
* llama.cpp stores Q/K rows interleaved for rotary embedding on adjacent pairs; we permute those rows at load
  so rotary works on the two contiguous halves of each head (cheaper slices, same dot products).
* Every scalar in the hot path is a Python float. A numpy float64 scalar (``np.sqrt(64)``) would promote the
  float32 arrays to float64 and make the pass ~10x slower.
* All heads are handled by batched ``matmul`` over a (kv_head, group*T, head_dim) view: no loop over heads.
* RMSNorm gains and the attention scale are folded into the weight matrices at load.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from kaizen_lab.errors import UnsupportedModelError
from kaizen_lab.models.local._gguf import GGUFFile

__all__ = ["PREFILL_CHUNK", "KVCache", "LlamaConfig", "LlamaEngine", "available_memory", "check_memory"]

#: prompt tokens per block of the prompt pass (see ``LlamaEngine.hidden``)
PREFILL_CHUNK = 256

Progress = Callable[[float, str], None]


@dataclass(frozen=True, slots=True)
class LlamaConfig:
    n_layers: int
    dim: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    ffn_dim: int
    vocab_size: int
    context_length: int
    rope_base: float
    eps: float

    @classmethod
    def from_metadata(cls, md: dict[str, object], vocab_size: int, *, path: str = "") -> LlamaConfig:
        """The shape of a llama-architecture model from its GGUF metadata.

        Raises:
            UnsupportedModelError: another architecture, or a llama variant this engine would run wrongly
                (mixture of experts, rope scaling, partial rotary, unequal key/value head sizes).
        """
        where = f"{path}: " if path else ""
        arch = str(md.get("general.architecture", ""))
        if arch != "llama":
            raise UnsupportedModelError(
                f"{where}the model's architecture is {arch!r}; the embedded engine runs 'llama' models only (e.g. "
                "SmolLM2-135M/360M/1.7B-Instruct GGUF files). Pick a llama-architecture GGUF, or serve this model "
                "with Ollama and use model='ollama:NAME'.", path=path, feature="architecture", value=arch,
                supported=("llama",))

        def get(key: str, default: object = None) -> object:
            value = md.get(f"llama.{key}", default)
            if value is None:
                raise UnsupportedModelError(f"{where}GGUF metadata lacks llama.{key}; the file is incomplete or "
                                            "not a llama model", path=path, feature="metadata", value=key)
            return value

        def unsupported(feature: str, value: object) -> UnsupportedModelError:
            return UnsupportedModelError(
                f"{where}{feature} ({value}) is not supported by the embedded engine, which runs plain llama "
                "models (SmolLM2-style); use another GGUF, or serve this model with Ollama and use "
                "model='ollama:NAME'.", path=path, feature=feature, value=value, supported=("llama",))

        if int(md.get("llama.expert_count", 0) or 0) > 0:  # type: ignore[call-overload]
            raise unsupported("a mixture of experts", f"{md['llama.expert_count']} experts")
        scaling = str(md.get("llama.rope.scaling.type", "none") or "none")
        factor = float(md.get("llama.rope.scaling.factor", 1.0) or 1.0)  # type: ignore[arg-type]
        if scaling != "none" and factor != 1.0:
            raise unsupported("rope scaling", f"{scaling} x{factor}")
        dim = int(get("embedding_length"))  # type: ignore[call-overload]
        n_heads = int(get("attention.head_count"))  # type: ignore[call-overload]
        n_kv_heads = int(get("attention.head_count_kv", n_heads))  # type: ignore[call-overload]
        head_dim = int(get("attention.key_length", dim // n_heads))  # type: ignore[call-overload]
        if int(get("attention.value_length", head_dim)) != head_dim:  # type: ignore[call-overload]
            raise unsupported("key and value heads of different sizes", f"{head_dim} vs "
                              f"{md['llama.attention.value_length']}")
        rotary = int(get("rope.dimension_count", head_dim))  # type: ignore[call-overload]
        if rotary != head_dim:
            raise unsupported("partial rotary embedding", f"{rotary} of {head_dim} dimensions")
        if n_kv_heads < 1 or n_heads % n_kv_heads or head_dim % 2:
            raise unsupported("this head layout", f"{n_heads} heads, {n_kv_heads} key/value heads of {head_dim}")
        return cls(
            n_layers=int(get("block_count")),  # type: ignore[call-overload]
            dim=dim,
            n_heads=n_heads,
            n_kv_heads=n_kv_heads,
            head_dim=head_dim,
            ffn_dim=int(get("feed_forward_length")),  # type: ignore[call-overload]
            vocab_size=vocab_size,
            context_length=int(get("context_length", 2048)),  # type: ignore[call-overload]
            rope_base=float(get("rope.freq_base", 10000.0)),  # type: ignore[arg-type]
            eps=float(get("attention.layer_norm_rms_epsilon", 1e-5)),  # type: ignore[arg-type]
        )

    def check_tensors(self, gguf: GGUFFile) -> None:
        """Every tensor the forward pass needs is in the file with the right shape, and nothing else is (a
        bias or an extra norm this engine would skip would make it compute another model).

        Raises:
            UnsupportedModelError: naming the missing, unexpected or misshapen tensors.
        """
        c = self
        D, F, qd, kvd = c.dim, c.ffn_dim, c.n_heads * c.head_dim, c.n_kv_heads * c.head_dim
        expected: dict[str, tuple[int, ...]] = {"token_embd.weight": (c.vocab_size, D), "output_norm.weight": (D,)}
        if "output.weight" in gguf.tensors:
            expected["output.weight"] = (c.vocab_size, D)
        for i in range(c.n_layers):
            p = f"blk.{i}."
            expected.update({p + "attn_q.weight": (qd, D), p + "attn_k.weight": (kvd, D),
                             p + "attn_v.weight": (kvd, D), p + "attn_output.weight": (D, qd),
                             p + "ffn_gate.weight": (F, D), p + "ffn_up.weight": (F, D),
                             p + "ffn_down.weight": (D, F), p + "attn_norm.weight": (D,),
                             p + "ffn_norm.weight": (D,)})
        missing = sorted(set(expected) - set(gguf.tensors))
        extra = sorted(set(gguf.tensors) - set(expected))
        wrong = sorted(n for n in expected if n in gguf.tensors and gguf.tensors[n].shape != expected[n])
        if not (missing or extra or wrong):
            return
        parts = []
        if extra:
            parts.append(f"tensors the engine has no use for: {', '.join(extra[:4])}{' ...' if len(extra) > 4 else ''}"
                         " (biases, extra norms or rope factors of a llama variant)")
        if missing:
            parts.append(f"missing tensors: {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}")
        if wrong:
            parts.append("tensors of unexpected shape: " + ", ".join(
                f"{n} {gguf.tensors[n].shape} (expected {expected[n]})" for n in wrong[:3]))
        raise UnsupportedModelError(
            f"{gguf.path}: not a plain llama model: {'; '.join(parts)}. The embedded engine runs SmolLM2-style "
            "llama models; serve this one with Ollama and use model='ollama:NAME'.", path=gguf.path,
            feature="tensors", value=extra or missing or wrong, supported=("llama",))


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``), or ``None`` when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_memory(gguf: GGUFFile) -> int:
    """The bytes the float32 weights of ``gguf`` will take; refuses a model that cannot fit in memory now (a
    7B file would otherwise be killed by the OS half way through loading, or take the notebook with it).

    Raises:
        UnsupportedModelError: with ``feature="memory"``, the bytes needed as ``value``.
    """
    needed = 4 * sum(int(np.prod(t.shape)) for t in gguf.tensors.values())
    available = available_memory()
    if available is not None and needed > available:
        raise UnsupportedModelError(
            f"{gguf.path}: the embedded engine holds weights as float32, which for this model is "
            f"{needed / 1e9:.1f} GB, but only {available / 1e9:.1f} GB of memory is available. Use a smaller "
            "model (SmolLM2-135M/360M-Instruct), install llama-cpp-python (it keeps the weights quantized), or "
            "serve this model with Ollama and use model='ollama:NAME'.", path=gguf.path, feature="memory",
            value=needed, supported=(f"up to {available / 1e9:.1f} GB",))
    return needed


class KVCache:
    """Keys and values of the tokens seen so far, for every layer; ``length`` tokens are filled."""

    __slots__ = ("capacity", "k", "length", "v")

    def __init__(self, cfg: LlamaConfig, capacity: int) -> None:
        shape = (cfg.n_layers, cfg.n_kv_heads, capacity, cfg.head_dim)
        # np.zeros maps fresh pages lazily: only the positions actually written use memory.
        self.k = np.zeros(shape, dtype=np.float32)
        self.v = np.zeros(shape, dtype=np.float32)
        self.capacity = capacity
        self.length = 0


class LlamaEngine:
    """Float32 weights of one llama model and its forward pass. Thread-safe for concurrent caches."""

    def __init__(self, gguf: GGUFFile, cfg: LlamaConfig, *, progress: Progress | None = None) -> None:
        self.cfg = cfg
        c = cfg
        L, D, hd = c.n_layers, c.dim, c.head_dim
        self.q_dim, self.kv_dim = c.n_heads * hd, c.n_kv_heads * hd
        qkv = self.q_dim + 2 * self.kv_dim
        self.wqkv = np.empty((L, qkv, D), np.float32)
        self.wo = np.empty((L, D, self.q_dim), np.float32)
        self.wgu = np.empty((L, 2 * c.ffn_dim, D), np.float32)
        self.wd = np.empty((L, D, c.ffn_dim), np.float32)
        self.attn_norm = np.empty((L, D), np.float32)
        self.ffn_norm = np.empty((L, D), np.float32)
        self.out_norm = gguf.load_f32("output_norm.weight")
        self.embed = gguf.load_f32("token_embd.weight")
        # Small models tie the output head to the embedding; then both names share one array.
        self.output = gguf.load_f32("output.weight") if "output.weight" in gguf.tensors else self.embed
        if self.embed.shape != (c.vocab_size, D):
            raise ValueError(f"token_embd.weight has shape {self.embed.shape}, expected {(c.vocab_size, D)}")

        # Rows of each head reordered from interleaved pairs (0,1),(2,3).. to halves [0,2,4..|1,3,5..].
        half = np.concatenate([np.arange(0, hd, 2), np.arange(1, hd, 2)])
        q_perm = (np.arange(c.n_heads)[:, None] * hd + half).reshape(-1)
        k_perm = (np.arange(c.n_kv_heads)[:, None] * hd + half).reshape(-1)
        jobs: list[Callable[[], None]] = []
        for i in range(L):
            p = f"blk.{i}."

            def layer(i: int = i, p: str = p) -> None:
                q0, k0 = self.q_dim, self.q_dim + self.kv_dim
                self.wqkv[i, :q0] = gguf.load_f32(p + "attn_q.weight")[q_perm]
                self.wqkv[i, q0:k0] = gguf.load_f32(p + "attn_k.weight")[k_perm]
                gguf.load_f32(p + "attn_v.weight", self.wqkv[i, k0:])
                gguf.load_f32(p + "attn_output.weight", self.wo[i])
                gguf.load_f32(p + "ffn_gate.weight", self.wgu[i, :c.ffn_dim])
                gguf.load_f32(p + "ffn_up.weight", self.wgu[i, c.ffn_dim:])
                gguf.load_f32(p + "ffn_down.weight", self.wd[i])
                gguf.load_f32(p + "attn_norm.weight", self.attn_norm[i])
                gguf.load_f32(p + "ffn_norm.weight", self.ffn_norm[i])
                # Fold the RMSNorm gains into the columns of the matrices that follow them, and the
                # attention scale 1/sqrt(head_dim) into the query rows (rotary embedding is linear, so the
                # scale commutes with it): three fewer array operations per layer and token.
                self.wqkv[i] *= self.attn_norm[i]
                self.wqkv[i, :q0] *= 1.0 / float(hd) ** 0.5
                self.wgu[i] *= self.ffn_norm[i]

            jobs.append(layer)
        # numpy's ufuncs release the GIL, so two threads dequantize ~2x faster on two cores.
        done = 0
        lock = threading.Lock()
        with ThreadPoolExecutor(max_workers=2) as pool:
            for fut in [pool.submit(job) for job in jobs]:
                fut.result()
                with lock:
                    done += 1
                if progress is not None:
                    progress(done / L, f"layer {done}/{L}")

        inv = 1.0 / (c.rope_base ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
        angles = np.outer(np.arange(c.context_length, dtype=np.float64), inv)
        self.cos = np.cos(angles).astype(np.float32)  # (ctx, hd/2)
        self.sin = np.sin(angles).astype(np.float32)
        self._ones = np.ones(c.context_length, np.float32)
        #: the prompt pass exponentiates attention scores without first subtracting each row's max (two
        #: passes fewer over the largest array, ~7% of a 3k-token pass); a row whose sum overflows or vanishes
        #: is redone with the shift. True: always shift.
        self.exact_softmax = False

    @property
    def nbytes(self) -> int:
        arrays = [self.wqkv, self.wo, self.wgu, self.wd, self.attn_norm, self.ffn_norm, self.embed]
        if self.output is not self.embed:
            arrays.append(self.output)
        return sum(a.nbytes for a in arrays)

    def new_cache(self, capacity: int) -> KVCache:
        """A KV cache for up to ``capacity`` tokens (capped at the model's context length)."""
        return KVCache(self.cfg, min(capacity, self.cfg.context_length))

    def _rms(self, x: np.ndarray) -> np.ndarray:
        """RMS-normalised rows of ``x`` (the gain is folded into the next matrix)."""
        if x.shape[0] == 1:  # decoding: one row, plain Python float arithmetic is cheapest
            v = x[0]
            return x * (1.0 / math.sqrt(float(v @ v) / v.shape[0] + self.cfg.eps))
        ms = np.einsum("td,td->t", x, x) * (1.0 / x.shape[-1])
        return x * (1.0 / np.sqrt(ms + self.cfg.eps))[:, None]

    def hidden(self, tokens: Sequence[int], cache: KVCache, *, chunk: int | None = None,
               on_chunk: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Run ``tokens`` through the model, extending ``cache``; returns the final-normed hidden state of the
        last token, shape (dim,).

        A prompt runs in blocks of ``chunk`` tokens (default ``PREFILL_CHUNK``): each block's attention scores
        stay small (KV, group*chunk, positions) instead of growing with the square of the prompt, and a block
        only scores the positions before its end, which halves the attention work of a long prompt.
        ``on_chunk(done, total)`` is called after each block (progress; it may raise to stop early, and then
        the cache holds the tokens done so far).
        """
        T = len(tokens)
        if cache.length + T > cache.capacity:
            raise ValueError(f"context full: {cache.length + T} tokens exceed the cache capacity {cache.capacity}")
        if T == 0:
            raise ValueError("no tokens to run")
        if T == 1:
            return self._step(int(tokens[0]), cache)
        size = max(1, int(chunk or PREFILL_CHUNK))
        ids = np.asarray(tokens, dtype=np.intp)
        x = ids[:0]
        for a in range(0, T, size):
            x = self._block(ids[a:a + size], cache)
            if on_chunk is not None:
                on_chunk(min(T, a + size), T)
        last = x[-1]
        return last * (1.0 / math.sqrt(float(last @ last) / self.cfg.dim + self.cfg.eps)) * self.out_norm

    def _block(self, ids: np.ndarray, cache: KVCache) -> np.ndarray:
        """One block of a prompt: every layer on ``len(ids)`` tokens at once (matrix-matrix products), the
        keys and values appended to ``cache``. Returns the residual stream (T, dim), not normed."""
        c = self.cfg
        T = ids.shape[0]
        start = cache.length
        end = start + T
        hd, half, H, KV, F = c.head_dim, c.head_dim // 2, c.n_heads, c.n_kv_heads, c.ffn_dim
        G, qd, qkd = H // KV, self.q_dim, self.q_dim + self.kv_dim
        x = self.embed[ids]  # (T, D) copy
        cos = self.cos[start:end, None, :]
        sin = self.sin[start:end, None, :]
        # causal mask over the block's own positions; earlier cached positions are all visible
        mask = np.triu(np.full((T, T), -np.inf, np.float32), k=1)
        rot = np.empty((T, H + KV, hd), np.float32)
        tmp = np.empty((T, H + KV, half), np.float32)
        att = np.empty((T, H, hd), np.float32)
        scores = np.empty((G, T, end), np.float32)
        flat = scores.reshape(G * T, end)
        total = np.empty((G * T, 1), np.float32)
        ones = self._ones
        for i in range(c.n_layers):
            h = self._rms(x)
            qkv = h @ self.wqkv[i].T  # (T, q+2kv)
            qk = qkv[:, :qkd].reshape(T, H + KV, hd)
            a, b = qk[..., :half], qk[..., half:]
            np.multiply(a, cos, out=rot[..., :half])
            np.multiply(b, sin, out=tmp)
            rot[..., :half] -= tmp
            np.multiply(a, sin, out=rot[..., half:])
            np.multiply(b, cos, out=tmp)
            rot[..., half:] += tmp
            kc, vc = cache.k[i], cache.v[i]
            kc[:, start:end] = rot[:, H:].transpose(1, 0, 2)
            vc[:, start:end] = qkv[:, qkd:].reshape(T, KV, hd).transpose(1, 0, 2)
            for k in range(KV):  # one kv head at a time: its G query heads share the keys and values
                q = rot[:, k * G:(k + 1) * G].transpose(1, 0, 2)  # (G, T, hd) view
                np.matmul(q, kc[k, :end].T, out=scores)  # (G, T, end), already scaled
                scores[:, :, start:] += mask
                if self.exact_softmax:
                    np.max(flat, axis=-1, keepdims=True, out=total)
                    flat -= total
                np.exp(flat, out=flat)
                # normalise the (G, T, hd) output rather than the (G, T, end) weights: one pass fewer over
                # the large array; the row sums come from a matrix-vector product (faster than np.sum)
                np.matmul(flat, ones[:end], out=total[:, 0])
                if not self.exact_softmax and not (np.all(np.isfinite(total)) and total.min() > 1e-30):
                    # a row overflowed or vanished without the max shift: redo this head the safe way
                    np.matmul(q, kc[k, :end].T, out=scores)
                    scores[:, :, start:] += mask
                    np.max(flat, axis=-1, keepdims=True, out=total)
                    flat -= total
                    np.exp(flat, out=flat)
                    np.matmul(flat, ones[:end], out=total[:, 0])
                out = att[:, k * G:(k + 1) * G].transpose(1, 0, 2)
                np.matmul(scores, vc[k, :end], out=out)
                out /= total.reshape(G, T, 1)
            x += att.reshape(T, qd) @ self.wo[i].T
            h = self._rms(x)
            gu = h @ self.wgu[i].T
            g, u = gu[:, :F], gu[:, F:]
            # silu(g) * u = g * u / (1 + exp(-g)), in place on the gate half
            act = np.negative(g)
            np.exp(act, out=act)
            act += 1.0
            np.divide(g, act, out=act)
            act *= u
            x += act @ self.wd[i].T
        cache.length = end
        return x

    def _step(self, token: int, cache: KVCache) -> np.ndarray:
        """``hidden`` for one token: the decoding hot path, on 1-D vectors (matrix-vector products, no
        reshuffling copies), numerically the same computation as the batched path."""
        c = self.cfg
        hd, half, H, KV, F = c.head_dim, c.head_dim // 2, c.n_heads, c.n_kv_heads, c.ffn_dim
        G, qd, qkd, D, eps = H // KV, self.q_dim, self.q_dim + self.kv_dim, c.dim, c.eps
        pos = cache.length
        end = pos + 1
        cos, sin = self.cos[pos], self.sin[pos]
        x = self.embed[token].copy()
        rot = np.empty((H + KV, hd), np.float32)
        for i in range(c.n_layers):
            h = x * (1.0 / math.sqrt(float(x @ x) / D + eps))
            qkv = self.wqkv[i] @ h
            qk = qkv[:qkd].reshape(H + KV, hd)
            a, b = qk[:, :half], qk[:, half:]
            np.multiply(a, cos, out=rot[:, :half])
            rot[:, :half] -= b * sin
            np.multiply(a, sin, out=rot[:, half:])
            rot[:, half:] += b * cos
            kc, vc = cache.k[i], cache.v[i]
            kc[:, pos] = rot[H:]
            vc[:, pos] = qkv[qkd:].reshape(KV, hd)
            scores = np.matmul(rot[:H].reshape(KV, G, hd), kc[:, :end].transpose(0, 2, 1))  # (KV, G, end)
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            x += self.wo[i] @ np.matmul(scores, vc[:, :end]).reshape(qd)
            h = x * (1.0 / math.sqrt(float(x @ x) / D + eps))
            gu = self.wgu[i] @ h
            g, u = gu[:F], gu[F:]
            act = np.negative(g)
            np.exp(act, out=act)
            act += 1.0
            np.divide(g, act, out=act)
            act *= u
            x += self.wd[i] @ act
        cache.length = end
        return x * (1.0 / math.sqrt(float(x @ x) / D + eps)) * self.out_norm

    def logits(self, hidden: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Next-token logits from ``hidden``: all of them, or only for token ids ``rows`` (cheaper when a
        grammar allows few tokens)."""
        if rows is None:
            return self.output @ hidden
        return self.output[rows] @ hidden
