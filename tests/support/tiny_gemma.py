"""Build a tiny, randomly initialised Gemma 3 (vision + text) checkpoint offline, for smoke tests.

The checkpoint has the same *shape of interfaces* as google/gemma-3-4b-it (Gemma3ForConditionalGeneration,
Gemma3Processor, a Gemma BPE tokenizer with the <start_of_image>/<image_soft_token>/<end_of_image> and
<start_of_turn>/<end_of_turn> special tokens, Gemma's chat template) but is a few MB and trains in seconds on a CPU:
text hidden 64 / 2 layers, vision hidden 32 / 1 layer, 64-px images, 8-px patches, 4 soft tokens per image.
Nothing is downloaded: the tokenizer is trained with the `tokenizers` library on a built-in text.

torch / transformers / tokenizers are imported inside the function, so importing this module is free.

    python tests/support/tiny_gemma.py /tmp/tiny-gemma3
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

IMAGE_SIZE = 64
PATCH_SIZE = 8
MM_TOKENS_PER_IMAGE = 4  # (IMAGE_SIZE / PATCH_SIZE) must be divisible by sqrt(MM_TOKENS_PER_IMAGE)
VOCAB_SIZE = 1536  # upper bound for the BPE; the built-in corpus saturates at 966 (10 specials + 256 bytes + 700)

BOI, EOI, IMAGE_SOFT = "<start_of_image>", "<end_of_image>", "<image_soft_token>"
SOT, EOT = "<start_of_turn>", "<end_of_turn>"
PAD, EOS, BOS, UNK, MASK = "<pad>", "<eos>", "<bos>", "<unk>", "<mask>"
# Same relative order as the real Gemma vocabulary: pad=0, eos=1, bos=2, unk=3, mask=4, then the turn/image markers.
SPECIAL_TOKENS = [PAD, EOS, BOS, UNK, MASK, SOT, EOT, BOI, EOI, IMAGE_SOFT]
BYTE_TOKENS = [f"<0x{i:02X}>" for i in range(256)]  # byte fallback, as in Gemma's tokenizer

# Gemma 3's chat template (google/gemma-3-*-it): system text folded into the first user turn, "model" role,
# images as <start_of_image> (the processor expands it into BOI + soft tokens + EOI).
GEMMA3_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- if messages[0]['role'] == 'system' -%}"
    "{%- if messages[0]['content'] is string -%}"
    "{%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}"
    "{%- else -%}"
    "{%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}"
    "{%- endif -%}"
    "{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}"
    '{%- set first_user_prefix = "" -%}'
    "{%- set loop_messages = messages -%}"
    "{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}"
    '{{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}'
    "{%- endif -%}"
    "{%- if (message['role'] == 'assistant') -%}"
    '{%- set role = "model" -%}'
    "{%- else -%}"
    "{%- set role = message['role'] -%}"
    "{%- endif -%}"
    "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else \"\") }}"
    "{%- if message['content'] is string -%}"
    "{{ message['content'] | trim }}"
    "{%- elif message['content'] is iterable -%}"
    "{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'image' -%}"
    "{{ '<start_of_image>' }}"
    "{%- elif item['type'] == 'text' -%}"
    "{{ item['text'] | trim }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- else -%}"
    '{{ raise_exception("Invalid content type") }}'
    "{%- endif -%}"
    "{{ '<end_of_turn>\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{ '<start_of_turn>model\n' }}"
    "{%- endif -%}"
)

# Training text for the tiny BPE: English document words, JSON punctuation, digits, Arabic letters and words.
_CORPUS = """
Transcribe this document page. Return JSON with the keys languages, markdown, tables and fields.
{"languages": ["en"], "markdown": "# Invoice\\n\\nInvoice number: 2024-0042\\nDate: 12/03/2024"}
{"languages": ["ar", "en"], "markdown": "## فاتورة\\n\\n| Item | Qty | Price |\\n|---|---|---|\\n| Paper | 2 | 10.50 |"}
{"fields": {"total": "1,234.56", "currency": "USD", "vendor": "ACME Ltd."}, "tables": [], "pages": 1}
Invoice Receipt Contract Letter Report Statement Form Table Total Subtotal Tax Amount Due Paid Balance
Name Address Phone Email Date Number Page Section Title Heading Paragraph Signature Stamp Account Bank
The quick brown fox jumps over the lazy dog. Please find attached the document for your review.
أ ب ت ث ج ح خ د ذ ر ز س ش ص ض ط ظ ع غ ف ق ك ل م ن ه و ي ء ة ى ئ ؤ إ آ
بسم الله الرحمن الرحيم. فاتورة رقم ٢٠٢٤ التاريخ المبلغ الإجمالي الضريبة العميل العنوان الهاتف
شركة عقد رسالة تقرير كشف حساب البنك الاسم التوقيع الصفحة الجدول المجموع المدفوع الرصيد المستحق
0 1 2 3 4 5 6 7 8 9 ٠ ١ ٢ ٣ ٤ ٥ ٦ ٧ ٨ ٩ 10 25 50 100 2023 2024 2025 3.14 99.99 1,000
{ } [ ] ( ) < > " ' : ; , . ! ? - _ = + * / \\ | # @ & % $ ` ~ ^ \\n \\t null true false
"""


def _train_bpe(vocab_size: int) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Train a Gemma-style BPE (spaces -> '▁', split on spaces, byte fallback); return (vocab, merges)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token=UNK, byte_fallback=True))
    tok.normalizer = normalizers.Replace(" ", "▁")
    tok.pre_tokenizer = pre_tokenizers.Split(pattern="▁", behavior="merged_with_previous")
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(SPECIAL_TOKENS) - len(BYTE_TOKENS),
        min_frequency=1,
        special_tokens=[],
        show_progress=False,
    )
    lines = [line for line in _CORPUS.strip().splitlines() if line.strip()]
    tok.train_from_iterator(lines * 4, trainer=trainer)
    model = json.loads(tok.to_str())["model"]
    learned = sorted(model["vocab"].items(), key=lambda kv: kv[1])
    vocab: dict[str, int] = {}
    for token in [*SPECIAL_TOKENS, *BYTE_TOKENS]:
        vocab[token] = len(vocab)
    for token, _ in learned:
        if token not in vocab:
            vocab[token] = len(vocab)
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return vocab, merges


def build_tiny_gemma3(out_dir: Path) -> Path:
    """Save a tiny random Gemma3ForConditionalGeneration + Gemma3Processor to ``out_dir``; return ``out_dir``.

    Deterministic (fixed seed, fixed corpus), offline, a few seconds on a CPU.
    """
    import torch
    from transformers import (
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3ImageProcessor,
        Gemma3Processor,
        Gemma3TextConfig,
        GemmaTokenizer,
        SiglipVisionConfig,
    )

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    vocab, merges = _train_bpe(VOCAB_SIZE)
    tokenizer = GemmaTokenizer(
        vocab=vocab,
        merges=merges,
        unk_token=UNK,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        mask_token=MASK,
        add_bos_token=True,
        add_eos_token=False,
        additional_special_tokens=[SOT, EOT],
        extra_special_tokens={"boi_token": BOI, "eoi_token": EOI, "image_token": IMAGE_SOFT},
        chat_template=GEMMA3_CHAT_TEMPLATE,
        model_max_length=4096,
    )
    # Make sure every marker is a single, unsplittable token with its vocabulary id.
    tokenizer.add_special_tokens({"additional_special_tokens": [SOT, EOT]})
    for token in SPECIAL_TOKENS:
        ids = tokenizer.encode(token, add_special_tokens=False)
        if ids != [vocab[token]]:
            raise RuntimeError(f"special token {token!r} encodes to {ids}, expected [{vocab[token]}]")

    image_processor = Gemma3ImageProcessor(
        size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        do_pan_and_scan=False,
        do_resize=True,
        do_rescale=True,
        do_normalize=True,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    processor = Gemma3Processor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        chat_template=GEMMA3_CHAT_TEMPLATE,
        image_seq_length=MM_TOKENS_PER_IMAGE,
    )

    text_config = Gemma3TextConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        max_position_embeddings=4096,
        sliding_window=128,
        layer_types=["sliding_attention", "full_attention"],
        pad_token_id=vocab[PAD],
        bos_token_id=vocab[BOS],
        eos_token_id=[vocab[EOS], vocab[EOT]],
    )
    vision_config = SiglipVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=IMAGE_SIZE,
        patch_size=PATCH_SIZE,
        vision_use_head=False,
    )
    config = Gemma3Config(
        text_config=text_config,
        vision_config=vision_config,
        mm_tokens_per_image=MM_TOKENS_PER_IMAGE,
        boi_token_index=vocab[BOI],
        eoi_token_index=vocab[EOI],
        image_token_index=vocab[IMAGE_SOFT],
        pad_token_id=vocab[PAD],
        bos_token_id=vocab[BOS],
        eos_token_id=[vocab[EOS], vocab[EOT]],
    )

    torch.manual_seed(0)
    model = Gemma3ForConditionalGeneration(config).to(torch.float32).eval()
    model.generation_config.pad_token_id = vocab[PAD]
    model.generation_config.bos_token_id = vocab[BOS]
    model.generation_config.eos_token_id = [vocab[EOS], vocab[EOT]]
    model.save_pretrained(out_dir, safe_serialization=True)
    processor.save_pretrained(out_dir)
    return out_dir


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/support/tiny_gemma.py OUT_DIR")
    print(build_tiny_gemma3(Path(sys.argv[1])))
