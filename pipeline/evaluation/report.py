"""The evaluation report: report.md and report.html side by side, with PNG charts and thumbnails.

Contents: the comparison table (systems x contract rates and metrics), per-field and per-failure
bar charts, the CORD table when receipts were scored, and each system's worst items with the page
thumbnail and a reference -> prediction diff.
"""

from __future__ import annotations

import html
from pathlib import Path

from pipeline.evaluation.inputs import page_key
from pipeline.evaluation.mine import item_score
from pipeline.evaluation.report_assets import answer_diff, bar_chart, number, safe_name, thumbnail
from pipeline.evaluation.systems import Comparison

RECEIPT_TASK = "receipt"


def comparison_rows(summaries: dict[str, dict]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the systems x metrics table.

    >>> comparison_rows({"a": {"n": 2, "contract": {"strict_json": 0.5}, "metrics": {"anls_star": 0.75}}})
    (['system', 'n', 'strict_json', 'anls_star'], [['a', '2', '0.500', '0.750']])
    """
    contract = list(dict.fromkeys(k for s in summaries.values() for k in (s.get("contract") or {})))
    metrics = list(dict.fromkeys(k for s in summaries.values() for k in (s.get("metrics") or {})))
    header = ["system", "n", *contract, *metrics]
    rows = []
    for name, summary in summaries.items():
        values = [number((summary.get("contract") or {}).get(k)) for k in contract]
        values += [number((summary.get("metrics") or {}).get(k)) for k in metrics]
        rows.append([name, str(summary.get("n", "")), *("" if v is None else f"{v:.3f}" for v in values)])
    return header, rows


def _series(summaries: dict[str, dict], key: str) -> dict[str, dict[str, float]]:
    out = {}
    for name, summary in summaries.items():
        values = {k: number(v) for k, v in (summary.get(key) or {}).items()}
        out[name] = {k: v for k, v in values.items() if v is not None}
    return out


def _cord_table(comparison: Comparison) -> str | None:
    receipts = [i for i, item in enumerate(comparison.items) if item.task == RECEIPT_TASK]
    if not receipts:
        return None
    from pipeline.evaluation import cord_scores, format_cord_table

    tables = {}
    for name, predictions in comparison.predictions.items():
        pairs = [(predictions[comparison.items[i].id], comparison.items[i].reference) for i in receipts]
        tables[name] = cord_scores(pairs)
    return format_cord_table(tables)


def _worst(comparison: Comparison, out_dir: Path, worst_k: int) -> dict[str, list[dict]]:
    """system -> its worst items, each with the thumbnail path (relative) and the diff lines."""
    by_id = {item.id: item for item in comparison.items}
    thumbs: dict[str, str | None] = {}
    out: dict[str, list[dict]] = {}
    for name, scores in comparison.scores.items():
        out[name] = []
        imperfect = [s for s in scores if s.failures or item_score(s) < 1]     # a perfect answer teaches nothing
        for score in sorted(imperfect, key=item_score)[:worst_k]:
            item = by_id[score.id]
            page = page_key(str(item.image)) if item.image else item.id     # one thumbnail per page, any task
            if page not in thumbs:
                made = thumbnail(item.image, out_dir / "thumbs" / f"{safe_name(page)}.jpg")
                thumbs[page] = f"thumbs/{made.name}" if made else None
            out[name].append({"id": item.id, "score": item_score(score), "failures": list(score.failures or []),
                              "thumbnail": thumbs[page],
                              "diff": answer_diff(comparison.predictions[name][item.id], item.reference)})
    return out


def write_report(out_dir: Path, comparison: Comparison, result: dict, worst_k: int = 8) -> dict[str, str]:
    """Write report.md, report.html, the PNG charts and the thumbnails; returns name -> path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    charts = {}
    for key, title, xlabel, stem in (("fields", "Score per field", "score (1 = matches the reference)", "fields"),
                                     ("failures", "Failure taxonomy", "items", "failures")):
        made = bar_chart(out_dir / f"{stem}.png", title, xlabel, _series(comparison.summaries, key),
                         unit_scale=key == "fields")
        if made:
            charts[stem] = made.name
    header, rows = comparison_rows(comparison.summaries)
    worst = _worst(comparison, out_dir, worst_k)
    cord = _cord_table(comparison)
    (out_dir / "report.md").write_text(_markdown(result, header, rows, charts, worst, cord), encoding="utf-8")
    (out_dir / "report.html").write_text(_html(result, header, rows, charts, worst, cord), encoding="utf-8")
    return {"markdown": str(out_dir / "report.md"), "html": str(out_dir / "report.html"),
            **{f"chart_{k}": str(out_dir / v) for k, v in charts.items()}}


def _intro(result: dict) -> list[str]:
    lacking = ", ".join(f"{k} {v}" for k, v in result["lacking"].items()) or "none"
    lines = [f"{result['items']} items scored (those every system answered) out of {result['references']} "
             f"references from {result['reference_source']}.", f"Items without a prediction, per system: {lacking}."]
    if result.get("normalization"):
        norm = result["normalization"]
        lines.append(f"Text normalisation: {norm['level']} (default {norm['default']}: --normalize none|basic|arabic); "
                     f"rules: {', '.join(norm['rules']) or 'none'}. Columns <metric>@{norm['level']} are scored "
                     "under it; the plain ones are raw.")
    for name, stats in result.get("ocr", {}).items():
        lines.append(f"OCR {name} ({stats['engine']}): {stats['pages']} pages read, {stats['answered']} items "
                     f"answered, {stats['unsupported_task'] + stats['no_image']} it cannot answer (other tasks, "
                     f"no image), {stats['failed']} failed, {stats['seconds']} s.")
    for name, stats in result.get("endpoints", {}).items():
        lines.append(f"Endpoint {name}: {stats['sent']} requests sent, {stats['cached']} answers from the cache, "
                     f"failed {stats['failed'] or 'none'}.")
    return lines


def _markdown(result, header, rows, charts, worst, cord) -> str:
    md = ["# docdistill evaluation", "", *(f"{line}\n" for line in _intro(result)), "## Systems", "",
          "| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    md += ["| " + " | ".join(row) + " |" for row in rows]
    for stem, title in (("fields", "Per field"), ("failures", "Failure taxonomy")):
        if stem in charts:
            md += ["", f"## {title}", "", f"![{title}]({charts[stem]})"]
    if cord:
        md += ["", "## CORD receipts", "", cord]
    for name, items in worst.items():
        if not items:
            continue
        md += ["", f"## Worst items: {name}"]
        for entry in items:
            md += ["", f"### {entry['id']} (score {entry['score']:.3f}; {', '.join(entry['failures']) or 'no tags'})"]
            if entry["thumbnail"]:
                md += ["", f"![{entry['id']}]({entry['thumbnail']})"]
            md += ["", "```diff", *entry["diff"], "```"]
    return "\n".join(md) + "\n"


_CSS = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}"
        ".item{display:flex;gap:1em;margin:1em 0}.item img{border:1px solid #aaa;max-width:360px}"
        "pre{background:#f6f6f6;padding:8px;overflow-x:auto}.add{color:#060}.del{color:#a00}")


