"""The run store's tables: the DDL, its version, and the file name a run folder keeps it under.

Every statement is ``IF NOT EXISTS``: opening a store creates what is missing and changes nothing
else. A change that an older docdistill could not read raises SCHEMA_VERSION.
"""

STORE_FILENAME = "run.sqlite"
SCHEMA_VERSION = 1

CORE_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    detail TEXT NOT NULL DEFAULT '',
    page_count INTEGER NOT NULL DEFAULT 0,
    encryption TEXT,
    repaired INTEGER NOT NULL DEFAULT 0,
    pdf_metadata TEXT NOT NULL DEFAULT '{}',
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS document_paths (
    doc_id TEXT NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (doc_id, path)
);
-- Hash cache: a path whose size and mtime are unchanged is not re-hashed on resume.
CREATE TABLE IF NOT EXISTS inputs (
    path TEXT PRIMARY KEY,
    size_bytes INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    doc_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pages (
    doc_id TEXT NOT NULL,
    page_index INTEGER NOT NULL,
    status TEXT NOT NULL,
    render_key TEXT NOT NULL DEFAULT '',
    image_path TEXT NOT NULL DEFAULT '',
    image_sha256 TEXT NOT NULL DEFAULT '',
    width INTEGER NOT NULL DEFAULT 0,
    height INTEGER NOT NULL DEFAULT 0,
    rotation INTEGER NOT NULL DEFAULT 0,
    text_chars INTEGER NOT NULL DEFAULT 0,
    enhanced INTEGER NOT NULL DEFAULT 0,
    phash TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    seconds REAL NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL,
    PRIMARY KEY (doc_id, page_index)
);
-- One row per teacher request identity (image + task + prompt + schema + teacher + model + params):
-- a finished key is never sent again; a changed prompt or model is a new key.
CREATE TABLE IF NOT EXISTS labels (
    request_key TEXT PRIMARY KEY,
    doc_id TEXT NOT NULL,
    page_index INTEGER NOT NULL,
    task TEXT NOT NULL,
    teacher TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt_hash TEXT NOT NULL,
    schema_hash TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',
    outcome TEXT NOT NULL,
    finish_reason TEXT NOT NULL DEFAULT '',
    tokens_in INTEGER NOT NULL DEFAULT 0,
    tokens_out INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 1,
    raw_text TEXT NOT NULL DEFAULT '',
    label_json TEXT,
    warnings TEXT NOT NULL DEFAULT '[]',
    detail TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
);
-- The task definitions labels were made with: the dataset stage needs their student prompts.
CREATE TABLE IF NOT EXISTS tasks (
    prompt_hash TEXT NOT NULL,
    schema_hash TEXT NOT NULL,
    name TEXT NOT NULL,
    student_prompt TEXT NOT NULL,
    teacher_prompt TEXT NOT NULL,
    schema_json TEXT NOT NULL,
    PRIMARY KEY (prompt_hash, schema_hash)
);
CREATE INDEX IF NOT EXISTS labels_by_page ON labels (doc_id, page_index, task);
"""

# Batch mode's tables: created by the first --batch run (a run store without them has no batch jobs).
BATCH_TABLES = ("batch_jobs", "batch_requests")
BATCH_SCHEMA = """
CREATE TABLE IF NOT EXISTS batch_jobs (
    job_id TEXT PRIMARY KEY,          -- the provider's id: OpenAI batch_..., Gemini batches/...
    provider TEXT NOT NULL,           -- teacher name: openai | gemini
    model TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',  -- generation parameters the requests were sent with
    state TEXT NOT NULL,              -- submitting | pending | collected | failed
    provider_status TEXT NOT NULL DEFAULT '',
    requests INTEGER NOT NULL DEFAULT 0,
    input_file_id TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '',
    submitted_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS batch_requests (
    request_key TEXT NOT NULL,
    job_id TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    page_index INTEGER NOT NULL,
    task TEXT NOT NULL,
    prompt_hash TEXT NOT NULL,
    schema_hash TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 1,   -- 2: a repair re-ask quoting the first answer's errors
    PRIMARY KEY (request_key, job_id)
);
CREATE INDEX IF NOT EXISTS batch_requests_by_job ON batch_requests (job_id);
"""

PAGE_COLUMNS = (
    "doc_id", "page_index", "status", "render_key", "image_path", "image_sha256",
    "width", "height", "rotation", "text_chars", "enhanced", "phash", "reason", "seconds",
)

# The review app's tables (python -m pipeline.review): created by its first start, ignored by older
# docdistill (no SCHEMA_VERSION change: nothing existing changes meaning). Verdicts are only ever
# added, never updated or deleted: they are the audit trail, and teacher labels stay as stored.
REVIEW_TABLES = ("review_verdicts", "review_items", "review_progress")
REVIEW_SCHEMA = """
CREATE TABLE IF NOT EXISTS review_verdicts (
    verdict_id INTEGER PRIMARY KEY AUTOINCREMENT,
    image_sha256 TEXT NOT NULL,        -- labels belong to images: a verdict covers every page with this image
    task TEXT NOT NULL,
    revision INTEGER NOT NULL,         -- 1, 2, ... per (image, task): a save based on an older one is a conflict
    doc_id TEXT NOT NULL,
    page_index INTEGER NOT NULL,
    verdict TEXT NOT NULL,             -- accept | edit | reject | skip
    reason TEXT NOT NULL DEFAULT '',   -- reject: why
    reviewer TEXT NOT NULL,
    request_key TEXT NOT NULL DEFAULT '',   -- the stored teacher answer reviewed ('' when there is none)
    prompt_hash TEXT NOT NULL,
    schema_hash TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',   -- where label_before came from: teacher/model, review, prefill:...
    label_before TEXT,                 -- JSON
    label_after TEXT,                  -- JSON: the label that counts (accept, edit)
    diff TEXT NOT NULL DEFAULT '[]',   -- JSON list of {path, before, after}
    created_at REAL NOT NULL,
    UNIQUE (image_sha256, task, revision)
);
CREATE TABLE IF NOT EXISTS review_items (
    queue TEXT NOT NULL,
    position INTEGER NOT NULL,
    doc_id TEXT NOT NULL,
    page_index INTEGER NOT NULL,
    task TEXT NOT NULL,
    image_sha256 TEXT NOT NULL,
    why TEXT NOT NULL DEFAULT '',
    done INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (queue, position)
);
CREATE INDEX IF NOT EXISTS review_items_todo ON review_items (queue, done, position);
CREATE INDEX IF NOT EXISTS review_items_by_label ON review_items (image_sha256, task);
CREATE TABLE IF NOT EXISTS review_progress (
    queue TEXT PRIMARY KEY,
    rank INTEGER NOT NULL,
    total INTEGER NOT NULL,
    done INTEGER NOT NULL
);
"""

# The privacy gate's audit trail: one row per page it decided, by kind, class and action; never a value.
REDACTED_DIR = "redacted"      # in the run folder: the masked images sent for redacted pages, by content
PRIVACY_SCHEMA = """
CREATE TABLE IF NOT EXISTS privacy_pages (
    doc_id TEXT NOT NULL,
    page_index INTEGER NOT NULL,
    image_sha256 TEXT NOT NULL,
    policy TEXT NOT NULL,                 -- the policy's digest: a changed policy shows
    source TEXT NOT NULL,                 -- text (text layer) | ocr | none
    action TEXT NOT NULL,                 -- allow | redact | block
    findings TEXT NOT NULL DEFAULT '[]',  -- [{kind, class, action, spans}]
    span_count INTEGER NOT NULL DEFAULT 0,
    masked_boxes TEXT NOT NULL DEFAULT '[]',  -- hashes of (image, box) of every masked box
    detail TEXT NOT NULL DEFAULT '',
    updated_at REAL NOT NULL,
    redacted_image TEXT NOT NULL DEFAULT '',  -- the masked image sent (redacted/ab/<sha256>.png), if redacted
    PRIMARY KEY (doc_id, page_index)
);
"""
