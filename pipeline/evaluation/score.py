"""Score one prediction against its reference, and aggregate many: the metrics library's entry points."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from pydantic import BaseModel, ValidationError

from pipeline.evaluation.fields import WEIGHTINGS, Trace, field_scores
from pipeline.evaluation.matching import same_json
from pipeline.evaluation.normalize import normalized_scores
from pipeline.evaluation.parse import parse_output
from pipeline.evaluation.taxonomy import TaxonomyConfig, failure_tags
from pipeline.evaluation.text import edit_rates

MARKDOWN_FIELD = "markdown"
METRIC_NAMES = {"leaf": "anls_star", "key": "anls_star_key"}   # each weighting reported under its own name


@dataclass
class ItemScore:
    id: str
    strict_json: bool
    salvaged: bool
    schema_valid: bool | None          # None when no schema was given
    exact_keys: bool                   # the salvaged object's top-level keys are the reference's
    predicted: dict | None             # the first complete top-level JSON object, or None
    fields: dict[str, float] = field(default_factory=dict)    # reference top-level field -> ANLS*
    metrics: dict[str, float] = field(default_factory=dict)   # anls_star (or _key), exact, cer/ned for markdown
    failures: list[str] = field(default_factory=list)         # taxonomy tags


@lru_cache(maxsize=64)
def _model_for(schema_text: str) -> type[BaseModel]:
    from pipeline.schemas import model_from_json_schema

    return model_from_json_schema("EvalSchema", json.loads(schema_text))


def schema_valid(obj: dict | None, schema: type[BaseModel] | dict | None) -> bool | None:
    """Whether the object satisfies a Pydantic model or a JSON Schema dict; None without a schema.

    >>> schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    >>> schema_valid({"a": "x"}, schema), schema_valid({"a": 1}, schema), schema_valid(None, schema)
    (True, False, False)
    """
    if schema is None:
        return None
    if obj is None:
        return False
    if isinstance(schema, dict):
        schema = _model_for(json.dumps(schema, sort_keys=True))
    try:
        schema.model_validate(obj)
    except ValidationError:
        return False
    return True


def score_item(item_id: str, prediction: str, reference: dict, *, schema: type[BaseModel] | dict | None = None,
               prompt: str | None = None, page_text: str | None = None,
               config: TaxonomyConfig | None = None, weighting: str = "leaf",
               normalization: str = "none") -> ItemScore:
    """Contract, content and failure tags of one raw prediction.

    ``weighting``: "leaf" (the ANLS* paper's, metric ``anls_star``) or "key" (every top-level key,
    and every list item, weighs the same: ``anls_star_key``); see ``fields``. ``normalization``:
    text scores also under that level (``cer@arabic`` ...), beside the raw ones; see ``normalize``.

    >>> s = score_item("p1", 'Here: {"total": "1,000.50", "date": "25/12/2018"} Thanks', {"total": "1000.5", "date": "25/12/2013"})
    >>> s.strict_json, s.salvaged, s.exact_keys, s.fields, s.metrics, s.failures
    (False, True, True, {'total': 1.0, 'date': 0.9}, {'anls_star': 0.95, 'exact': 0.0}, ['run_on', 'digit_flip'])
    >>> ref = {"total": "9.00", "menu": [{"nm": "Tea", "price": "2"}, {"nm": "Rice", "price": "7"}]}
    >>> score_item("p2", '{"total": "9.00"}', ref).metrics, score_item("p2", '{"total": "9.00"}', ref, weighting="key").metrics
    ({'anls_star': 0.2, 'exact': 0.0}, {'anls_star_key': 0.5, 'exact': 0.0})
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"unknown ANLS* weighting {weighting!r}; use one of {', '.join(WEIGHTINGS)}")
    config = config or TaxonomyConfig()
    parsed = parse_output(prediction)
    obj = parsed.obj
    trace = Trace() if obj is not None else None
    if obj is None:     # no object: nothing matches (the paper scores a non-dict answer 0 against a dict)
        fields, whole = {key: 0.0 for key in reference}, 0.0
    else:
        fields, whole = field_scores(obj, reference, trace, weighting=weighting)
    metrics = {METRIC_NAMES[weighting]: whole, "exact": float(obj is not None and same_json(obj, reference))}
    ref_md = reference.get(MARKDOWN_FIELD)
    if isinstance(ref_md, str):
        pred_md = obj.get(MARKDOWN_FIELD) if obj is not None else None
        if isinstance(pred_md, str):
            metrics["cer"], metrics["ned"] = edit_rates(pred_md, ref_md)
        else:   # nothing transcribed: every reference character is an error
            metrics["cer"], metrics["ned"] = (1.0, 1.0) if ref_md else (0.0, 0.0)
    metrics.update(normalized_scores(obj, reference, normalization, MARKDOWN_FIELD,
                                     weighting=weighting, anls_name=METRIC_NAMES[weighting]))   # wer, <metric>@<level>
    tags = failure_tags(prediction, parsed, reference, trace, prompt=prompt, page_text=page_text, config=config)
    return ItemScore(item_id, parsed.strict, parsed.salvaged, schema_valid(obj, schema),
                     obj is not None and set(obj) == set(reference), obj, fields, metrics, tags)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def aggregate(scores: list[ItemScore]) -> dict:
    """Rates and means over items; per-field means; failure counts by tag.

    >>> a = score_item("a", '{"x": "1"}', {"x": "1"})
    >>> b = score_item("b", 'oops', {"x": "1"})
    >>> r = aggregate([a, b])
    >>> r["n"], r["contract"]["strict_json_rate"], r["metrics"]["anls_star"], r["fields"], r["failures"]
    (2, 0.5, 0.5, {'x': 0.5}, {'parse_failure': 1})
    >>> r["contract"]["schema_valid_rate"] is None   # no schema given
    True
    """
    n = len(scores)
    validity = [float(s.schema_valid) for s in scores if s.schema_valid is not None]
    contract = {
        "strict_json_rate": _mean([float(s.strict_json) for s in scores]),
        "salvage_rate": _mean([float(s.salvaged) for s in scores]),
        "schema_valid_rate": _mean(validity),
        "exact_key_set_rate": _mean([float(s.exact_keys) for s in scores]),
    }
    metric_values: dict[str, list[float]] = {}
    field_values: dict[str, list[float]] = {}
    for s in scores:
        for name, value in s.metrics.items():
            metric_values.setdefault(name, []).append(value)
        for name, value in s.fields.items():
            field_values.setdefault(name, []).append(value)
    failures = Counter(tag for s in scores for tag in s.failures)
    return {"n": n, "contract": contract,
            "metrics": {name: _mean(values) for name, values in metric_values.items()},
            "fields": {name: _mean(values) for name, values in field_values.items()},
            "failures": dict(failures.most_common())}
