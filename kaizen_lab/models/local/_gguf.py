"""A small, fast GGUF reader: metadata, tensor directory and dequantization to float32.

``gguf.GGUFReader`` builds a Python object per array element, which costs ~3 s for the 49k-entry vocabulary
alone; loading must stay under that budget, so the header is parsed here with ``struct`` in one pass and
tensor bytes are read with ``os.pread`` one tensor at a time (no ``mmap``: mapped pages of the 98 MB file
would count towards the process's resident memory on top of the float32 weights).

F32, F16, BF16, Q4_0, Q4_1 and Q8_0 (what small models ship as) are dequantized here in a few vectorised steps.
The other types llama.cpp writes (Q5_0/Q5_1, the K-quants of Q4_K_M-style files, the IQ types) go through the
``gguf`` package's numpy reference dequantizers, a chunk of blocks at a time; a type neither knows is an
``UnsupportedModelError`` naming the tensor and the supported types, raised while the header is read.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from kaizen_lab.errors import UnsupportedModelError

__all__ = ["GGUFFile", "TensorInfo", "dequantize_into", "read_gguf", "supported_types"]

_MAGIC = b"GGUF"

# GGUF metadata value types
_SCALARS: dict[int, tuple[str, int]] = {
    0: ("<B", 1), 1: ("<b", 1), 2: ("<H", 2), 3: ("<h", 2), 4: ("<I", 4), 5: ("<i", 4),
    6: ("<f", 4), 7: ("<?", 1), 10: ("<Q", 8), 11: ("<q", 8), 12: ("<d", 8),
}
_NUMPY_SCALARS: dict[int, str] = {
    0: "<u1", 1: "<i1", 2: "<u2", 3: "<i2", 4: "<u4", 5: "<i4", 6: "<f4", 7: "<u1", 10: "<u8", 11: "<i8",
    12: "<f8",
}
_STRING, _ARRAY = 8, 9

# ggml tensor types dequantized here: (name, elements per block, bytes per block)
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    8: ("Q8_0", 32, 34),
    30: ("BF16", 1, 2),
}


def _reference_types() -> dict[int, tuple[str, int, int]]:
    """Types the ``gguf`` package dequantizes (imported only when a file uses one of them)."""
    try:
        from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
        from gguf.quants import _type_traits
    except ImportError:
        return {}
    return {int(t): (t.name, *GGML_QUANT_SIZES[t]) for t in GGMLQuantizationType
            if t in _type_traits and int(t) not in GGML_TYPES}


def supported_types() -> list[str]:
    """Names of the tensor types the engine can load, natively dequantized ones first."""
    return [name for name, _, _ in GGML_TYPES.values()] + [name for name, _, _ in _reference_types().values()]


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """Where one tensor lives in the file. ``shape`` is numpy order (rows, columns): GGUF's ``ne`` reversed."""

    name: str
    shape: tuple[int, ...]
    type_id: int
    offset: int  # absolute file offset
    nbytes: int

    @property
    def type_name(self) -> str:
        known = GGML_TYPES.get(self.type_id) or _reference_types().get(self.type_id)
        return known[0] if known else f"type{self.type_id}"


@dataclass(slots=True)
class GGUFFile:
    """Parsed GGUF header: metadata and tensor directory (data is read on demand)."""

    path: str
    metadata: dict[str, Any]
    tensors: dict[str, TensorInfo]

    def read_raw(self, name: str) -> np.ndarray:
        """The tensor's bytes as a 1-D uint8 array (one ``pread``, no memory map)."""
        info = self.tensors[name]
        fd = os.open(self.path, os.O_RDONLY)
        try:
            buf = bytearray(info.nbytes)
            view = memoryview(buf)
            got = 0
            while got < info.nbytes:
                chunk = os.preadv(fd, [view[got:]], info.offset + got)
                if chunk <= 0:
                    raise ValueError(f"{self.path}: truncated tensor data for {name!r}")
                got += chunk
        finally:
            os.close(fd)
        return np.frombuffer(buf, dtype=np.uint8)

    def load_f32(self, name: str, out: np.ndarray | None = None) -> np.ndarray:
        """Read and dequantize one tensor to float32 (into ``out`` when given, shaped like the tensor)."""
        info = self.tensors[name]
        if out is None:
            out = np.empty(info.shape, dtype=np.float32)
        dequantize_into(self.read_raw(name), info.type_id, out.reshape(-1))
        return out


class _Cursor:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def unpack(self, fmt: str, size: int) -> Any:
        value = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += size
        return value

    def string(self) -> str:
        (length,) = struct.unpack_from("<Q", self.data, self.pos)
        start = self.pos + 8
        self.pos = start + length
        return self.data[start:self.pos].decode("utf-8", errors="replace")

    def value(self, type_id: int) -> Any:
        if type_id in _SCALARS:
            return self.unpack(*_SCALARS[type_id])
        if type_id == _STRING:
            return self.string()
        if type_id == _ARRAY:
            item_type = self.unpack("<I", 4)
            count = self.unpack("<Q", 8)
            if item_type in _NUMPY_SCALARS:
                dtype = np.dtype(_NUMPY_SCALARS[item_type])
                arr = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
                self.pos += count * dtype.itemsize
                return arr.tolist()
            if item_type == _STRING:
                return self._strings(count)
            return [self.value(item_type) for _ in range(count)]
        raise ValueError(f"unknown GGUF metadata value type {type_id}")

    def _strings(self, count: int) -> list[str]:
        # The vocabulary and merges are ~100k strings: a tight loop with local names keeps this ~50 ms.
        data, pos, unpack = self.data, self.pos, struct.unpack_from
        out: list[str] = []
        append = out.append
        for _ in range(count):
            (length,) = unpack("<Q", data, pos)
            pos += 8
            append(data[pos:pos + length].decode("utf-8", errors="replace"))
            pos += length
        self.pos = pos
        return out


