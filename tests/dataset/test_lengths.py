"""The length estimate follows the YAML's model when its folder is readable (dataset.lengths)."""

from __future__ import annotations

import json

import pytest

from pipeline.dataset.lengths import GEMMA_IMAGE_WRAP_TOKENS, lengths_for
from pipeline.dataset.sharegpt import estimate_tokens


def test_a_hub_id_keeps_the_template_constants(tmp_path):
    lengths = lengths_for("google/gemma-3-4b-it", "gemma3", base=tmp_path)
    assert lengths.source == "template constants" and lengths.image_tokens(896, 896) == 256
    assert lengths.text_tokens("abcdef") == estimate_tokens("abcdef")


def test_a_gemma_style_folder_sets_image_tokens_and_its_tokenizer_counts_text(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    model = tmp_path / "models" / "tiny"
    model.mkdir(parents=True)
    (model / "processor_config.json").write_text(json.dumps({"image_seq_length": 4}))
    vocab = {"[UNK]": 0, "read": 1, "it": 2, ".": 3}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tok.save(str(model / "tokenizer.json"))
    lengths = lengths_for("models/tiny", "gemma3", base=tmp_path)      # relative to the YAML's folder
    assert lengths.image_tokens(4000, 3000) == 4 + GEMMA_IMAGE_WRAP_TOKENS
    assert lengths.text_tokens("read it .") == 3 and "its tokenizer" in lengths.source


def test_a_qwen_style_folder_counts_patches_under_max_pixels(tmp_path):
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"patch_size": 14, "merge_size": 2,
                                                                   "max_pixels": 28 * 28 * 64}))
    lengths = lengths_for(str(tmp_path), "qwen2_vl")
    assert lengths.image_tokens(280, 280) == 100 - 36       # 100 patches, resized under 64 of them
    assert lengths_for(str(tmp_path), "qwen2_vl", image_max_pixels=28 * 28 * 400).image_tokens(280, 280) == 100
