"""Evaluation: the metrics library (contract, ANLS*, CER, CORD-style receipts, failure taxonomy).

The evaluate CLI (``python -m pipeline.evaluate``) and its inputs, endpoint, mining and report
modules build on these entry points.
"""

from pipeline.evaluation.cord import cord_scores, format_cord_table
from pipeline.evaluation.fields import WEIGHTINGS, anls_star, field_scores
from pipeline.evaluation.numbers import numbers_equal, parse_number
from pipeline.evaluation.parse import parse_output
from pipeline.evaluation.score import ItemScore, aggregate, score_item
from pipeline.evaluation.taxonomy import TaxonomyConfig
from pipeline.evaluation.text import anls, edit_rates

__all__ = ["WEIGHTINGS", "ItemScore", "TaxonomyConfig", "aggregate", "anls", "anls_star", "cord_scores", "edit_rates",
           "field_scores", "format_cord_table", "numbers_equal", "parse_number", "parse_output", "score_item"]
