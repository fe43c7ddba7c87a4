"""What every entry point shares (pipeline.cli): --help that documents each flag, its default and the
exit codes; the --out check that names the real cause."""

from __future__ import annotations

import argparse
import importlib
import os
from pathlib import Path

import pytest

from pipeline.errors import ConfigError

COMMANDS = ("distill", "build_dataset", "evaluate", "merge", "round")


@pytest.mark.parametrize("command", COMMANDS)
def test_help_documents_every_flag_its_default_and_the_exit_codes(command):
    parser: argparse.ArgumentParser = importlib.import_module(f"pipeline.{command}").build_parser()
    formatter = parser._get_formatter()
    for action in parser._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"{command} {action.option_strings[0]} has no help text"
        shown = formatter._get_help_string(action) % {"default": action.default}
        if action.default not in (None, False, []):
            assert "default" in shown, f"{command} {action.option_strings[0]}: default {action.default!r} not shown"
    text = parser.format_help()
    assert "``" not in text                                     # no reST markup in a terminal
    assert "exit codes:" in text and "\n  130 " in text and "\n  2    bad configuration" in text


def test_distill_help_lists_tasks_and_default_models():
    from pipeline.distill import build_parser
    from pipeline.tasks import builtin_task_names
    from pipeline.teachers import DEFAULT_MODELS

    text = " ".join(build_parser().format_help().split())
    assert all(name in text for name in builtin_task_names())
    assert all(f"{teacher} {model}" in text for teacher, model in DEFAULT_MODELS.items() if model)


def test_out_check_names_the_cause_and_leaves_no_trace(tmp_path):
    from pipeline.cli import check_out_dir

    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        check_out_dir(tmp_path / "file")
    with pytest.raises(ConfigError, match="cannot be created: .*file is a file, not a folder"):
        check_out_dir(tmp_path / "file" / "run", "--mine")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="broken symbolic link"):
        check_out_dir(tmp_path / "dangling" / "run")
    check_out_dir(tmp_path / "new" / "deeper")                  # creatable: fine, and not created yet
    check_out_dir(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dangling", "file"]
    sysfs = Path("/sys/docdistill-write-probe")
    try:
        os.mkdir(sysfs)
    except OSError:
        with pytest.raises(ConfigError, match="is not writable"):
            check_out_dir(sysfs / "run")
    else:
        os.rmdir(sysfs)
        pytest.skip("no read-only place here: /sys accepts new folders")
