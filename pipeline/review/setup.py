"""Getting a run ready for review: its task forms, the queues written to the store, the session."""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.review.app import ThreadStores, create_app
from pipeline.review.forms import task_forms
from pipeline.review.items import ReviewSession, check_reviewer
from pipeline.review.prefill import Prefiller, is_offline_teacher, parse_endpoint
from pipeline.review.queues import QUEUES, build_queues, mined_ids
from pipeline.store import STORE_FILENAME, RunStore


@dataclass(frozen=True)
class ReviewConfig:
    run_dir: Path
    reviewer: str
    pdf_dir: Path | None = None            # the input folder given to distill: the textlayer prefill reads it
    prefill_endpoint: str | None = None    # URL#MODEL of a local student server
    eval_dir: Path | None = None           # evaluate's --out (or its --mine folder): the mined queue
    sample_size: int = 50
    seed: int = 0
    passwords: tuple[str, ...] = ()        # distill's --password / --passwords: the textlayer prefill opens PDFs
    passwords_by_name: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not (self.run_dir / STORE_FILENAME).is_file():
            raise ConfigError(f"{self.run_dir} is not a docdistill run folder (no {STORE_FILENAME}); give the --out "
                              "of python -m pipeline.distill")
        check_reviewer(self.reviewer)
        if self.pdf_dir is not None and not self.pdf_dir.is_dir():
            raise ConfigError(f"--pdf-dir {self.pdf_dir} is not a folder; give the input folder of distill")
        if self.sample_size < 0:
            raise ConfigError("--sample must be >= 0")
        if self.prefill_endpoint:
            parse_endpoint(self.prefill_endpoint)


def prepare(cfg: ReviewConfig) -> tuple[ReviewSession, dict[str, int]]:
    """Write the queues into the run store; returns the session and the items per queue."""
    mined = mined_ids(cfg.eval_dir) if cfg.eval_dir else []
    with RunStore(cfg.run_dir) as store:
        store.ensure_review_tables()
        forms = task_forms(store.tasks().values())
        if not forms:
            raise ConfigError(f"{cfg.run_dir} has no task definitions: label it with python -m pipeline.distill first")
        rows = build_queues(store, is_offline_teacher, mined, cfg.sample_size, cfg.seed)
        store.replace_review_items(list(QUEUES), rows)
    counts = Counter(row[0] for row in rows)
    prefiller = Prefiller(cfg.run_dir, cfg.pdf_dir, cfg.prefill_endpoint, cfg.passwords, cfg.passwords_by_name)
    return ReviewSession(forms, check_reviewer(cfg.reviewer), prefiller), {q: counts.get(q, 0) for q in QUEUES}


def review_app(cfg: ReviewConfig, token: str | None = None, opener=RunStore):
    """(the Starlette app, its token, items per queue); ``opener`` opens each thread's store (tests trace it)."""
    session, counts = prepare(cfg)
    token = token or secrets.token_urlsafe(24)
    return create_app(cfg.run_dir, session, token, ThreadStores(cfg.run_dir, opener)), token, counts
