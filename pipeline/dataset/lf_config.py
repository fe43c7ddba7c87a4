"""LLaMA-Factory YAML: presets from llamafactory_configs/, overrides, flat output, validation.

LLaMA-Factory 0.9.5 reads only flat keys (a nested ``model:`` / ``train:`` layout fails with
"Please provide `model_name_or_path`") and rejects unknown ones, so presets are flat files, a
preset may extend another with ``base:``, and the generated file is grouped by comments only.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from pipeline.errors import ConfigError

PRESETS_DIR = Path(os.environ.get("DOCDISTILL_LF_CONFIGS",
                                  Path(__file__).resolve().parents[2] / "llamafactory_configs"))
DEFAULT_PRESET = "gemma3"
# Crashes LLaMA-Factory 0.9.5's Gemma 3 processor: never written.
FORBIDDEN_KEYS = {"image_do_pan_and_scan": "it crashes LLaMA-Factory 0.9.5"}
GROUPS = {
    "model": ("model_name_or_path", "adapter_name_or_path", "trust_remote_code", "quantization_bit",
              "quantization_method", "image_max_pixels", "image_min_pixels", "infer_backend"),
    "method": ("stage", "do_train", "do_predict", "predict_with_generate", "finetuning_type", "lora_rank",
               "lora_alpha", "lora_dropout", "lora_target", "freeze_vision_tower", "freeze_multi_modal_projector",
               "freeze_language_model"),
    "dataset": ("dataset", "eval_dataset", "dataset_dir", "media_dir", "template", "cutoff_len", "max_samples",
                "overwrite_cache", "preprocessing_num_workers", "dataloader_num_workers"),
    "output": ("output_dir", "logging_steps", "save_steps", "plot_loss", "overwrite_output_dir",
               "save_only_model", "report_to", "run_name"),
    "train": ("per_device_train_batch_size", "gradient_accumulation_steps", "learning_rate", "num_train_epochs",
              "max_steps", "lr_scheduler_type", "warmup_steps", "warmup_ratio", "bf16", "fp16", "use_cpu", "seed", "deepspeed"),
    "eval": ("per_device_eval_batch_size", "eval_strategy", "eval_steps", "max_new_tokens", "temperature",
             "do_sample"),
    "export": ("export_dir", "export_size", "export_device", "export_legacy_format"),
}


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def load_preset(name: str, _seen: tuple[str, ...] = ()) -> dict:
    """A preset's flat keys, its ``base:`` chain resolved (later files win)."""
    path = PRESETS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown preset {name!r}: use one of {', '.join(preset_names())}")
    if name in _seen:
        raise ConfigError(f"preset {name!r} extends itself through {' -> '.join(_seen)}")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    nested = [k for k, v in data.items() if isinstance(v, dict)]
    if nested:
        raise ConfigError(f"preset {path} nests keys under {', '.join(nested)}: LLaMA-Factory needs flat keys")
    base = data.pop("base", None)
    return {**(load_preset(base, (*_seen, name)) if base else {}), **data}


def parse_overrides(items: list[str]) -> dict:
    """``key=value`` strings -> typed values (YAML rules: numbers, booleans, null).

    >>> parse_overrides(["lora_rank=8", "bf16=false", "learning_rate=2e-5", "lora_target=q_proj,v_proj"])
    {'lora_rank': 8, 'bf16': False, 'learning_rate': 2e-05, 'lora_target': 'q_proj,v_proj'}
    """
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set needs key=value, got {item!r}")
        parsed = yaml.safe_load(value) if value.strip() else ""
        if isinstance(parsed, str) and _looks_numeric(parsed):
            parsed = float(parsed)
        out[key.strip()] = parsed
    return out


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_keys(config: dict) -> None:
    for key, why in FORBIDDEN_KEYS.items():
        if key in config:
            raise ConfigError(f"{key} is not allowed: {why}")


def predict_config(train: dict, eval_dataset: str, max_new_tokens: int = 4096, output: str | None = None) -> dict:
    """A generation run of the trained adapter over a split: writes generated_predictions.jsonl
    (into ``output``, default ``<output_dir>/predict``)."""
    keep = ("model_name_or_path", "trust_remote_code", "image_max_pixels", "template", "cutoff_len",
            "dataset_dir", "media_dir", "finetuning_type", "bf16", "fp16", "use_cpu", "quantization_bit",
            "quantization_method")
    config = {k: train[k] for k in keep if k in train}
    config.update({"adapter_name_or_path": train["output_dir"], "stage": "sft", "do_predict": True,
                   "predict_with_generate": True, "eval_dataset": eval_dataset,
                   "output_dir": output or f"{train['output_dir']}/predict", "overwrite_output_dir": True,
                   "per_device_eval_batch_size": 1, "max_new_tokens": max_new_tokens, "report_to": "none"})
    return config


