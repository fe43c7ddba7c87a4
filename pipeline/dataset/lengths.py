"""How long a record is for the model the YAML names: its image tokens and its tokenizer's count.

When ``model_name_or_path`` is a readable folder, its own files decide: ``processor_config.json``
(``image_seq_length``: Gemma 3's soft tokens per image, 256 for gemma-3-4b-it, 4 for the tiny test
model), ``preprocessor_config.json`` (Qwen-VL style: one token per ``patch_size x merge_size`` square
after resizing under ``max_pixels``, or the YAML's ``image_max_pixels``), and ``tokenizer.json``
(the real token count of prompt and answer). Otherwise (a hub id, no folder here) the template's
constants and the deliberately high 3-bytes-per-token estimate of ``sharegpt`` are used, as before.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.dataset.sharegpt import TEMPLATE_OVERHEAD_TOKENS, estimate_tokens, image_tokens

# Gemma 3 wraps the soft tokens: "\n\n" <start_of_image> ... <end_of_image> "\n\n" (counted high).
GEMMA_IMAGE_WRAP_TOKENS = 4


@dataclass
class Lengths:
    """Token lengths for one model: ``sample_tokens(w, h, prompt, answer)`` is what cutoff_len is compared to.

    >>> Lengths("gemma3").sample_tokens(1187, 1536, "Read it.", '{"x": 1}') == 256 + 3 + 3 + 16
    True
    >>> Lengths("qwen2_vl", patch=28, max_pixels=28 * 28 * 100).image_tokens(2800, 2800)
    100
    """

    template: str
    image_seq_length: int | None = None     # fixed tokens per image (Gemma 3 style)
    patch: int | None = None                # one token per patch x patch square (Qwen-VL style)
    max_pixels: int | None = None
    tokenizer: object = field(default=None, repr=False)
    source: str = "template constants"

    def image_tokens(self, width: int, height: int) -> int:
        if self.image_seq_length is not None:
            return self.image_seq_length + GEMMA_IMAGE_WRAP_TOKENS
        if self.patch is not None:
            if self.max_pixels and width * height > self.max_pixels:
                scale = math.sqrt(self.max_pixels / (width * height))
                width, height = math.floor(width * scale), math.floor(height * scale)
            return max(1, round(width / self.patch)) * max(1, round(height / self.patch))
        return image_tokens(self.template, width, height)

    def text_tokens(self, text: str) -> int:
        if self.tokenizer is None:
            return estimate_tokens(text)
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def sample_tokens(self, width: int, height: int, prompt: str, answer: str) -> int:
        return (self.image_tokens(width, height) + self.text_tokens(prompt) + self.text_tokens(answer)
                + TEMPLATE_OVERHEAD_TOKENS)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def lengths_for(model: str | None, template: str, image_max_pixels: int | None = None,
                base: Path | None = None) -> Lengths:
    """The length model for ``model_name_or_path`` (relative paths from ``base``, the YAML's folder)."""
    lengths = Lengths(template, max_pixels=image_max_pixels)
    folder = Path(str(model)) if model else None
    if folder is not None and not folder.is_absolute() and base is not None:
        folder = base / folder
    if folder is None or not folder.is_dir():
        return lengths
    read = []
    processor = _read_json(folder / "processor_config.json")
    preprocessor = _read_json(folder / "preprocessor_config.json")
    if isinstance(processor.get("image_seq_length"), int):
        lengths.image_seq_length = processor["image_seq_length"]
        read.append(f"{lengths.image_seq_length} image tokens")
    elif isinstance(preprocessor.get("image_seq_length"), int):
        lengths.image_seq_length = preprocessor["image_seq_length"]
        read.append(f"{lengths.image_seq_length} image tokens")
    elif isinstance(preprocessor.get("patch_size"), int):
        lengths.patch = preprocessor["patch_size"] * int(preprocessor.get("merge_size") or 1)
        lengths.max_pixels = image_max_pixels or preprocessor.get("max_pixels") or \
            (preprocessor.get("size") or {}).get("longest_edge")
        read.append(f"{lengths.patch}px patches")
    if (folder / "tokenizer.json").is_file():
        try:
            from tokenizers import Tokenizer    # the train extra; without it, the byte estimate

            lengths.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
            read.append("its tokenizer")
        except Exception:   # not installed, or a tokenizer file it cannot read: the high estimate stays
            pass
    if read:
        lengths.source = f"{folder.name}: {', '.join(read)}"
    return lengths
