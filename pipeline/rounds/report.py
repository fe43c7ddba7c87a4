"""``rounds/report.html``: round over round, from history.json alone (self-contained: inline SVG chart)."""

from __future__ import annotations

import html
from pathlib import Path

METRIC = "anls_star"


def _fmt(value) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "-"


def _delta(now, before) -> str:
    if not isinstance(now, (int, float)) or not isinstance(before, (int, float)):
        return ""
    return f" ({now - before:+.3f})"


def chart_svg(points: list[tuple[int, float]], width: int = 480, height: int = 200) -> str:
    """A line chart of test score by round (0..1 on the y axis).

    >>> svg = chart_svg([(1, 0.2), (2, 0.5)])
    >>> svg.startswith("<svg") and svg.count("<circle") == 2
    True
    """
    pad = 32
    if not points:
        return "<p>No test scores yet.</p>"
    rounds = [r for r, _ in points]
    lo, hi = min(rounds), max(rounds)

    def xy(r: int, v: float) -> tuple[float, float]:
        x = pad + (width - 2 * pad) * ((r - lo) / (hi - lo) if hi > lo else 0.5)
        return x, height - pad - (height - 2 * pad) * max(0.0, min(1.0, v))

    coords = [xy(r, v) for r, v in points]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="test {METRIC} by round">',
             f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#999"/>',
             f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#999"/>',
             f'<text x="4" y="{pad + 4}" font-size="11">1.0</text>',
             f'<text x="4" y="{height - pad}" font-size="11">0.0</text>']
    parts.append('<polyline fill="none" stroke="#2b6cb0" stroke-width="2" points="'
                 + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords) + '"/>')
    for (r, v), (x, y) in zip(points, coords):
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#2b6cb0"><title>round {r}: {v:.3f}</title>'
                     f'</circle><text x="{x - 10:.1f}" y="{height - pad + 16}" font-size="11">r{r}</text>')
    return "".join(parts) + "</svg>"


def render(rounds: list[dict]) -> str:
    e = html.escape
    rows, field_rows, regress = [], [], []
    previous = None
    for entry in rounds:
        test, val = entry.get("test") or {}, entry.get("val") or {}
        t_now = (test.get("metrics") or {}).get(METRIC)
        t_before = ((previous or {}).get("test") or {}).get("metrics", {}).get(METRIC) if previous else None
        seen = " <b>(seen in training)</b>" if val.get("seen_in_training") else ""
        plan = entry.get("plan") or {}
        taxonomy = ", ".join(f"{e(k)} {v}" for k, v in (test.get("failures") or val.get("failures") or {}).items())
        rate = (entry.get("regression_set") or {}).get("pass_rate")
        drops = sum((plan.get("cutoff_drops") or {}).values())
        others = ", ".join(f"{e(name)} {_fmt(m.get(METRIC))}" for name, m in (test.get("systems") or {}).items()
                           if name != "student")
        rows.append(f"<tr><td>{entry['round']}</td><td>{_fmt(t_now)}{_delta(t_now, t_before)}</td>"
                    f"<td>{_fmt((val.get('metrics') or {}).get(METRIC))}{seen}</td><td>{_fmt(rate)}</td>"
                    f"<td>{e(', '.join(plan.get('datasets') or []))}</td><td>{e(str(plan.get('eval_dataset')))}"
                    f"</td><td>{e(str(plan.get('checkpoint')))}</td><td>{drops}</td><td>{taxonomy or 'none'}</td>"
                    f"<td>{others or '-'}</td></tr>")
        if previous:
            before_fields = (previous.get("test") or {}).get("fields") or {}
            for name, value in sorted((test.get("fields") or {}).items()):
                field_rows.append(f"<tr><td>{entry['round']}</td><td>{e(name)}</td><td>{_fmt(value)}"
                                  f"{_delta(value, before_fields.get(name))}</td></tr>")
        reg = entry.get("regressions") or {}
        if reg.get("items"):
            regress.append(f"<li>round {entry['round']} ({e(reg.get('split', ''))}): "
                           + ", ".join(e(i) for i in reg["items"]) + "</li>")
        previous = entry
    points = [(r["round"], r["test"]["metrics"][METRIC]) for r in rounds
              if (r.get("test") or {}).get("metrics", {}).get(METRIC) is not None]
    return "\n".join([
        "<!doctype html><html><head><meta charset='utf-8'><title>docdistill rounds</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}</style></head><body>",
        "<h1>Rounds</h1>",
        "<p>Test is scored every round and never trained on or mined. Val is mined from round 1 on: once its "
        "pages are in the training files, its scores are marked <b>seen in training</b> and it is no longer the "
        "eval_dataset (the last checkpoint is kept instead of the best eval loss).</p>",
        f"<h2>Test {METRIC} by round</h2>", chart_svg(points),
        "<h2>Round over round</h2><table><tr><th>round</th><th>test " + METRIC + " (delta)</th><th>val " + METRIC +
        "</th><th>regression-set pass rate</th><th>trained on</th><th>eval_dataset</th><th>checkpoint</th>"
        "<th>cutoff_len drops</th><th>failure taxonomy (test)</th><th>other systems (test " + METRIC + ")</th></tr>", *rows, "</table>",
        "<h2>Per-field test scores (delta vs the round before)</h2>",
        ("<table><tr><th>round</th><th>field</th><th>score</th></tr>" + "".join(field_rows) + "</table>")
        if field_rows else "<p>From round 2 on.</p>",
        "<h2>Regressions (right in round N-1, wrong in round N)</h2>",
        f"<ul>{''.join(regress)}</ul>" if regress else "<p>None.</p>",
        "</body></html>"])


def write_report(path: Path, rounds: list[dict]) -> Path:
    path.write_text(render(rounds), encoding="utf-8")
    return path
