"""What every ``python -m pipeline.X`` entry point shares: exit codes, --help, the --out check.

The exit codes are the same for every command, so a script can act on them without knowing
which one ran (README: "Exit codes"):

  0    done: everything that could be done is done (skipped files, failed pages, invalid
       answers are recorded outcomes, listed in the summary)
  1    done, with work left that a rerun of the same command continues: transient failures
       (rate_limited, server_error, timeout, connection_error), a --max-cost stop, batch jobs
       not yet collected, endpoint answers that failed transiently
  2    bad configuration or input: fix the command or the input. Found before any work (a bad
       flag value, a missing key, --out a file or not writable, no documents found), or the run
       had nothing usable to show (no page could be rendered, no valid label, nothing to build)
  3    stopped: an error no retry fixes (the provider rejected the key or the model, a dead
       endpoint, a store that cannot be written); everything stored before it is kept
  130  interrupted (Ctrl-C): everything stored is kept; rerun the same command to continue
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import tempfile
from pathlib import Path

from pipeline.store import STORE_FILENAME
from pipeline.errors import ConfigError

EXIT_DONE = 0
EXIT_WORK_LEFT = 1
EXIT_CONFIG = 2
EXIT_STOPPED = 3
EXIT_INTERRUPTED = 130   # 128 + SIGINT, the shell's convention for Ctrl-C

EXIT_CODES_HELP = "exit codes:\n" + "\n".join(__doc__.split("(README: \"Exit codes\"):\n\n", 1)[1].splitlines())


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """--help that shows every flag's default (unless its help already names it) and keeps the
    epilog's line breaks (the exit-code table)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (not action.option_strings or "default" in text or default is None or default is False
                or default == [] or default is argparse.SUPPRESS):
            return text
        return f"{text} (default %(default)s)"


def make_parser(prog: str, doc: str, epilog: str = "") -> argparse.ArgumentParser:
    """The parser every entry point starts from: description from the module docstring's first
    line (without reST markup), the exit-code table as epilog."""
    return argparse.ArgumentParser(prog=prog, description=plain(doc.splitlines()[0]),
                                   formatter_class=HelpFormatter,
                                   epilog=(f"{plain(epilog)}\n\n" if epilog else "") + EXIT_CODES_HELP)


def plain(text: str) -> str:
    """Docstring text as --help shows it: no reST literal markup.

    >>> plain("``python -m pipeline.merge RUN_A --out RUN``: combine run folders")
    'python -m pipeline.merge RUN_A --out RUN: combine run folders'
    """
    return text.replace("``", "")


def check_out_dir(path: Path, flag: str = "--out") -> None:
    """Fail fast (ConfigError) unless ``path`` is, or can be created as, a folder we can write in.

    Leaves no trace: an existing folder gets a temporary file, a missing one a temporary folder in
    its nearest existing parent, both removed at once. Tested by writing, not by permission bits,
    which say nothing for root or a read-only mount.
    """
    existing = path
    while not existing.exists() and existing != existing.parent:
        if existing.is_symlink():        # a dangling link: mkdir would fail with "File exists"
            raise ConfigError(f"{flag} {path}: {existing} is a broken symbolic link; give a folder path")
        existing = existing.parent
    if not existing.is_dir():
        if existing == path:
            raise ConfigError(f"{flag} {path} is a file, not a folder; give a folder path (created if missing)")
        raise ConfigError(f"{flag} {path} cannot be created: {existing} is a file, not a folder")
    try:
        if existing == path:
            with tempfile.TemporaryFile(dir=path, prefix=".docdistill-write-check-"):
                pass
        else:
            os.rmdir(tempfile.mkdtemp(dir=existing, prefix=".docdistill-write-check-"))
    except OSError as exc:
        kept = ("; the run store there is kept as it is and readable where it is (build_dataset and evaluate "
                "open it read-only)") if (path / STORE_FILENAME).is_file() else ""
        raise ConfigError(f"{flag} {path} is not writable: {_why(exc, existing)}{kept}; give a folder you can "
                          "write to") from None


def _why(exc: OSError, where: Path) -> str:
    if exc.errno == errno.EROFS:
        return f"{where} is on a read-only file system"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied in {where}"
    return f"{exc.strerror or exc} ({where})"


def exit_now(code: int) -> None:
    """``sys.exit(code)``; after a Ctrl-C, exit at once instead of waiting for the requests still in
    flight in teacher threads (up to --timeout; their answers would be dropped anyway). The stages
    have closed the store by then: only our own output needs flushing."""
    if code == EXIT_INTERRUPTED:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
