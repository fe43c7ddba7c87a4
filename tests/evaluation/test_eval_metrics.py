"""Metrics with hand-computed values: ANLS around its threshold, numbers, ANLS*, CER, contract, CORD."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from pipeline.evaluation import (aggregate, anls, anls_star, cord_scores, edit_rates, format_cord_table,
                                 parse_number, parse_output, score_item)


@pytest.mark.parametrize("pred, ref, expected", [
    ("abcdefghij", "abcdefghij", 1.0),
    ("abcdefghiX", "abcdefghij", 0.9),                    # 1/10
    ("abcdeXXXXj", "abcdefghij", 0.6),                    # 4/10 = 0.4 < 0.5
    ("abcdXXXXXj", "abcdefghij", 0.5),                    # 5/10 = 0.5: at the threshold, kept (RRC, anls-star)
    ("abcXXXXXXj", "abcdefghij", 0.0),                    # 6/10 above
    ("ABCDEFGHIJ ", " abcdefghij", 1.0),                  # case and whitespace ignored
    ("Total   due", "total due", 1.0),
])
def test_anls_at_and_around_threshold(pred, ref, expected):
    assert anls(pred, ref) == pytest.approx(expected)


@pytest.mark.parametrize("text, value", [
    ("1,000.50", 1000.5), ("RM9.00", 9.0), ("$ 1,234,567.8", 1234567.8), ("1.234.567,89", 1234567.89),
    ("-12.5", -12.5), ("€3", 3.0), ("12/05", None), ("INV-001", None),
    # issue M: grouping read as grouping, whatever the path; malformed groupings and identifiers are text
    ("1,234,567", 1234567.0), ("12,34,567", 1234567.0), ("1.234", 1234.0), ("€1.234", 1234.0),
    ("11.01.2019", None), ("1.2.3", None), ("04080176", None), ("42183017", None),
    ("MYR 5.00", 5.0), ("PLN 5", 5.0), ("SGD 5", 5.0), ("S$5", 5.0),
    ("AED 5", 5.0), ("SAR 5", 5.0), ("EGP 5", 5.0), ("MAD 5", 5.0), ("KWD 5", 5.0), ("QAR 5", 5.0), ("JOD 5", 5.0),
    ("5 د.إ", 5.0), ("5 ر.س", 5.0), ("5 ج.م", 5.0), ("5 د.م.", 5.0), ("5 د.ك", 5.0), ("5 ر.ق", 5.0), ("5 د.أ", 5.0),
    ("٥٫٢٥ ﷼", 5.25), ("١٬٢٣٤٫٥", 1234.5), ("KWD 1.250", 1.25),
])
def test_parse_number(text, value):
    assert parse_number(text) == value


@pytest.mark.parametrize("pred, ref, expected", [
    ("1,234,567", "1234567", 1.0), ("1,234,567", 1234.567, 0.0),     # was 0 and 1 (issue M.1)
    ("25.12.2018", "25.12.2013", 0.9), ("25/12/2018", "25/12/2013", 0.9),   # dotted dates are text (M.3)
    ("04080176", "4080176", 0.875), ("42183017", "42283017", 0.875),        # identifiers are text (M.4)
    ("1.234", 1.234, 1.0),                                                   # the same text is always the same
])
def test_leaf_scores_of_amounts_dates_and_identifiers(pred, ref, expected):
    assert anls_star({"a": pred}, {"a": ref}) == pytest.approx(expected)


def test_boolean_is_not_one_at_any_depth():
    assert anls_star({"a": True}, {"a": 1}) == 0.0 and anls_star([{"a": True}], [{"a": 1}]) == 0.0   # issue M.6
    assert anls_star({"a": True}, {"a": True}) == 1.0 and anls_star({"a": 1.0}, {"a": 1}) == 1.0
    assert score_item("b", '{"a": true}', {"a": 1}).metrics == {"anls_star": 0.0, "exact": 0.0}


def test_weighting_leaf_is_the_papers_and_key_is_named_apart():
    """Issue M.7's worked cases: a CORD-style receipt without its 6-leaf menu, an invoice without line_items."""
    menu = [{"nm": "Nasi Lemak", "cnt": "1", "price": "9.00"}, {"nm": "Teh Tarik", "cnt": "2", "price": "5.00"}]
    receipt = {"menu": menu, "sub_total": {"subtotal_price": "14.00"}, "total": {"total_price": "14.84", "cash": "20"}}
    assert anls_star({k: v for k, v in receipt.items() if k != "menu"}, receipt) == pytest.approx(3 / 9)
    assert anls_star({k: v for k, v in receipt.items() if k != "menu"}, receipt, weighting="key") == pytest.approx(2 / 3)
    invoice = {"number": "INV-7", "date": "2024-01-31", "seller": "ACME", "buyer": "Beta", "total": "10.00",
               "line_items": [{"desc": "Bolt", "qty": "2"}, {"desc": "Nut", "qty": "2"}]}
    no_items = json.dumps({k: v for k, v in invoice.items() if k != "line_items"})
    assert score_item("i", no_items, invoice).metrics["anls_star"] == pytest.approx(5 / 9)
    assert score_item("i", no_items, invoice, weighting="key").metrics["anls_star_key"] == pytest.approx(5 / 6)
    with pytest.raises(ValueError, match="weighting"):
        score_item("i", no_items, invoice, weighting="mean")


