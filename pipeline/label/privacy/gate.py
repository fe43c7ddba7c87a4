"""The gate's decision for one page, and the redact/restore wrapper around the teacher's input and answer.

A page's words come from its text layer, or, where it has none worth the name (fewer than
``MIN_TEXT_CHARS`` characters: a scan), from local OCR of the very image that would be sent. A
scan OCR cannot read (no Tesseract, or too few words at too low a confidence on a page with ink)
is ``unverified``: nobody has ruled anything out, and the policy decides (default: block).
"""

from __future__ import annotations

import dataclasses
import io
from collections import Counter
from dataclasses import dataclass, field

from pipeline.label.privacy.classify import PERSONAL, UNVERIFIED, Finding, classify
from pipeline.label.privacy.detect import find_spans
from pipeline.label.privacy.pagewords import PageWords
from pipeline.label.privacy.policy import ACTIONS, ALLOW, BLOCK, REDACT, UNVERIFIED_KIND, Policy
from pipeline.label.privacy.redact import Mask, assign_placeholders, leaks, mask_image, redact_text, restore

MIN_TEXT_CHARS = 30          # a text layer shorter than this (a page number, a scanner's stamp) is a scan
MIN_OCR_CONF = 0.45          # below this mean word confidence OCR has not really read the page
MIN_OCR_WORDS = 3
BLANK_INK = 0.0002           # share of dark pixels under which a page is blank: nothing to read, nothing to leak
REDACTION_MISMATCH = "redaction_mismatch"


@dataclass
class PageDecision:
    doc_id: str
    page_index: int
    action: str
    source: str                                    # text | ocr | none
    findings: list[tuple[str, str, str]] = field(default_factory=list)   # (kind, class, action) per span
    masks: list[Mask] = field(default_factory=list)
    reason: str = ""
    words_text: str = field(default="", repr=False)   # in memory only: the anchor's fallback
    _masked: dict = field(default_factory=dict, repr=False)

    def kinds(self, action: str | None = None) -> list[str]:
        return sorted({k for k, _, a in self.findings if action is None or a == action})

    def audit(self, image_sha256: str, policy: Policy, redacted_image: str = "") -> dict:
        """The audit row: kinds, classes, actions, counts, box hashes, the sent masked image's path; never a value."""
        counts = Counter(self.findings)
        return {"doc_id": self.doc_id, "page_index": self.page_index, "image_sha256": image_sha256,
                "policy": policy.digest, "source": self.source, "action": self.action,
                "findings": [{"kind": k, "class": c, "action": a, "spans": n} for (k, c, a), n in sorted(counts.items())],
                "span_count": len(self.findings), "masked_boxes": sorted(h for m in self.masks
                                                                         for h in m.box_hashes(image_sha256)),
                "detail": self.reason, "redacted_image": redacted_image}


def is_blank(image: bytes) -> bool:
    from PIL import Image

    with Image.open(io.BytesIO(image)) as img:
        hist = img.convert("L").histogram()
    return sum(hist[:128]) <= BLANK_INK * sum(hist)


def decide_words(doc_id: str, page_index: int, words: PageWords, policy: Policy, can_redact: bool) -> PageDecision:
    """Detect, classify and pick the action for one page's words (redact becomes block where it cannot be done)."""
    spans = find_spans(words.text, lenient=words.source == "ocr")
    findings = classify(words.text, spans, words.lines, policy.allowlist)
    decision = PageDecision(doc_id, page_index, ALLOW, words.source, words_text=words.text)
    to_mask = []
    for finding in findings:
        action = policy.action(finding.kind, finding.cls)
        boxes = words.boxes(finding.start, finding.end)
        if action == REDACT and (not can_redact or not boxes):
            action = BLOCK                          # fail closed: what cannot be masked is not sent
        decision.findings.append((finding.kind, finding.cls, action))
        if action == REDACT:
            to_mask.append((finding.kind, words.text[finding.start:finding.end], boxes))
    decision.action = max((a for _, _, a in decision.findings), key=ACTIONS.index, default=ALLOW)
    if decision.action == REDACT:
        decision.masks = assign_placeholders(to_mask)
    if decision.action == BLOCK:
        decision.reason = ", ".join(decision.kinds(BLOCK))
    return decision


def unverified(doc_id: str, page_index: int, policy: Policy, source: str, why: str) -> PageDecision:
    action = policy.action(UNVERIFIED_KIND, UNVERIFIED)
    action = BLOCK if action == REDACT else action          # nothing located to mask
    return PageDecision(doc_id, page_index, action, source, [(UNVERIFIED_KIND, UNVERIFIED, action)], reason=why)


def ocr_too_little(words: PageWords) -> str:
    """Why OCR's reading cannot rule anything out ("" when it can)."""
    n = len(words.words)
    allow = "check it and allow it with a --privacy-policy whose actions say 'unverified: allow', or leave it out"
    if n < MIN_OCR_WORDS or (words.mean_conf is not None and words.mean_conf < MIN_OCR_CONF):
        conf = "n/a" if words.mean_conf is None else f"{words.mean_conf:.2f}"
        return f"unverified: OCR read too little of this scan ({n} words, confidence {conf}); {allow}"
    unreadable = words.unreadable + len(unclaimed_rereads(words))
    if unreadable:
        return (f"unverified: OCR could not read {unreadable} word(s) that may be numbers (Arabic-Indic digits "
                f"are read badly by Tesseract's ara model), so an ID or phone number cannot be ruled out; {allow}")
    return ""


REREAD_UNCLAIMED_DIGITS = 8


def unclaimed_rereads(words: PageWords) -> list[tuple[int, int]]:
    """Digit runs the gate read itself (pagewords' re-reads) of 8 digits or more that no detector claims:
    one misread digit turns an ID into "some number", so such a run still counts as unread."""
    spans = find_spans(words.text, lenient=True)
    return [(a, b) for a, b in words.reread if sum(ch.isdigit() for ch in words.text[a:b]) >= REREAD_UNCLAIMED_DIGITS
            and not any(s.start < b and a < s.end for s in spans)]


def name_findings(names: list[str], policy: Policy) -> list[tuple[str, str, str]]:
    """Findings in a document's file names: about a person (``personal``); never sent, so only ``block`` bites."""
    out = []
    for name in names:
        for f in classify(name, find_spans(name), []):
            cls = PERSONAL if f.cls != "identifier" else f.cls
            out.append((f.kind, cls, policy.action(f.kind, cls)))
    return out


def redacted_input(decision: PageDecision, page_input):
    """The teacher's input with the masks applied to the image and the anchor text. The masked image is
    read from the file the gate kept (``_masked["path"]``), else masked again: never held for the run."""
    path = decision._masked.get("path")
    image = path.read_bytes() if path is not None else mask_image(page_input.image, decision.masks)
    anchor = page_input.anchor_text
    if anchor:
        anchor = redact_text(anchor, decision.masks)
        if leaks(anchor, decision.masks):       # spaced differently than any rule above foresaw: use the words
            anchor = redact_text(decision.words_text, decision.masks)
            anchor = "" if leaks(anchor, decision.masks) else anchor
    return dataclasses.replace(page_input, image=image, anchor_text=anchor or None)


def restore_label(decision: PageDecision, label: dict, task_name: str, policy: Policy) -> tuple[dict, list[str]]:
    return restore(label, decision.masks, task_name in policy.transcribing_tasks)


__all__ = ["PageDecision", "decide_words", "unverified", "ocr_too_little", "name_findings", "redacted_input",
           "restore_label", "is_blank", "MIN_TEXT_CHARS", "REDACTION_MISMATCH", "Finding"]
