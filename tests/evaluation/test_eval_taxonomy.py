"""Failure taxonomy on crafted outputs: prose, fences, loops, echoes, foreign scripts, leakage, keys, digits."""

from __future__ import annotations

import json

from pipeline.evaluation import TaxonomyConfig, score_item

REF = {"company": "BOOK TA .K SDN BHD", "date": "25/12/2018", "total": "9.00"}
PROMPT = "Extract the receipt fields as JSON.\nReturn company, date and total exactly as printed."


def tags(prediction: str, reference: dict = REF, **kwargs) -> list[str]:
    return score_item("t", prediction, reference, **kwargs).failures


def test_clean_answer_has_no_tags():
    assert tags(json.dumps(REF), prompt=PROMPT) == []


def test_prose_around_json_is_salvaged_and_run_on():
    s = score_item("t", f"Sure! Here is the JSON:\n{json.dumps(REF)}\nLet me know if you need more.", REF)
    assert (s.strict_json, s.salvaged, s.metrics["anls_star"]) == (False, True, 1.0)
    assert s.failures == ["run_on"]


def test_fenced_json_is_salvaged_without_run_on():
    s = score_item("t", f"```json\n{json.dumps(REF)}\n```", REF)
    assert (s.strict_json, s.salvaged, s.failures) == (False, True, [])


def test_run_on_second_object_is_not_parsed_into_the_first():
    s = score_item("t", json.dumps(REF) + json.dumps({"total": "99.00"}), REF)
    assert s.predicted == REF and s.failures == ["run_on"]


def test_truncated_output():
    assert tags('{"company": "BOOK TA .K SDN BHD", "date": "25/12') == ["parse_failure", "truncated"]


def test_repetition_loop():
    looped = {**REF, "company": "BOOK TA .K SDN BHD " + "JALAN SAGU 18 , " * 12}
    assert "repetition_loop" in tags(json.dumps(looped))
    # the same n-gram printed on the page as often is not a loop
    ref = {"markdown": "| 1 | x | 2.00 |\n" * 6}
    assert "repetition_loop" not in tags(json.dumps(ref), ref)


def test_repetition_loop_in_arabic_is_reported_as_its_text():
    from pipeline.evaluation.taxonomy import repeated_ngram

    page = "قانون رقم ١٤ لسنة ٢٠٢٣ بشأن الضرائب"
    looped = page + " " + "المادة الأولى من القانون " * 5
    assert repeated_ngram([looped], [page], 4, 4) == "المادة الأولى من القانون"
    # four more than the reference is the threshold: one fewer is not a loop
    assert repeated_ngram([looped], [page + " المادة الأولى من القانون" * 2], 4, 4) is None
    # the same words with other token boundaries are not the same n-gram
    assert repeated_ngram(["ab c d e " * 2 + "a bc d e " * 3], [], 4, 4) is None


def test_instruction_echo():
    echoed = "Extract the receipt fields as JSON.\n" + json.dumps(REF)
    assert "instruction_echo" in tags(echoed, prompt=PROMPT)
    assert "instruction_echo" not in tags(echoed)          # no prompt given: nothing to compare


def test_cjk_inside_arabic_is_wrong_script():
    ref = {"markdown": "قانون رقم 12 لسنة 2003 بشأن العمل"}
    pred = {"markdown": "قانون رقم 12 لسنة 2003 中华 بشأن العمل"}
    assert tags(json.dumps(pred, ensure_ascii=False), ref) == ["wrong_script:Han"]
    assert tags(json.dumps(ref, ensure_ascii=False), ref) == []


def test_domain_leakage_only_when_configured_and_absent_from_reference():
    ref = {"drug": "Amoxicillin 500 mg", "dose": "1 tablet three times daily"}
    pred = {"drug": "Amoxicillin 500 mg", "dose": "1 tablet three times daily, subtotal RM 9.00"}
    config = TaxonomyConfig(domain_keywords=("subtotal", "cashier"))
    assert "domain_leakage" in tags(json.dumps(pred), ref, config=config)
    assert "domain_leakage" not in tags(json.dumps(pred), ref)
    assert "domain_leakage" not in tags(json.dumps(ref), ref, config=config)


def test_hallucinated_and_omitted_keys():
    pred = {"company": REF["company"], "total": "9.00", "phone": "07-123"}
    assert tags(json.dumps(pred)) == ["hallucinated_keys", "omitted_fields"]
    assert tags(json.dumps({**REF, "total": None})) == ["omitted_fields"]


def test_digit_flip_in_amounts_and_ids():
    assert tags(json.dumps({**REF, "total": "9.60"})) == ["digit_flip"]
    assert tags(json.dumps({**REF, "date": "25/12/2013"})) == ["digit_flip"]
    assert tags(json.dumps({**REF, "total": "123.45"})) == []   # a different amount, not a flip
    nested_ref = {"menu": [{"nm": "Roti", "price": "1.20"}, {"nm": "Kopi", "price": "2.00"}]}
    nested_pred = {"menu": [{"nm": "Kopi", "price": "2.00"}, {"nm": "Roti", "price": "1.70"}]}
    assert tags(json.dumps(nested_pred), nested_ref) == ["digit_flip"]
