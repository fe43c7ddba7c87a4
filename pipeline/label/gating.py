"""The privacy gate in the label stage: decide every page to send, hold back, or mask and later restore.

``gate_sensitive`` decides each page once per run (``pipeline.label.privacy``): blocked pages are
stored ``sensitive_blocked`` (kinds only, never values) and decided again on the next run; pages to
redact are handed back in ``redactions`` for ``prepare_input`` (mask image and anchor text) and
``restore_answer`` (values back into the label, or ``redaction_mismatch``). A caller that cannot
apply redactions (batch submission) passes none: its pages to redact are blocked instead.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Callable

from pipeline.label.privacy.gate import (MIN_TEXT_CHARS, REDACTION_MISMATCH, PageDecision, decide_words, is_blank,
                                         name_findings, ocr_too_little, redacted_input, restore_label, unverified)
from pipeline.label.privacy.policy import ALLOW, BLOCK, REDACT, Policy, load_policy
from pipeline.label.privacy.redact import mask_image
from pipeline.label.summary import LabelSummary, count_record
from pipeline.label.sources import PageSources
from pipeline.records import Job, LabelRecord, PageRecord
from pipeline.render.discover import document_kind
from pipeline.store import REDACTED_DIR, RunStore
from pipeline.teachers import Teacher

SENSITIVE_BLOCKED = "sensitive_blocked"    # held back by the privacy gate; checked again on every run


def decide_page(sources: PageSources, page: PageRecord, policy: Policy, langs: str, can_redact: bool) -> PageDecision:
    """The gate's decision for one page (OCR on scans; a blank scan has nothing to read or leak)."""
    scan = document_kind(sources.document(page.doc_id).rel) != "pdf" or page.text_chars < MIN_TEXT_CHARS
    if scan and sources.document(page.doc_id).path is not None and is_blank(sources.page_image(page)):
        return PageDecision(page.doc_id, page.page_index, ALLOW, "blank")
    words, why = sources.privacy_words(page, MIN_TEXT_CHARS, langs)
    why = why or (ocr_too_little(words) if words.source == "ocr" else "")
    if why:
        return unverified(page.doc_id, page.page_index, policy, words.source, why)
    return decide_words(page.doc_id, page.page_index, words, policy, can_redact)


def keep_redacted(sources: PageSources, page: PageRecord, decision: PageDecision) -> str:
    """The masked image that will be sent, kept in the run folder by content (``redacted/ab/<sha256>.png``)
    for ``build_dataset --train-redacted-mismatches``; returns its path in the run folder."""
    image = mask_image(sources.page_image(page), decision.masks)
    digest, ext = hashlib.sha256(image).hexdigest(), "jpg" if image.startswith(b"\xff\xd8") else "png"
    rel = f"{REDACTED_DIR}/{digest[:2]}/{digest}.{ext}"
    target = sources.run_cfg.run_dir / rel
    if not target.is_file():           # written whole, then renamed: a cut-short run leaves no half image
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(image)
        os.replace(tmp, target)
    # prepare_input sends these very bytes, read back from the file: a run of a million pages does not
    # hold its masked images in memory.
    decision._masked["path"] = target
    return rel


def _doc_action(actions: list[str]) -> str:
    if all(a == BLOCK for a in actions):
        return "block"
    if BLOCK in actions:
        return "partial"
    return REDACT if REDACT in actions else ALLOW