def _diff_html(lines: list[str]) -> str:
    spans = []
    for line in lines:
        css = "add" if line.startswith("+") and not line.startswith("+++") else \
            "del" if line.startswith("-") and not line.startswith("---") else ""
        spans.append(f'<span class="{css}">{html.escape(line)}</span>' if css else html.escape(line))
    return "<pre>" + "\n".join(spans) + "</pre>"


def _html(result, header, rows, charts, worst, cord) -> str:
    esc = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>docdistill evaluation</title>"
             f"<style>{_CSS}</style></head><body><h1>docdistill evaluation</h1>",
             *(f"<p>{esc(line)}</p>" for line in _intro(result)), "<h2>Systems</h2><table><tr>",
             "".join(f"<th>{esc(h)}</th>" for h in header), "</tr>",
             *("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>" for row in rows), "</table>"]
    for stem, title in (("fields", "Per field"), ("failures", "Failure taxonomy")):
        if stem in charts:
            parts.append(f"<h2>{title}</h2><img src='{esc(charts[stem])}' alt='{title}'>")
    if cord:
        parts.append(f"<h2>CORD receipts</h2><pre>{esc(cord)}</pre>")
    for name, items in worst.items():
        if not items:
            continue
        parts.append(f"<h2>Worst items: {esc(name)}</h2>")
        for entry in items:
            image = f"<img src='{esc(entry['thumbnail'])}' alt='page'>" if entry["thumbnail"] else ""
            parts.append(f"<div class='item'>{image}<div><h3>{esc(entry['id'])}</h3><p>score "
                         f"{entry['score']:.3f}; {esc(', '.join(entry['failures']) or 'no tags')}</p>"
                         f"{_diff_html(entry['diff'])}</div></div>")
    return "\n".join(parts) + "\n</body></html>\n"
