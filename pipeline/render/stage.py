"""The render stage: every document under a folder -> page images + a run store, resumably.

Documents are PDFs and image scans (TIFF, a page per frame; PNG, JPEG, WebP). ``plan`` identifies
each input file (content hash), opens it once to record its outcome and page count, and yields
render jobs only for pages that are missing, failed, or rendered with other settings.
``render_folder`` runs those jobs in worker processes and records each page.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from pipeline.render.config import RENDER_SETTINGS_META, RenderRunConfig
from pipeline.render.discover import (InputFile, NotARegularFileError, file_sha256, iter_inputs, path_digest,
                                      path_doc_id)
from pipeline.render.imagedoc import ImageOpenError, fit_scale, open_image
from pipeline.render.pdfio import PdfOpenError, candidate_passwords, info_dictionary, open_document
from pipeline.render.rasterize import RenderJob, page_image_path, render_job
from pipeline.records import DocStatus, DocumentRecord, PageRecord, PageStatus, SkipReason
from pipeline.shard import Shard
from pipeline.store import RunStore
from pipeline.render.workers import run_jobs

# Outcomes that a password could change: such documents are opened again on every run.
_RETRYABLE = {SkipReason.NEEDS_PASSWORD.value, SkipReason.WRONG_PASSWORD.value, SkipReason.UNREADABLE.value}
_MAX_PAGES_PER_JOB = 16   # one worker: fewer document reopens
_SLOW_OPEN_S = 0.02       # opening costs more than rendering a page or two: reopen it as little as possible
_MAX_PAGES_PER_SHARED_JOB = 8  # several workers: the last job bounds how long the others idle


@dataclass
class RenderSummary:
    files: int = 0
    documents: int = 0
    kinds: Counter = field(default_factory=Counter)          # documents by kind: pdf, tiff, png, jpeg, webp
    excluded: int = 0                                        # files left out by --include / --exclude
    outcomes: Counter = field(default_factory=Counter)       # per input file: ok / skipped:<reason>
    skipped_files: list[dict] = field(default_factory=list)  # {path, reason, detail}
    outside_files: list[dict] = field(default_factory=list)  # {path, detail}: read outside PDF_DIR (--follow-symlinks)
    pages_total: int = 0
    pages_rendered: int = 0
    pages_up_to_date: int = 0
    pages_failed: int = 0
    failed_pages: list[dict] = field(default_factory=list)   # {path, page, reason}
    seconds: float = 0.0
    run_dir: str = ""
    store: str = ""
    input_dir: str = ""

    def to_dict(self) -> dict:
        return {
            "files": self.files, "documents": self.documents, "kinds": dict(sorted(self.kinds.items())),
            "excluded": self.excluded, "outcomes": dict(sorted(self.outcomes.items())),
            "skipped_files": self.skipped_files, "outside_files": self.outside_files,
            "pages": {"total": self.pages_total, "rendered": self.pages_rendered,
                      "up_to_date": self.pages_up_to_date, "failed": self.pages_failed},
            "failed_pages": self.failed_pages, "seconds": round(self.seconds, 3),
            "outputs": {"run_dir": self.run_dir, "store": self.store, "images": f"{self.run_dir}/images"},
        }

    def count_skipped(self, path: str, reason: str, detail: str) -> None:
        self.outcomes[f"skipped:{reason}"] += 1
        self.skipped_files.append({"path": path, "reason": reason, "detail": detail})


def _chunks(indices: list[int], workers: int, slow_to_open: bool = False) -> list[tuple[int, ...]]:
    """Split a document's pages so several workers can share one long book. A document that is
    slow to open (a long AES-256 password derivation: 45 ms, measured) is split into one part per
    worker only, since every part reopens it.

    >>> _chunks(list(range(20)), 1)
    [(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), (16, 17, 18, 19)]
    >>> [len(c) for c in _chunks(list(range(40)), 2)]
    [5, 5, 5, 5, 5, 5, 5, 5]
    >>> len(_chunks(list(range(352)), 2))
    44
    >>> [len(c) for c in _chunks(list(range(30)), 2, slow_to_open=True)]
    [15, 15]
    """
    if workers == 1:  # nothing to balance: fewer, longer jobs reopen the document less often
        size = _MAX_PAGES_PER_JOB
    elif slow_to_open:
        size = math.ceil(len(indices) / workers)
    else:
        size = max(1, min(_MAX_PAGES_PER_SHARED_JOB, math.ceil(len(indices) / (workers * 4))))
    return [tuple(indices[i:i + size]) for i in range(0, len(indices), size)]


def _identify(store: RunStore, item: InputFile, shard: Shard | None = None) -> tuple[str, int]:
    stat = item.path.stat()
    doc_id = store.cached_doc_id(item.rel, stat.st_size, stat.st_mtime_ns) or file_sha256(item.path)
    if shard is None or shard.contains(doc_id):  # another shard's files leave no trace in this store
        store.remember_input(item.rel, stat.st_size, stat.st_mtime_ns, doc_id)
    return doc_id, stat.st_size


def _unread_record(item: InputFile, reason: SkipReason, detail: str) -> DocumentRecord:
    """The outcome of an input never read (a link, a FIFO, a file that vanished): keyed by its path."""
    return DocumentRecord(path_doc_id(item.rel), item.rel, 0, DocStatus.SKIPPED, reason, detail)


def _image_record(cfg: RenderRunConfig, item: InputFile, doc_id: str, size: int) -> DocumentRecord:
    try:
        facts = open_image(item.path, cfg.max_image_pixels)
    except ImageOpenError as exc:
        return DocumentRecord(doc_id, item.rel, size, DocStatus.SKIPPED, exc.reason, exc.detail)
    render = cfg.render
    small = [i for i, (w, h) in enumerate(facts.sizes) if fit_scale(w, h, render.longest_side, render.max_pixels) == 1
             and max(w, h) < render.longest_side]
    notes = [item.detail] if item.detail else []
    if small:
        w, h = facts.sizes[small[0]]
        which = "the scan is" if facts.frames == 1 else f"{len(small)} of {facts.frames} frames are (frame {small[0] + 1}:"
        notes.append(f"{which} {w} x {h} px{')' if facts.frames > 1 else ''}, under --longest-side "
                     f"{render.longest_side}: kept at the size it was scanned at, not enlarged")
    return DocumentRecord(doc_id, item.rel, size, DocStatus.OK, detail="; ".join(notes), page_count=facts.frames,
                          pdf_metadata={"image": facts.to_dict()})


def _open_and_record(cfg: RenderRunConfig, store: RunStore, item: InputFile, doc_id: str,
                     size: int) -> tuple[DocumentRecord, float]:
    """Open a file once in this process to record its outcome; also returns how long opening took."""
    passwords = candidate_passwords(item.rel, cfg.passwords_by_name, cfg.passwords)
    started = time.perf_counter()
    if item.kind != "pdf":
        record = _image_record(cfg, item, doc_id, size)
        store.put_document(record)
        return record, time.perf_counter() - started
    try:
        opened = open_document(item.path, passwords)
    except PdfOpenError as exc:
        record = DocumentRecord(doc_id, item.rel, size, DocStatus.SKIPPED, exc.reason, exc.detail)
    else:
        with opened.doc as doc:
            record = DocumentRecord(doc_id, item.rel, size, DocStatus.OK, detail=item.detail,
                                    page_count=doc.page_count, encryption=opened.encryption_note(),
                                    repaired=bool(getattr(doc, "is_repaired", False)),
                                    pdf_metadata=info_dictionary(doc))
    store.put_document(record)
    return record, time.perf_counter() - started


def plan(cfg: RenderRunConfig, store: RunStore, summary: RenderSummary) -> Iterator[RenderJob]:
    """Record every input file's outcome; yield the render jobs still to do.

    A generator: the pool pulls jobs as workers free up, so identifying and opening files
    overlaps rendering instead of delaying the first page.
    """
    seen: set[str] = set()        # rendered documents
    identities: set[str] = set()  # every document (content hash), rendered or skipped
    render_key = cfg.render.key()
    inputs = []
    for item in iter_inputs(cfg.pdf_dir, cfg.follow_symlinks, cfg.selection, skip=cfg.run_dir):
        if item.excluded:
            summary.excluded += 1
        else:
            inputs.append(item)
    if cfg.workers > 1:  # largest first, so no long document is left running alone at the end
        inputs.sort(key=lambda item: -_size_or_zero(item))
    for item in inputs:
        open_seconds = 0.0
        summary.files += 1
        rel = item.rel
        with store.transaction():
            unread = _unread_record(item, item.skip, item.detail) if item.skip is not None else None
            if unread is None:
                try:
                    doc_id, size = _identify(store, item, cfg.shard)
                except NotARegularFileError:  # replaced by a FIFO or device since discovery
                    unread = _unread_record(item, SkipReason.NOT_A_REGULAR_FILE,
                                            "not a regular file (a FIFO, socket or device); never opened")
                except OSError as exc:
                    unread = _unread_record(item, SkipReason.UNREADABLE, f"cannot read the file: {exc.strerror}")
            if unread is not None:  # no content hash: the path decides the shard
                if cfg.shard is None or cfg.shard.contains(path_digest(unread.doc_id)):
                    store.put_document(unread)
                    summary.count_skipped(rel, unread.reason.value, unread.detail)
                else:
                    summary.outcomes["other_shard"] += 1
                continue
            if cfg.shard is not None and not cfg.shard.contains(doc_id):
                summary.outcomes["other_shard"] += 1
                continue
            if doc_id not in identities:
                summary.kinds[item.kind] += 1
            identities.add(doc_id)
            row = store.get_document(doc_id)
            if row is None or row["reason"] in _RETRYABLE:
                record, open_seconds = _open_and_record(cfg, store, item, doc_id, size)
                status, reason, detail, page_count = (record.status.value, record.reason, record.detail,
                                                      record.page_count)
                reason = reason.value if reason else None
            else:
                status, reason, detail, page_count = row["status"], row["reason"], row["detail"], row["page_count"]
        if status != DocStatus.OK.value:
            summary.count_skipped(rel, reason, detail)
            continue
        if item.outside:
            summary.outside_files.append({"path": rel, "detail": item.detail})
        summary.outcomes["ok"] += 1
        if doc_id in seen:  # the same content under another name: one document, rendered once
            continue
        seen.add(doc_id)
        summary.pages_total += page_count
        states = store.page_states(doc_id)
        todo = [i for i in range(page_count)
                if states.get(i) != (PageStatus.RENDERED.value, render_key)
                or not (cfg.run_dir / page_image_path(doc_id, i, cfg.render)).exists()]
        summary.pages_up_to_date += page_count - len(todo)
        passwords = tuple(candidate_passwords(rel, cfg.passwords_by_name, cfg.passwords))
        for chunk in _chunks(todo, cfg.workers, slow_to_open=open_seconds > _SLOW_OPEN_S):
            yield RenderJob(item.path, doc_id, chunk, cfg.run_dir, cfg.render, passwords, item.kind,
                            cfg.max_image_pixels)
    summary.documents = len(identities)


def _size_or_zero(item: InputFile) -> int:
    if item.skip is not None:
        return 0
    try:
        return item.path.stat().st_size
    except OSError:  # unreadable: recorded as such when its turn comes
        return 0


def _crashed(job: RenderJob) -> list[PageRecord]:
    who = "MuPDF" if job.kind == "pdf" else "Pillow"
    return [PageRecord(job.doc_id, i, PageStatus.FAILED, render_key=job.render.key(),
                       reason=f"the renderer crashed on this page ({who}); the page is unreadable")
            for i in job.page_indices]


def render_folder(cfg: RenderRunConfig, store: RunStore, progress: bool = True) -> RenderSummary:
    """Run the render stage; returns the summary. Only bad configuration raises."""
    started = time.perf_counter()
    summary = RenderSummary(run_dir=str(cfg.run_dir), store=str(store.path), input_dir=str(cfg.pdf_dir))
    with store.transaction():  # what the pages' render key stands for: build_dataset writes it into its manifest
        store.set_meta(RENDER_SETTINGS_META + cfg.render.key(), json.dumps(cfg.render.settings(), sort_keys=True))
    bar = _progress_bar(progress)

    def planned() -> Iterator[RenderJob]:
        for job in plan(cfg, store, summary):
            bar.total += len(job.page_indices)
            yield job

    for records in run_jobs(planned(), render_job, cfg.workers, on_crash=_crashed):
        with store.transaction():
            store.put_pages(records)
        for rec in records:
            if rec.status is PageStatus.RENDERED:
                summary.pages_rendered += 1
            else:
                summary.pages_failed += 1
                summary.failed_pages.append({"path": store.get_document(rec.doc_id)["path"],
                                             "page": rec.page_no, "reason": rec.reason})
        bar.update(len(records))
    bar.close()
    summary.seconds = time.perf_counter() - started
    return summary


def _progress_bar(enabled: bool):
    from tqdm import tqdm

    tqdm.monitor_interval = 0  # no monitor thread: worker processes are forked from this one
    # disable=None: tqdm switches itself off when stderr is not a terminal (CI logs, pipes).
    return tqdm(total=0, unit="page", desc="render", disable=None if enabled else True)


def iter_rendered(store: RunStore) -> Iterator[PageRecord]:
    """The stage's output for the next one: rendered pages, in document order."""
    yield from store.iter_pages(PageStatus.RENDERED)
