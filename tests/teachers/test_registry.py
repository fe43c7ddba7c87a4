"""The teacher registry: the default models --help shows are the teachers' own."""

from __future__ import annotations

import importlib

from pipeline.teachers import _MODULES, DEFAULT_MODELS, TEACHER_NAMES, TEACHERS


def test_default_models_table_matches_the_teacher_classes():
    for module in set(_MODULES.values()):
        importlib.import_module(module)
    assert set(DEFAULT_MODELS) == set(TEACHER_NAMES)
    assert {name: TEACHERS[name].default_model for name in TEACHER_NAMES} == DEFAULT_MODELS
