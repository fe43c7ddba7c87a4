"""``--wandb PROJECT``: the run's figures and a few sample labels in Weights & Biases.

Optional: wandb is imported only when asked for (``pip install 'docdistill[wandb]'``), and a
missing package fails before any work starts. ``WANDB_MODE=offline`` writes the run to disk for a
later ``wandb sync``. What is logged is chosen here, field by field: the stage summaries' numbers,
the store's counts, a whitelisted configuration and a sample table (page image + label JSON).
System metadata (command line, environment, git, host), system metrics and code capture are
switched off, so no API key or password can reach W&B through them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.store import RunStore

INSTALL_HINT = "pip install 'docdistill[wandb]' (or: pip install wandb)"
DEFAULT_SAMPLES = 4


def require_wandb():
    """The wandb module, or a ConfigError that says how to install it."""
    try:
        import wandb
    except ImportError:
        raise ConfigError(f"--wandb needs the wandb package: {INSTALL_HINT}") from None
    return wandb


def flatten_figures(data: dict, prefix: str = "") -> dict[str, float]:
    """Every number in nested summaries as one flat ``a/b/c`` key (lists and text are left out).

    >>> flatten_figures({"label": {"requests": 3, "labels": {"content": {"ok": 2}}, "teacher": "gemini",
    ...                            "cost_usd": None, "failures": [{"page": 1}]}})
    {'label/requests': 3, 'label/labels/content/ok': 2}
    """
    out: dict[str, float] = {}
    for key, value in data.items():
        name = f"{prefix}/{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(flatten_figures(value, name))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = value
    return out


def store_figures(store: RunStore) -> dict[str, int]:
    """What the run folder holds in total (this run and every earlier one)."""
    figures = {f"store/pages/{status}": n for status, n in store.count_pages().items()}
    figures["store/documents"] = len(store.documents())
    for (task, outcome), n in store.count_labels().items():
        figures[f"store/labels/{task}/{outcome}"] = n
    return figures


def sample_rows(store: RunStore, limit: int = DEFAULT_SAMPLES) -> list[dict]:
    """A few valid labels with their page images, spread over tasks (newest label per page and task)."""
    rows = []
    per_task: dict[str, int] = {}
    pages = {(p.doc_id, p.page_index): p for p in store.iter_pages()}
    for label in store.iter_labels(outcome="ok"):
        page = pages.get((label.doc_id, label.page_index))
        if page is None or per_task.get(label.task, 0) >= max(1, limit // 2) or len(rows) >= limit:
            continue
        per_task[label.task] = per_task.get(label.task, 0) + 1
        document = store.get_document(label.doc_id)
        rows.append({"document": document["path"] if document else label.doc_id, "page": label.page_index + 1,
                     "task": label.task, "teacher": label.teacher, "model": label.model,
                     "image": store.run_dir / page.image_path,
                     "label": json.dumps(label.label, ensure_ascii=False, indent=1)})
    return rows


def log_run(project: str, store: RunStore, summaries: dict, config: dict, samples: int = DEFAULT_SAMPLES) -> str:
    """Log one distill run to W&B; returns the run's local folder. ``config`` must hold no secrets."""
    wandb = require_wandb()
    settings = wandb.Settings(x_disable_meta=True, x_disable_stats=True, x_disable_machine_info=True,
                              disable_git=True, disable_code=True, save_code=False, console="off")
    # The W&B folder goes into the run folder unless WANDB_DIR says otherwise.
    directory = os.environ.get("WANDB_DIR") or str(store.run_dir)
    Path(directory).mkdir(parents=True, exist_ok=True)
    run = wandb.init(project=project, config=config, settings=settings, dir=directory, job_type="distill")
    try:
        figures = {**flatten_figures(summaries), **store_figures(store)}
        run.log(figures)
        run.summary.update(figures)
        table = wandb.Table(columns=["document", "page", "task", "teacher", "model", "image", "label"])
        for row in sample_rows(store, samples):
            image = wandb.Image(str(row["image"])) if Path(row["image"]).is_file() else None
            table.add_data(row["document"], row["page"], row["task"], row["teacher"], row["model"], image,
                           row["label"])
        run.log({"samples": table})
        return str(run.dir)
    finally:
        run.finish()