def test_anls_star_list_with_missing_and_hallucinated_item():
    ref = [{"nm": "Nasi Lemak", "price": "9.00"}, {"nm": "Teh Tarik", "price": "2.50"}, {"nm": "Roti", "price": "1.20"}]
    pred = [{"nm": "Teh Tarik", "price": "2.50"},           # perfect match of ref[1]
            {"nm": "nasi lemak", "price": "9.0"},           # ref[0], case and numeric form differ -> 1
            {"nm": "Milo Ais", "price": "3.00"}]            # hallucinated; "Roti" missing
    # Milo Ais vs Roti: names far apart (0), prices differ (0) -> 0; so sum = 2, max(3, 3) = 3
    assert anls_star(pred, ref) == pytest.approx(2 / 3)
    assert anls_star(pred[:2], ref) == pytest.approx(2 / 3)        # missing only: 2 / max(2, 3)
    assert anls_star(pred + [{"nm": "x", "price": "0"}], ref) == pytest.approx(2 / 4)


def test_anls_star_dict_union_of_keys():
    ref = {"company": "BOOK TA .K", "total": "9.00", "date": None}
    pred = {"company": "BOOK TA K", "total": "9", "date": None, "phone": "123"}
    # company: 1 edit in 10 -> 0.9; total numeric 1; date None/None 1; phone hallucinated 0 -> 2.9 / 4
    assert anls_star(pred, ref) == pytest.approx(2.9 / 4)


def test_cer_and_ned_hand_computed():
    assert edit_rates("helo world", "hello world") == pytest.approx((1 / 11, 1 / 11))
    assert edit_rates("hello world!!", "hello world") == pytest.approx((2 / 11, 2 / 13))


def test_contract_strict_salvaged_run_on_and_truncated():
    assert parse_output('  {"a": 1}\n').strict
    fenced = parse_output('```json\n{"a": "}"}\n```')
    assert (fenced.obj, fenced.strict, fenced.salvaged, fenced.trailing) == ({"a": "}"}, False, True, "")
    prose = parse_output('The answer is {"a": {"b": [1, 2]}} and that is all.')
    assert prose.obj == {"a": {"b": [1, 2]}} and prose.trailing == "and that is all."
    assert parse_output('{"a": {"b": 1}').truncated and parse_output('{"a": {"b": 1}').obj is None
    assert parse_output("no json here").obj is None


class Receipt(BaseModel):
    total: str