def gate_sensitive(jobs: list[Job], sources: PageSources, teacher: Teacher, cfg, store: RunStore | None,
                   summary: LabelSummary, distinct: Callable, record: Callable,
                   redactions: dict | None = None) -> list[Job]:
    """The jobs to send, one per request key (``distinct``); blocked ones stored unless ``store`` is None."""
    if cfg.allow_sensitive or not teacher.off_machine:
        return distinct(jobs, summary)
    policy = cfg.privacy_policy or load_policy()
    pages = {(j.page.doc_id, j.page.page_index): j.page for j in jobs}
    decisions: dict[tuple[str, int], PageDecision] = {}
    names_by_doc = {doc_id: name_findings([n.rsplit("/", 1)[-1] for n in sources.document(doc_id).names], policy)
                    for doc_id in dict.fromkeys(d for d, _ in pages)}
    for key, page in pages.items():
        decision = decide_page(sources, page, policy, teacher.settings.ocr_lang, redactions is not None)
        blocking_names = [f for f in names_by_doc[page.doc_id] if f[2] == BLOCK]
        if blocking_names:               # a file name is never sent: only a block in it has effect
            decision.findings += blocking_names
            decision.action, decision.masks = BLOCK, []
            decision.reason = ", ".join(sorted({k for k, _, _ in decision.findings if k}))
        decisions[key] = decision
    if store is not None and decisions:
        store.ensure_privacy_tables()
        with store.transaction():
            for key, decision in decisions.items():
                redacted = keep_redacted(sources, pages[key], decision) if decision.action == REDACT else ""
                store.put_privacy_audit(decision.audit(pages[key].image_sha256, policy, redacted))
    by_doc: dict[str, list[str]] = {}
    for (doc_id, _), decision in decisions.items():
        by_doc.setdefault(doc_id, []).append(decision.action)
        summary.privacy.setdefault("pages", Counter())[decision.action] += 1
    for doc_id, actions in by_doc.items():
        summary.privacy.setdefault("documents", Counter())[_doc_action(actions)] += 1
        blocked = [d for (doc, _), d in sorted(decisions.items()) if doc == doc_id and d.action == BLOCK]
        if blocked:
            kinds = sorted({k for d in blocked for k in d.kinds(BLOCK)})
            summary.blocked.append({"path": sources.document(doc_id).rel, "kinds": kinds,
                                    "pages": [d.page_index + 1 for d in blocked],
                                    "detail": next((d.reason for d in blocked if " " in d.reason), "")})
    keep = distinct([j for j in jobs if decisions[j.page.doc_id, j.page.page_index].action != BLOCK], summary)
    decided = {job.key for job in keep}
    for job in jobs:
        decision = decisions[job.page.doc_id, job.page.page_index]
        if decision.action != BLOCK:
            continue
        if job.key in decided:     # the same image is sent for a page that may go, or held once
            summary.shared += 1
            continue
        decided.add(job.key)
        rec = record(job, teacher, SENSITIVE_BLOCKED, detail=decision.reason, attempts=0)
        if store is not None:
            with store.transaction():
                store.put_label(rec)
        count_record(summary, rec, sources.document(job.page.doc_id).rel)
    if redactions is not None:
        redactions.update({k: d for k, d in decisions.items() if d.action == REDACT})
    summary.privacy["policy"] = policy.source
    return keep


def prepare_input(sources: PageSources, redactions: dict, anchor: bool) -> Callable:
    """The engine's ``prepare``: the page's input, masked where the gate said redact."""
    def prepare(job: Job):
        page_input, text = sources.page_input(job.page, anchor)
        decision = redactions.get((job.page.doc_id, job.page.page_index))
        if decision is None:
            return page_input, text
        return redacted_input(decision, page_input), text
    return prepare


def restore_answer(redactions: dict, policy: Policy | None, job: Job, outcome: str, label: dict | None,
                   detail: str) -> tuple[str, dict | None, str]:
    """(outcome, label, detail) with the original values back in a redacted page's label."""
    decision = redactions.get((job.page.doc_id, job.page.page_index))
    if decision is None or label is None or outcome != "ok":
        return outcome, label, detail
    restored, problems = restore_label(decision, label, job.task.name, policy or load_policy())
    if problems:                   # kept with its placeholders (never the values), out of the dataset
        return REDACTION_MISMATCH, label, "; ".join(problems)
    return outcome, restored, detail


__all__ = ["SENSITIVE_BLOCKED", "REDACTION_MISMATCH", "decide_page", "gate_sensitive", "prepare_input",
           "restore_answer"]
