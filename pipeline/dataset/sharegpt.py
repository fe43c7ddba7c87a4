"""Labels -> LLaMA-Factory ShareGPT records, with the checks that keep training from crashing.

LLaMA-Factory counts ``<image>`` tags against the images list, and cuts over-long samples at
``cutoff_len`` even through image tokens ("Image features and image tokens do not match"): both
are prevented here, before anything is written.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2

# LLaMA-Factory's placeholder tags: a literal one in label text would break its tag/media count check.
MEDIA_TAGS = ("<image>", "<video>", "<audio>")
IMAGE_TOKENS = {"gemma3": 256}  # Gemma 3 sees 896x896 as 256 soft tokens, whatever the page size
TEMPLATE_OVERHEAD_TOKENS = 16    # turn markers, bos/eos


def escape_media_tags(label_json: str) -> str:
    """The assistant turn: label JSON with media tags escaped (JSON still decodes them back).

    >>> text = escape_media_tags(json.dumps({"markdown": "a <image> tag"}))
    >>> "<image>" in text, json.loads(text)["markdown"]
    (False, 'a <image> tag')
    """
    if "<" not in label_json:  # the common case, checked once
        return label_json
    for tag in MEDIA_TAGS:
        label_json = label_json.replace(tag, "\\u003c" + tag[1:])
    return label_json


def estimate_tokens(text: str) -> int:
    """A deliberately high token estimate (3 UTF-8 bytes per token: Arabic letters are 2 bytes and
    tokenise worse than English), so a sample kept here is never cut by LLaMA-Factory.

    >>> estimate_tokens("abcdef"), estimate_tokens("مرحبا")
    (2, 4)
    """
    return math.ceil(len(text.encode("utf-8")) / 3)


def image_tokens(template: str, width: int, height: int) -> int:
    """Image tokens the student spends on one page (Qwen-VL style templates: one per 28x28 patch).

    >>> image_tokens("gemma3", 1187, 1536), image_tokens("qwen2_vl", 896, 1176)
    (256, 1344)
    """
    if template in IMAGE_TOKENS:
        return IMAGE_TOKENS[template]
    return math.ceil(width / 28) * math.ceil(height / 28)


@dataclass(slots=True)
class Sample:
    split: str
    task: str
    doc_id: str
    page_index: int
    image: str            # relative to the run folder
    prompt: str
    answer: str           # the label as JSON text
    tokens: int           # estimated length: image tokens + prompt + answer

    def record_json(self, image: str, system_prompt: str | None = None) -> str:
        """The record as one JSON line, assembled from encoded strings (this runs once per record).

        >>> json.loads(Sample("train", "t", "d", 0, "a.jpg", "Read it.", '{"x": 1}', 300).record_json("a.jpg"))
        {'conversations': [{'from': 'human', 'value': '<image>Read it.'}, {'from': 'gpt', 'value': '{"x": 1}'}], \
'images': ['a.jpg']}
        """
        system = f', "system": {_string(system_prompt)}' if system_prompt else ""
        return (f'{{"conversations": [{{"from": "human", "value": {_string("<image>" + self.prompt)}}}, '
                f'{{"from": "gpt", "value": {_string(self.answer)}}}], "images": [{_string(image)}]{system}}}')


# json.dumps(text, ensure_ascii=False) for a str, minus its Python-level dispatch (once per field per record).
_string = json.encoder.encode_basestring


def place_image(source: str, target: str, max_side: int | None) -> None:
    """Put a page image into the dataset: resized copy when asked, else hard link (copy across disks).
    The target's folder must exist. Paths are strings: this runs once per record. A missing source
    raises FileNotFoundError (the caller counts it: no separate existence check)."""
    if not max_side:
        try:
            os.link(source, target)  # atomic by itself: the name appears whole or not at all
        except FileExistsError:
            pass
        except OSError:  # another file system: copy, then rename into place
            shutil.copyfile(source, f"{target}.{os.getpid()}.tmp")
            os.replace(f"{target}.{os.getpid()}.tmp", target)
        return
    if os.path.exists(target):
        return
    image = cv2.imread(source, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise FileNotFoundError(f"cannot read page image {source}")
    data = resized_copy(image, max_side, os.path.splitext(target)[1])
    tmp = f"{target}.{os.getpid()}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, target)


def resized_copy(image, max_side: int, suffix: str) -> bytes:
    """A decoded page image as ``--max-image-side`` puts it into the dataset: longest side at most
    ``max_side`` (INTER_AREA), encoded as JPEG quality 90 (``.jpg``) or fast PNG. Re-encoded even when
    already small enough, so the student's inputs at extract time (pipeline.student) are these bytes too.

    >>> import numpy as np
    >>> data = resized_copy(np.full((200, 100), 128, np.uint8), 64, ".jpg")
    >>> data[:2], cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED).shape
    (b'\\xff\\xd8', (64, 32))
    """
    scale = max_side / max(image.shape[:2])
    if scale < 1:
        image = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                           interpolation=cv2.INTER_AREA)
    params = [cv2.IMWRITE_JPEG_QUALITY, 90] if suffix == ".jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 1]
    ok, data = cv2.imencode(suffix, image, params)
    if not ok:
        raise OSError(f"cannot encode a {suffix} page image")
    return data.tobytes()


def dataset_info_entry(file_name: str, with_system: bool) -> dict:
    columns = {"messages": "conversations", "images": "images"}
    if with_system:
        columns["system"] = "system"
    return {"file_name": file_name, "formatting": "sharegpt", "columns": columns,
            "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
                     "system_tag": "system"}}


def merge_dataset_info(path: Path, entries: dict[str, dict]) -> None:
    """Add or replace our entries in dataset_info.json, keeping every other entry as it was."""
    existing: dict = {}
    if path.exists():
        try:
            existing = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not valid JSON ({exc}); fix or delete it") from exc
    existing.update(entries)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(existing, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


class JsonArrayWriter:
    """Writes a JSON array one element at a time (atomically renamed into place on close)."""

    def __init__(self, path: Path):
        self.path, self.tmp = path, path.with_name(f".{path.name}.tmp")
        self.count = 0

    def __enter__(self) -> JsonArrayWriter:
        self.fh = open(self.tmp, "w", encoding="utf-8")
        self.fh.write("[")
        return self

    def write(self, line: str) -> None:
        self.fh.write(("\n" if self.count == 0 else ",\n") + line)
        self.count += 1

    def __exit__(self, exc_type, *exc) -> None:
        self.fh.write("\n]\n")
        self.fh.close()
        if exc_type is None:
            self.tmp.replace(self.path)
        else:
            self.tmp.unlink(missing_ok=True)
