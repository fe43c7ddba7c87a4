"""Rounds: train -> predict -> evaluate -> mine -> retrain, one resumable command (``python -m pipeline.round``).

Everything a round writes lives in the dataset folder, so it stays self-contained: ``rounds/round_N/``
(its YAMLs, logs, launch states, evaluation folders), ``saves/<name>_rN/`` (its adapter and
predictions), the mined sets ``<name>_mined_rN_{hard,regression}.json`` registered in
``dataset_info.json``, and ``rounds/history.json`` + ``rounds/report.html``. Each step is skipped
when its output exists, so a killed round continues where it stopped.
"""

from pipeline.rounds.config import RoundConfig
from pipeline.rounds.run import run_round

__all__ = ["RoundConfig", "run_round"]