def test_score_item_contract_fields_and_markdown():
    s = score_item("x", '{"total": "9.00", "markdown": "# Receipt\\nTotal 9.00"}',
                   {"total": "9.00", "markdown": "# Receipt\nTotal 9.00"}, schema=Receipt)
    assert (s.strict_json, s.salvaged, s.exact_keys, s.schema_valid) == (True, False, True, True)   # Receipt allows extra keys
    assert s.metrics == {"anls_star": 1.0, "exact": 1.0, "cer": 0.0, "ned": 0.0} and s.failures == []
    bad = score_item("y", "I cannot read this page.", {"total": "9.00", "markdown": "abc"})
    assert bad.fields == {"total": 0.0, "markdown": 0.0} and bad.metrics["cer"] == 1.0
    assert bad.failures == ["parse_failure"] and bad.schema_valid is None
    summary = aggregate([s, bad])
    # schema_valid_rate counts only items scored with a schema (1 of 1 here)
    assert summary["contract"] == {"strict_json_rate": 0.5, "salvage_rate": 0.0, "schema_valid_rate": 1.0,
                                   "exact_key_set_rate": 0.5}
    assert summary["metrics"]["anls_star"] == 0.5 and summary["fields"]["total"] == 0.5
    assert summary["failures"] == {"parse_failure": 1}


def test_schema_valid_with_model_and_json_schema():
    schema = {"type": "object", "additionalProperties": False,
              "properties": {"total": {"type": "string"}}, "required": ["total"]}
    assert score_item("a", '{"total": "1"}', {"total": "1"}, schema=schema).schema_valid is True
    assert score_item("a", '{"total": 1}', {"total": "1"}, schema=schema).schema_valid is False
    assert score_item("a", '{"total": "1"}', {"total": "1"}, schema=Receipt).schema_valid is True


def test_cord_worked_example():
    ref = {"menu": [{"nm": "Nasi Lemak", "cnt": "1", "price": "9.00"},
                    {"nm": "Teh Tarik", "cnt": "2", "price": "5.00"}],
           "sub_total": {"subtotal_price": "14.00", "tax_price": "0.84"},
           "total": {"total_price": "14.84", "cashprice": "20.00"}}
    pred = ('{"menu": [{"nm": "Nasi Lemak", "cnt": "1", "price": "9.00"}, {"nm": "Teh Tarek", "cnt": "2"},'
            ' {"nm": "Kopi O", "cnt": "1", "price": "1.50"}],'
            ' "sub_total": {"subtotal_price": "14.00", "tax_price": "0.48"}, "total": {"total_price": "14.84"}}')
    out = cord_scores([(pred, ref), ("not json", ref)])
    assert out["format_validity"] == 0.5 and out["main_keys"] == 0.5
    assert out["menu_matched"] == pytest.approx(2 / 4)             # Teh Tarek ~ Teh Tarik (ratio 88.9); Kopi O no
    assert out["menu_key_accuracy"] == pytest.approx(5 / 6)        # matched items: 3 + 2 of 3 keys each
    assert out["menu_value_accuracy"] == pytest.approx(4 / 6)        # "Teh Tarek" != "Teh Tarik", price absent
    assert out["sub_total_key_accuracy"] == pytest.approx(2 / 4)   # the unparsable receipt scores 0 on its 2 keys
    assert out["sub_total_value_accuracy"] == pytest.approx(1 / 4)
    assert out["total_key_accuracy"] == pytest.approx(1 / 4) and out["total_value_accuracy"] == pytest.approx(1 / 4)
    figures = [0.5, 0.5, 5 / 6, 4 / 6, 0.5, 0.25, 0.25, 0.25]
    assert out["global_average"] == pytest.approx(sum(figures) / 8)
    assert out["n"]["sub_total_key_accuracy"] == 4 and out["n"]["receipts"] == 2
    table = format_cord_table({"Teacher": cord_scores([(pred.replace("0.48", "0.84"), ref)]), "Student": out})
    assert table.splitlines()[0] == "| Metric | Teacher | Student |"
    assert "| Global average |" in table and "| Format validity | 100.0% | 50.0% |" in table
