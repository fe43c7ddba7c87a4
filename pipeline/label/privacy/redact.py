"""Redact, then restore: typed placeholders drawn over each span and put in the anchor text, and the
original values put back into the teacher's label locally.

The same value on a page gets the same placeholder (``[EMAIL_1]`` twice); ``restore`` checks that
each comes back exactly: in a task that transcribes the page, as often as it was masked; in any
task, never altered (``[EMAIL l]``) nor more often than masked. Values stay in memory only.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field

from pipeline.label.privacy.pagewords import Box

TAGS = {"email": "EMAIL", "phone": "PHONE", "iban": "IBAN", "card": "CARD", "national_id_eg": "NATIONAL_ID",
        "ssn": "SSN", "passport": "PASSPORT", "dob": "DOB"}
# Anything that looks like one of our placeholders, however mangled (spaces, other brackets, case).
_LOOSE = re.compile(r"(?i)[\[(<{]\s*(?:" + "|".join(t.replace("_", r"[\s_-]?") for t in TAGS.values())
                    + r")[\s_-]*[0-9a-z]{0,3}\s*[\])>}]")


@dataclass
class Mask:
    placeholder: str
    kind: str
    value: str = field(repr=False)        # never stored, never logged
    boxes: list[Box] = field(default_factory=list)
    occurrences: int = 1

    def box_hashes(self, image_sha256: str) -> list[str]:
        return [hashlib.sha256(f"{image_sha256}:{b}".encode()).hexdigest()[:16] for b in self.boxes]


def _compact(value: str) -> str:
    return re.sub(r"\s+", "", value).lower()


def assign_placeholders(items: list[tuple[str, str, list[Box]]]) -> list[Mask]:
    """(kind, value, boxes) -> one Mask per distinct value of a kind, numbered per kind in page order.

    >>> [(m.placeholder, m.occurrences) for m in assign_placeholders([("email", "a@b.co", []), ("phone", "1 2", []),
    ...                                                             ("email", "a@b.co", [])])]
    [('[EMAIL_1]', 2), ('[PHONE_1]', 1)]
    """
    masks: dict[tuple[str, str], Mask] = {}
    counts: dict[str, int] = {}
    for kind, value, boxes in items:
        key = (kind, _compact(value))
        if key in masks:
            masks[key].occurrences += 1
            masks[key].boxes += boxes
            continue
        counts[kind] = counts.get(kind, 0) + 1
        masks[key] = Mask(f"[{TAGS[kind]}_{counts[kind]}]", kind, value, list(boxes))
    return list(masks.values())


def redact_text(text: str, masks: list[Mask]) -> str:
    """``text`` with each mask's value (any spacing) replaced by its placeholder.

    >>> redact_text("IBAN DE89  3704 0044, again DE89 3704 0044", [Mask("[IBAN_1]", "iban", "DE89 3704 0044")])
    'IBAN [IBAN_1], again [IBAN_1]'
    """
    for mask in sorted(masks, key=lambda m: -len(m.value)):
        pattern = r"\s*".join(re.escape(ch) for ch in re.sub(r"\s+", "", mask.value))
        text = re.sub(pattern, lambda _m, p=mask.placeholder: p, text)
    return text


def leaks(text: str, masks: list[Mask]) -> bool:
    """Whether any masked value is still in ``text`` (spacing ignored)."""
    flat = _compact(text)
    return any(_compact(m.value) in flat for m in masks)


def mask_image(image: bytes, masks: list[Mask]) -> bytes:
    """The page image with each box filled white, outlined, and its placeholder written in it."""
    from PIL import Image, ImageDraw, ImageFont

    with Image.open(io.BytesIO(image)) as src:
        fmt = src.format or "PNG"
        img = src.convert("RGB") if src.mode not in ("RGB", "L") else src.copy()
    draw = ImageDraw.Draw(img)
    ink, paper = (0 if img.mode == "L" else (0, 0, 0)), (255 if img.mode == "L" else (255, 255, 255))
    for mask in masks:
        for i, (x0, y0, x1, y1) in enumerate(mask.boxes):
            pad = max(1, (y1 - y0) // 8)
            x0, y0, x1, y1 = max(0, x0 - pad), max(0, y0 - pad), min(img.width, x1 + pad), min(img.height, y1 + pad)
            size = max(6, int((y1 - y0) * 0.8))
            font = ImageFont.load_default(size=size)
            width = draw.textlength(mask.placeholder, font=font)
            if width > x1 - x0:   # the placeholder must be legible: widen the mask (more is hidden, never less)
                x1 = min(img.width, int(x0 + width + 2 * pad))
            draw.rectangle((x0, y0, x1, y1), fill=paper, outline=ink)
            if i == 0 or len(mask.boxes) > 1:
                draw.text((x0 + pad, (y0 + y1) / 2), mask.placeholder, fill=ink, font=font, anchor="lm")
    out = io.BytesIO()
    img.save(out, format="JPEG" if fmt == "JPEG" else "PNG", **({"quality": 92} if fmt == "JPEG" else {}))
    return out.getvalue()


def _strings(obj, fn):
    if isinstance(obj, str):
        return fn(obj)
    if isinstance(obj, list):
        return [_strings(v, fn) for v in obj]
    if isinstance(obj, dict):
        return {k: _strings(v, fn) for k, v in obj.items()}
    return obj


def restore(label: dict, masks: list[Mask], transcribing: bool) -> tuple[dict, list[str]]:
    """The label with every placeholder replaced by its value, and what did not come back exactly.

    Counted per top-level field (a content label transcribes the page in ``markdown`` and again in
    ``elements``): no field may hold a placeholder more often than it was masked, and in a
    transcribing task some field must hold each exactly as often.

    >>> m = [Mask("[EMAIL_1]", "email", "a@b.co")]
    >>> restore({"markdown": "mail [EMAIL_1]", "elements": ["[EMAIL_1]"]}, m, True)
    ({'markdown': 'mail a@b.co', 'elements': ['a@b.co']}, [])
    >>> restore({"markdown": "mail [EMAIL 1]"}, m, True)[1]
    ['[EMAIL_1] missing (0 of 1)', 'altered placeholder [EMAIL 1]']
    """
    known = {m.placeholder for m in masks}
    found: dict[str, dict[str, int]] = {}
    odd: list[str] = []
    for key, value in label.items():
        def count(text: str, key=key) -> str:
            for match in _LOOSE.finditer(text):
                token = match.group()
                if token in known:
                    found.setdefault(key, {}).setdefault(token, 0)
                    found[key][token] += 1
                else:
                    odd.append(token)
            return text
        _strings(value, count)
    problems = []
    for mask in masks:
        n = max((counts.get(mask.placeholder, 0) for counts in found.values()), default=0)
        if n > mask.occurrences or (transcribing and n < mask.occurrences):
            problems.append(f"{mask.placeholder} {'missing' if n < mask.occurrences else 'duplicated'} "
                            f"({n} of {mask.occurrences})")
    problems += [f"altered placeholder {token}" for token in odd]
    by_placeholder = {m.placeholder: m.value for m in masks}
    restored = _strings(label, lambda s: re.sub(r"\[[A-Z_]+_\d+\]", lambda m: by_placeholder.get(m.group(),
                                                                                              m.group()), s))
    return restored, problems