# What generation and merging need from the training YAML: the same model, template and adapter.
_INFERENCE_KEYS = ("model_name_or_path", "trust_remote_code", "image_max_pixels", "image_min_pixels", "template",
                   "finetuning_type")


def export_config(train: dict) -> dict:
    """``llamafactory-cli export``: merge the trained adapter into the base model (a plain HF folder for vLLM).

    Merging needs the unquantized base: a QLoRA adapter is merged into the bf16 model, never into a
    4-bit one (LLaMA-Factory refuses "Cannot merge adapters to a quantized model").

    >>> export_config({"model_name_or_path": "m", "template": "gemma3", "finetuning_type": "lora",
    ...                "quantization_bit": 4, "output_dir": "saves/x"})["export_dir"]
    'saves/x/merged'
    """
    config = {k: train[k] for k in _INFERENCE_KEYS if k in train}
    config.update({"adapter_name_or_path": train["output_dir"], "export_dir": f"{train['output_dir']}/merged",
                   "export_size": 5, "export_device": "cpu", "export_legacy_format": False})
    return config


def api_config(train: dict) -> dict:
    """``API_PORT=8000 llamafactory-cli api``: an OpenAI-compatible server of base model + adapter
    (what ``python -m pipeline.evaluate --endpoint`` and the openai-compatible teacher talk to)."""
    config = {k: train[k] for k in (*_INFERENCE_KEYS, "quantization_bit", "quantization_method") if k in train}
    config.update({"adapter_name_or_path": train["output_dir"], "infer_backend": "huggingface"})
    return config


def api_command(api_yaml: str | Path, model_name: str, port: int = 8000) -> str:
    """How to serve the student for sensitive pages: on 127.0.0.1 only (LLaMA-Factory binds 0.0.0.0 by
    default), under a fixed model name (it answers to any name, and lists ``gpt-3.5-turbo`` unless told;
    ``python -m pipeline.extract --model`` checks the list), and without logging each request body
    (``API_VERBOSE`` defaults to on: every page image, base64, in the log at INFO).

    >>> print(api_command("ds/docdistill_api.yaml", "docdistill"))
    API_HOST=127.0.0.1 API_PORT=8000 API_MODEL_NAME=docdistill API_VERBOSE=0 llamafactory-cli api ds/docdistill_api.yaml
    """
    return (f"API_HOST=127.0.0.1 API_PORT={port} API_MODEL_NAME={model_name} API_VERBOSE=0 "
            f"llamafactory-cli api {api_yaml}")


DEEPSPEED_STAGES = (2, 3)


def deepspeed_config(stage: int) -> dict:
    """A ZeRO-2/3 DeepSpeed JSON whose sizes defer to the Trainer ("auto"), as LLaMA-Factory ships them."""
    if stage not in DEEPSPEED_STAGES:
        raise ConfigError(f"--deepspeed must be one of {', '.join(map(str, DEEPSPEED_STAGES))}, got {stage}")
    zero: dict = {"stage": stage, "overlap_comm": False, "contiguous_gradients": True,
                  "reduce_bucket_size": "auto"}
    if stage == 2:
        zero.update({"allgather_partitions": True, "allgather_bucket_size": 5e8, "reduce_scatter": True,
                     "round_robin_gradients": True})
    else:
        zero.update({"sub_group_size": 1e9, "stage3_prefetch_bucket_size": "auto",
                     "stage3_param_persistence_threshold": "auto", "stage3_max_live_parameters": 1e9,
                     "stage3_max_reuse_distance": 1e9, "stage3_gather_16bit_weights_on_model_save": True})
    return {"train_batch_size": "auto", "train_micro_batch_size_per_gpu": "auto",
            "gradient_accumulation_steps": "auto", "gradient_clipping": "auto", "zero_allow_untested_optimizer": True,
            "fp16": {"enabled": "auto", "loss_scale": 0, "loss_scale_window": 1000, "initial_scale_power": 16,
                     "hysteresis": 2, "min_loss_scale": 1},
            "bf16": {"enabled": "auto"}, "zero_optimization": zero}


def to_yaml(config: dict, header: str) -> str:
    """Flat YAML grouped by comments, in a stable order; bf16 always carries its GPU note."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    placed: set[str] = set()
    for group, keys in (*GROUPS.items(), ("other", tuple(sorted(config)))):
        present = [k for k in keys if k in config and k not in placed]
        if not present:
            continue
        lines += ["", f"### {group}"]
        for key in present:
            placed.add(key)
            if key == "bf16" and config[key]:
                lines.append("# bf16 needs a GPU with bfloat16 support (Ampere or newer); elsewhere use "
                             "bf16: false (fp16: true on older GPUs)")
            lines.append(yaml.safe_dump({key: config[key]}, allow_unicode=True, default_flow_style=False,
                                        sort_keys=False).rstrip())
    return "\n".join(lines) + "\n"
