"""Checking a generated YAML with LLaMA-Factory's own argument parser (when the train extra is there).

Without LLaMA-Factory installed, validation is skipped and the YAML says so; with it, an
unknown key or a bad value is an error before any YAML is written.
"""

from __future__ import annotations

import contextlib
import os
import sys

from pipeline.errors import ConfigError


class ValidationFailed(ConfigError):
    """LLaMA-Factory's parser rejected the configuration."""


def validate(config: dict, kind: str = "train") -> str:
    """'validated by LLaMA-Factory X' or 'validation skipped (...)'; raises ValidationFailed.

    ``kind`` picks the parser: "train" (train and predict YAMLs) or "infer" (export and api YAMLs).

    Uses the parser's pure key/type check: it needs no model, dataset, GPU or network, and has no
    side effects on the output folder (the full ``get_train_args`` would resume from checkpoints).
    """
    os.environ.setdefault("DISABLE_VERSION_CHECK", "1")  # its import-time check of its own pins
    try:
        # LLaMA-Factory's loggers write to stdout, which belongs to our --json summary.
        with contextlib.redirect_stdout(sys.stderr):
            import llamafactory
            from llamafactory.hparams.parser import _parse_infer_args, _parse_train_args
    except Exception as exc:  # not installed, or a broken torch: the YAML is still written, unvalidated
        return (f"validation skipped: LLaMA-Factory not importable ({type(exc).__name__}); "
                "install the train extra: pip install -e '.[train]'")
    checked, note = dict(config), ""
    if checked.get("bf16") or checked.get("fp16"):
        import torch

        if not torch.cuda.is_available():
            # The parser refuses bf16 without a GPU; the YAML is for the GPU box, so check the rest.
            checked.update(bf16=False, fp16=False)
            note = " (bf16/fp16 not checked: no GPU here)"
    if checked.pop("deepspeed", None):
        # TrainingArguments would import DeepSpeed and read the JSON: both belong to the GPU box.
        note += " (deepspeed file not checked here)"
    try:
        with contextlib.redirect_stdout(sys.stderr):
            (_parse_infer_args if kind == "infer" else _parse_train_args)(checked)
    except (ValueError, TypeError) as exc:
        said = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValidationFailed(f"LLaMA-Factory rejects the YAML: {said}") from exc
    return f"validated by LLaMA-Factory {llamafactory.__version__}{note}"
