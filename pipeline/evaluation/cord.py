"""CORD-style receipt figures as the seed reports them, and its table layout (rows metrics, columns systems).

Receipt schema: prompts/receipt/schema.json (menu items nm/cnt/price, sub_total, total).
"""

from __future__ import annotations

from rapidfuzz import fuzz

from pipeline.evaluation.parse import parse_output
from pipeline.evaluation.numbers import numbers_equal
from pipeline.evaluation.text import normalise

NAME_MATCH = 85.0   # rapidfuzz ratio a predicted menu name needs to count as the reference item
SECTIONS = ("sub_total", "total")
ROWS = (("format_validity", "Format validity"), ("main_keys", "Main keys"),
        ("menu_matched", "Menu items matched"), ("menu_key_accuracy", "Menu key accuracy"),
        ("menu_value_accuracy", "Menu value accuracy"),
        ("sub_total_key_accuracy", "sub_total key accuracy"), ("sub_total_value_accuracy", "sub_total value accuracy"),
        ("total_key_accuracy", "total key accuracy"), ("total_value_accuracy", "total value accuracy"),
        ("global_average", "Global average"))
_AVERAGED = [key for key, _ in ROWS if key not in ("menu_matched", "global_average")]


def same_value(prediction, reference) -> bool:
    """Numbers numerically, text case- and whitespace-insensitively.

    >>> same_value("1,000.50", "1000.5"), same_value(" Nasi  Lemak", "nasi lemak"), same_value(None, "1")
    (True, True, False)
    """
    if prediction is None or reference is None:
        return prediction is reference
    same = numbers_equal(prediction, reference)
    return same if same is not None else normalise(str(prediction)) == normalise(str(reference))


def match_menu(predicted: list, reference: list) -> list[tuple[dict, dict]]:
    """Greedy best-first pairs of (predicted, reference) items whose names score >= NAME_MATCH.

    >>> ref = [{"nm": "Nasi Lemak"}, {"nm": "Teh Tarik"}]
    >>> [(p["nm"], r["nm"]) for p, r in match_menu([{"nm": "Teh Tarek"}, {"nm": "Kopi"}], ref)]
    [('Teh Tarek', 'Teh Tarik')]
    """
    candidates = []
    for i, p in enumerate(predicted):
        for j, r in enumerate(reference):
            if isinstance(p, dict) and isinstance(r, dict):
                score = fuzz.ratio(normalise(str(p.get("nm") or "")), normalise(str(r.get("nm") or "")))
                if score >= NAME_MATCH:
                    candidates.append((-score, i, j))
    used_p, used_r, pairs = set(), set(), []
    for _, i, j in sorted(candidates):
        if i not in used_p and j not in used_r:
            used_p.add(i)
            used_r.add(j)
            pairs.append((predicted[i], reference[j]))
    return pairs


class _Tally:
    def __init__(self) -> None:
        self.hits: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def add(self, key: str, hit: float, n: int = 1) -> None:
        self.hits[key] = self.hits.get(key, 0.0) + hit
        self.counts[key] = self.counts.get(key, 0) + n


def _keys_and_values(tally: _Tally, name: str, predicted, reference: dict) -> None:
    predicted = predicted if isinstance(predicted, dict) else {}
    for key, value in reference.items():
        tally.add(f"{name}_key_accuracy", float(key in predicted))
        tally.add(f"{name}_value_accuracy", float(key in predicted and same_value(predicted[key], value)))


def cord_scores(pairs: list[tuple[str, dict]]) -> dict:
    """(raw prediction, reference receipt) pairs -> {metric: fraction in [0, 1], "n": {metric: count}}.

    Key and value accuracies count reference keys (menu: over matched items, sub_total/total: over
    receipts whose reference has the section); the global average is the mean of the figures shown.

    >>> ref = {"menu": [{"nm": "Nasi Lemak", "cnt": "1", "price": "9.00"}], "sub_total": {"subtotal_price": "9.00"},
    ...        "total": {"total_price": "9.00"}}
    >>> out = cord_scores([('{"menu": [{"nm": "Nasi Lemak", "cnt": "1", "price": "9.60"}], "total": {"total_price": "9"}}', ref)])
    >>> [out[k] for k in ("format_validity", "main_keys", "menu_key_accuracy", "menu_value_accuracy")]
    [1.0, 0.0, 1.0, 0.6666666666666666]
    >>> [out[k] for k in ("sub_total_key_accuracy", "total_value_accuracy")], round(out["global_average"], 4)
    ([0.0, 1.0], 0.5833)
    """
    tally = _Tally()
    for raw, reference in pairs:
        obj = parse_output(raw).obj
        tally.add("format_validity", float(obj is not None))
        tally.add("main_keys", float(obj is not None and set(obj) == set(reference)))
        obj = obj or {}
        ref_menu = reference.get("menu") or []
        pred_menu = obj.get("menu") if isinstance(obj.get("menu"), list) else []
        matched = match_menu(pred_menu, ref_menu)
        tally.add("menu_matched", len(matched), len(ref_menu))
        for predicted, ref_item in matched:
            _keys_and_values(tally, "menu", predicted, ref_item)
        for section in SECTIONS:
            if isinstance(reference.get(section), dict) and reference[section]:
                _keys_and_values(tally, section, obj.get(section), reference[section])
    out: dict = {key: (tally.hits[key] / tally.counts[key] if tally.counts.get(key) else None)
                 for key, _ in ROWS if key != "global_average"}
    shown = [out[key] for key in _AVERAGED if out[key] is not None]
    out["global_average"] = sum(shown) / len(shown) if shown else None
    out["n"] = {"receipts": len(pairs), **{key: tally.counts.get(key, 0) for key, _ in ROWS if key != "global_average"}}
    return out


def format_cord_table(systems: dict[str, dict]) -> str:
    """A markdown table in the seed's layout: one row per metric, one column per system.

    >>> print(format_cord_table({"GPT-4o": {"format_validity": 1.0, "global_average": 0.819, "n": {"receipts": 2}},
    ...                          "Fine-tuned": {"format_validity": 0.5, "global_average": 0.786, "n": {"receipts": 2}}}))
    | Metric | GPT-4o | Fine-tuned |
    | --- | --- | --- |
    | Receipts | 2 | 2 |
    | Format validity | 100.0% | 50.0% |
    | Global average | 81.9% | 78.6% |
    """
    names = list(systems)
    lines = ["| Metric | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names),
             "| Receipts | " + " | ".join(str((systems[s].get("n") or {}).get("receipts", "")) for s in names) + " |"]
    for key, label in ROWS:
        if all(systems[s].get(key) is None for s in names):
            continue
        cells = []
        for s in names:
            value, count = systems[s].get(key), (systems[s].get("n") or {}).get(key)
            cell = "n/a" if value is None else f"{100 * value:.1f}%"
            if count is not None and key not in ("format_validity", "main_keys"):
                cell += f" (n={count})"
            cells.append(cell)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