def read_gguf(path: str) -> GGUFFile:
    """Parse the header of a GGUF v2/v3 file.

    Raises:
        ValueError: the file is not GGUF, is truncated, or uses an unsupported tensor type.
    """
    with open(path, "rb") as fh:
        head = fh.read(24)
        if len(head) < 24 or head[:4] != _MAGIC:
            raise ValueError(f"{path} is not a GGUF file (bad magic {head[:4]!r})")
        version, n_tensors, n_kv = struct.unpack_from("<IQQ", head, 4)
        if version < 2:
            raise ValueError(f"{path}: GGUF version {version} is not supported (need 2 or 3)")
        # The header (metadata + directory) of small models fits in a few MB; grow if not.
        size = 8 << 20
        while True:
            fh.seek(0)
            data = fh.read(size)
            try:
                return _parse(path, data, n_tensors, n_kv)
            except struct.error:
                if len(data) < size:
                    raise ValueError(f"{path}: truncated GGUF header") from None
                size *= 4


def _parse(path: str, data: bytes, n_tensors: int, n_kv: int) -> GGUFFile:
    cur = _Cursor(data)
    cur.pos = 24
    metadata: dict[str, Any] = {}
    for _ in range(n_kv):
        key = cur.string()
        metadata[key] = cur.value(cur.unpack("<I", 4))
    raw: list[tuple[str, tuple[int, ...], int, int]] = []
    for _ in range(n_tensors):
        name = cur.string()
        n_dims = cur.unpack("<I", 4)
        ne = struct.unpack_from(f"<{n_dims}Q", data, cur.pos)
        cur.pos += 8 * n_dims
        type_id = cur.unpack("<I", 4)
        offset = cur.unpack("<Q", 8)
        raw.append((name, tuple(reversed(ne)), type_id, offset))
    alignment = int(metadata.get("general.alignment", 32))
    data_start = (cur.pos + alignment - 1) // alignment * alignment
    tensors: dict[str, TensorInfo] = {}
    extra: dict[int, tuple[str, int, int]] | None = None
    for name, shape, type_id, offset in raw:
        known = GGML_TYPES.get(type_id)
        if known is None:
            extra = _reference_types() if extra is None else extra
            known = extra.get(type_id)
        if known is None:
            raise UnsupportedModelError(
                f"{path}: tensor {name!r} is stored as {_type_label(type_id)}, which the embedded engine cannot "
                f"dequantize (supported: {', '.join(supported_types())}). Use a file quantized as Q4_K_M, Q8_0 "
                "or F16 (llama.cpp's llama-quantize converts one), or serve this model with Ollama and use "
                "model='ollama:NAME'.", path=path, feature="quantization", value=_type_label(type_id),
                supported=supported_types())
        _, block, block_bytes = known
        n = int(np.prod(shape))
        tensors[name] = TensorInfo(name, shape, type_id, data_start + offset, n // block * block_bytes)
    return GGUFFile(path, metadata, tensors)


def _type_label(type_id: int) -> str:
    try:
        from gguf import GGMLQuantizationType

        return GGMLQuantizationType(type_id).name
    except (ImportError, ValueError):
        return f"ggml type {type_id}"


def dequantize_into(raw: np.ndarray, type_id: int, out: np.ndarray, *, chunk_blocks: int = 1 << 16) -> None:
    """Dequantize ``raw`` bytes of ggml type ``type_id`` into the flat float32 array ``out``.

    Works in chunks so the temporaries stay a few MB whatever the tensor size.
    """
    if type_id not in GGML_TYPES:
        _dequantize_reference(raw, type_id, out, chunk_blocks=chunk_blocks // 8)
        return
    name, block, block_bytes = GGML_TYPES[type_id]
    if name == "F32":
        out[:] = raw.view("<f4")
        return
    if name == "F16":
        out[:] = raw.view("<f2")
        return
    if name == "BF16":  # the top half of a float32
        out.view(np.uint32)[:] = raw.view("<u2").astype(np.uint32) << 16
        return
    blocks = raw.reshape(-1, block_bytes)
    dest = out.reshape(-1, block)
    for start in range(0, blocks.shape[0], chunk_blocks):
        b = blocks[start:start + chunk_blocks]
        o = dest[start:start + chunk_blocks]
        d = b[:, 0:2].copy().view("<f2").astype(np.float32)
        if name == "Q8_0":
            np.multiply(b[:, 2:].view(np.int8), d, out=o)
            continue
        qs = b[:, 4:] if name == "Q4_1" else b[:, 2:]
        np.bitwise_and(qs, 0x0F, out=o[:, :16], casting="unsafe")
        np.right_shift(qs, 4, out=o[:, 16:], casting="unsafe")
        if name == "Q4_1":
            m = b[:, 2:4].copy().view("<f2").astype(np.float32)
            o *= d
            o += m
        else:  # Q4_0: signed nibbles centred on 8
            o -= 8.0
            o *= d


def _dequantize_reference(raw: np.ndarray, type_id: int, out: np.ndarray, *, chunk_blocks: int) -> None:
    """Types without a fast path here: the ``gguf`` package's dequantizer, one chunk of blocks at a time."""
    from gguf import GGMLQuantizationType
    from gguf.quants import dequantize

    qtype = GGMLQuantizationType(type_id)
    _, block, block_bytes = _reference_types()[type_id]
    blocks = raw.reshape(-1, block_bytes)
    dest = out.reshape(-1, block)
    for start in range(0, blocks.shape[0], chunk_blocks):
        dest[start:start + chunk_blocks] = dequantize(blocks[start:start + chunk_blocks], qtype)
