"""The record types that flow between stages.

A ``DocumentRecord`` is one input file (identified by its content hash) and its outcome;
a ``PageRecord`` is one page of it: rendered image, later labelled, later a training sample;
a ``Job`` is one (page, task) request the label stage plans, gates, sends or batches;
a ``LabelRecord`` is one teacher answer for one page under one task;
a ``BatchJob`` is one provider batch job and ``BatchedRequest`` one request inside it.
All are plain dataclasses so worker processes can send them back cheaply.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.tasks import Task


class DocStatus(str, Enum):
    OK = "ok"
    SKIPPED = "skipped"


class SkipReason(str, Enum):
    """Why an input file was not rendered. Values are stable: they are stored and reported."""

    NOT_A_PDF = "not_a_pdf"            # no %PDF- header in the first 1024 bytes (a TIFF named .pdf too)
    NOT_AN_IMAGE = "not_an_image"      # named .tif/.png/.jpg/.webp without that image signature (empty, a PDF)
    TOO_LARGE = "too_large"            # an image frame past the decompression-bomb guard: never decoded
    CORRUPT = "corrupt"                # has a signature but cannot be opened/repaired into pages
    ZERO_PAGES = "zero_pages"          # a valid PDF with no pages (a TIFF without frames)
    NEEDS_PASSWORD = "needs_password"  # encrypted, no password supplied
    WRONG_PASSWORD = "wrong_password"  # encrypted, none of the supplied passwords worked
    UNREADABLE = "unreadable"          # the file could not be read from disk
    # Found by discovery and never read (no content hash: recorded under a hash of the path)
    SYMLINK = "symlink"                # a link, not followed without --follow-symlinks
    BROKEN_LINK = "broken_link"        # a link that leads nowhere, or loops
    NOT_A_REGULAR_FILE = "not_a_regular_file"  # a FIFO, socket or device (or a link to one): never opened


class PageStatus(str, Enum):
    RENDERED = "rendered"
    FAILED = "failed"


@dataclass
class DocumentRecord:
    doc_id: str                       # sha256 of the file bytes: a renamed copy is the same document;
                                      # "path:<sha256 of the path>" for an input that was never read
    path: str                         # path relative to the input folder (first seen)
    size_bytes: int
    status: DocStatus
    reason: SkipReason | None = None
    detail: str = ""                  # the fix, for skipped files; where a followed link led, for ok ones
    page_count: int = 0
    encryption: str | None = None     # e.g. "Standard V2 R3 128-bit RC4 (empty user password)"
    repaired: bool = False            # MuPDF had to rebuild the xref
    pdf_metadata: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["status"] = self.status.value
        out["reason"] = self.reason.value if self.reason else None
        return out


@dataclass
class PageRecord:
    doc_id: str
    page_index: int                   # 0-based; humans see page_index + 1
    status: PageStatus
    render_key: str = ""              # hash of the render settings that produced the image
    image_path: str = ""              # relative to the run folder
    image_sha256: str = ""
    width: int = 0
    height: int = 0
    rotation: int = 0                 # /Rotate as PyMuPDF resolved it (inherited included); for an image,
                                      # the clockwise turn its EXIF orientation asked for
    text_chars: int = 0               # size of the page's own text layer: 0 means image-only
    enhanced: bool = False            # contrast enhancement applied (low-contrast page or forced)
    phash: str = ""                   # 256-bit average hash of the image: near-duplicate pages
    reason: str = ""                  # for failed pages: what went wrong
    seconds: float = 0.0

    @property
    def page_no(self) -> int:
        return self.page_index + 1


@dataclass(frozen=True)
class Job:
    """One teacher request to make: a rendered page under one task, by its request key."""

    page: PageRecord
    task: Task
    key: str                          # the request key (content address): never paid for twice


@dataclass
class LabelRecord:
    request_key: str                  # identity of the request: never paid for twice
    doc_id: str
    page_index: int
    task: str
    teacher: str
    model: str
    prompt_hash: str
    schema_hash: str
    outcome: str                      # answers.Outcome value
    params: dict = field(default_factory=dict)   # generation parameters that shaped the answer
    finish_reason: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    attempts: int = 1                 # requests made for this answer (repair re-asks included)
    raw_text: str = ""                # exactly what the teacher sent, whatever the outcome
    label: dict | None = None         # the validated answer (outcome ok only)
    warnings: list[str] = field(default_factory=list)   # salvaged:<how>, repaired, foreign_script:<name>
    detail: str = ""                  # why it failed: error, refusal, block reason, validation errors;
                                      # for an offline teacher's good answer, its note (OCR confidence)
    created_at: float = 0.0

    def to_row(self) -> dict:
        row = asdict(self)
        row["params"] = json.dumps(self.params, sort_keys=True)
        label = row.pop("label")
        row["label_json"] = json.dumps(label, ensure_ascii=False) if label is not None else None
        row["warnings"] = json.dumps(self.warnings)
        return row

    @classmethod
    def from_row(cls, row: dict) -> LabelRecord:
        values = {f.name: row[f.name] for f in fields(cls) if f.name in row}
        values["params"] = json.loads(row["params"])
        values["warnings"] = json.loads(row["warnings"])
        values["label"] = json.loads(row["label_json"]) if row["label_json"] is not None else None
        return cls(**values)


# A batch job's state in the run store.
BATCH_SUBMITTING = "submitting"   # sent, not known to be accepted yet: the next run looks it up by name
BATCH_PENDING = "pending"         # accepted by the provider; results not stored yet
BATCH_COLLECTED = "collected"     # every result stored (missing ones are sent again by the next run)
BATCH_FAILED = "failed"           # the provider failed, expired or cancelled the whole job: keys are free again


@dataclass
class BatchJob:
    """One provider batch job as the run store keeps it (its requests are ``BatchedRequest`` rows)."""

    job_id: str                       # the provider's id (OpenAI batch_..., Gemini batches/...), or our name
    provider: str                     # the teacher's name (data: which teacher may collect it)
    model: str
    params: dict = field(default_factory=dict)   # generation parameters the requests were sent with
    state: str = BATCH_PENDING
    provider_status: str = ""
    requests: int = 0
    input_file_id: str = ""
    detail: str = ""
    submitted_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True)
class BatchedRequest:
    """One request inside a batch job: enough to store its answer as a LabelRecord."""

    request_key: str
    doc_id: str
    page_index: int
    task: str
    prompt_hash: str
    schema_hash: str
    attempt: int = 1                  # 2: the repair re-ask for an invalid or malformed first answer


# A review verdict (python -m pipeline.review). accept: the label as it was; edit: a changed label
# accepted; reject: out of the dataset (with a reason); skip: looked at, decided nothing.
VERDICTS = ("accept", "edit", "reject", "skip")


@dataclass
class ReviewVerdict:
    """One reviewer's verdict on one image's label under one task, as the run store keeps it."""

    image_sha256: str
    task: str
    doc_id: str
    page_index: int
    verdict: str                      # one of VERDICTS
    reviewer: str
    prompt_hash: str
    schema_hash: str
    reason: str = ""
    request_key: str = ""             # the teacher answer reviewed ('' when there is none: a manual label)
    source: str = ""                  # where label_before came from
    label_before: dict | None = None
    label_after: dict | None = None   # accept and edit: the label build_dataset uses
    diff: list = field(default_factory=list)
    revision: int = 0                 # set by the store
    created_at: float = 0.0
