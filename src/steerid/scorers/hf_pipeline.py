"""Adapter: any Hugging Face ``text-classification`` pipeline as a steerid scorer.

The caller states what each of the classifier's labels means with an explicit ``label_map``
``{label_name: 1 | 0}`` (1 = trait-positive). Nothing is guessed from label names: a label the
model has but the map lacks, or a map entry the model does not have, raises
:class:`~steerid.errors.ScorerError`.

Score (``P(positive)``):

- two or more labels: softmax over the model's logits, summed over the labels mapped to 1;
- one label (a single-logit model): ``sigmoid(logit)`` if that label maps to 1, else
  ``1 − sigmoid(logit)``.

Empty or whitespace-only texts get 0.5 without calling the model (a classifier's output on no
text is an artefact of its special tokens). Texts longer than the model's window are truncated.
The adapter never downloads: pass a pipeline you built, or a local directory to
:meth:`HFPipelineScorer.from_pretrained`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from steerid.errors import ScorerError
from steerid.scorers.base import Scorer


class HFPipelineScorer(Scorer):
    """Wrap a ``transformers`` text-classification pipeline.

    Args:
        pipe: A ``transformers`` ``TextClassificationPipeline``.
        label_map: ``{label_name: 1 or 0}`` covering exactly the model's labels
            (``model.config.id2label`` values); with two or more labels at least one must map
            to 1 and at least one to 0 (a multi-label model: exactly one to 1).
        name: Scorer name (for reports and cards).
        trait: Trait measured.
        higher_means: What a larger score means.
        batch_size: Texts per forward pass.
        cards_dir: Where :meth:`card` looks for a card (none by default).

    Example:
        >>> scorer = HFPipelineScorer(pipe, {"NEGATIVE": 0, "POSITIVE": 1}, name="sst2",
        ...                           trait="sentiment", higher_means="more positive")  # doctest: +SKIP
        >>> scorer.score(["great film", "dull film"])  # doctest: +SKIP
    """

    empty_value = 0.5
    output_range = (0.0, 1.0)

    def __init__(
        self,
        pipe: Any,
        label_map: Mapping[str, int],
        *,
        name: str,
        trait: str,
        higher_means: str,
        batch_size: int = 32,
        cards_dir: Path | None = None,
    ) -> None:
        model = getattr(pipe, "model", None)
        config = getattr(model, "config", None)
        id2label = getattr(config, "id2label", None)
        if not isinstance(id2label, Mapping) or not id2label:
            raise ScorerError("the pipeline's model has no id2label labels", "pass a text-classification pipeline")
        if getattr(pipe, "task", "text-classification") not in ("text-classification", "sentiment-analysis"):
            raise ScorerError(f"pipeline task is {pipe.task!r}, not text-classification", "build a text-classification pipeline")
        labels = [str(id2label[i]) for i in sorted(id2label)]
        self.label_map = _check_label_map(label_map, labels)
        self.labels = labels
        self.multi_label = getattr(config, "problem_type", None) == "multi_label_classification"
        if self.multi_label and sum(self.label_map.values()) != 1:
            raise ScorerError(
                "a multi-label classifier needs exactly one label mapped to 1", "map the one positive label to 1"
            )
        self.pipe = pipe
        self.name = name
        self.trait = trait
        self.higher_means = higher_means
        self.batch_size = int(batch_size)
        self.cards_dir = cards_dir

    @classmethod
    def from_pretrained(
        cls, path: str | Path, label_map: Mapping[str, int], *, device: str = "cpu", **kwargs: Any
    ) -> HFPipelineScorer:
        """Build the pipeline from a local model directory (never downloads).

        Args:
            path: Directory with a sequence-classification model and its tokenizer.
            label_map: See the class docstring.
            device: Torch device for the pipeline.
            **kwargs: ``name``, ``trait``, ``higher_means``, ``batch_size``, ``cards_dir``.

        Raises:
            ScorerError: If the directory does not exist or does not hold a loadable classifier.
        """
        path = Path(path)
        if not path.is_dir():
            raise ScorerError(f"classifier directory {path} does not exist", "pass a local model directory")
        from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

        try:
            model = AutoModelForSequenceClassification.from_pretrained(path, local_files_only=True)
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ScorerError(f"could not load a classifier from {path} ({exc})", "check the directory contents") from exc
        pipe = pipeline("text-classification", model=model.eval(), tokenizer=tokenizer, device=device)
        return cls(pipe, label_map, **kwargs)

    def _score_nonempty(self, texts: list[str]) -> np.ndarray:
        n_labels = len(self.labels)
        kwargs: dict[str, Any] = {"top_k": None, "batch_size": self.batch_size, "truncation": True}
        if n_labels >= 2 and not self.multi_label:
            kwargs["function_to_apply"] = "softmax"
        else:
            kwargs["function_to_apply"] = "sigmoid"
        results = self.pipe(texts, **kwargs)
        out = np.empty(len(texts), dtype=np.float64)
        for k, result in enumerate(results):
            probs = {str(item["label"]): float(item["score"]) for item in result}
            if set(probs) != set(self.labels):
                raise ScorerError(
                    f"pipeline returned labels {sorted(probs)}, expected {self.labels}", "check the model's id2label"
                )
            if n_labels >= 2 and not self.multi_label:
                out[k] = sum(p for label, p in probs.items() if self.label_map[label] == 1)
            else:
                label = next(lbl for lbl, v in self.label_map.items() if v == 1) if self.multi_label else self.labels[0]
                p = probs[label]
                out[k] = p if self.label_map[label] == 1 else 1.0 - p
        return out


def _check_label_map(label_map: Mapping[str, int], labels: list[str]) -> dict[str, int]:
    if not isinstance(label_map, Mapping):
        raise ScorerError("label_map must be a dict {label_name: 1 or 0}", 'pass e.g. {"POSITIVE": 1, "NEGATIVE": 0}')
    clean: dict[str, int] = {}
    for key, value in label_map.items():
        if isinstance(value, bool) or value not in (0, 1):
            raise ScorerError(f"label_map[{key!r}] = {value!r}; values must be 1 or 0", "map each label to 1 or 0")
        clean[str(key)] = int(value)
    missing = [label for label in labels if label not in clean]
    unknown = [label for label in clean if label not in labels]
    if missing or unknown:
        raise ScorerError(
            f"label_map does not match the model's labels {labels} (missing {missing}, unknown {unknown})",
            "give every model label exactly once",
        )
    if len(labels) >= 2 and 1 not in clean.values():
        raise ScorerError("label_map maps no label to 1", "map the trait-positive label(s) to 1")
    if len(labels) >= 2 and 0 not in clean.values():
        raise ScorerError("label_map maps every label to 1", "map the trait-negative label(s) to 0")
    return clean
