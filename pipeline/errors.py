"""The errors the stages raise and only the CLIs turn into messages and exit codes.

Library code raises one of these; ``python -m pipeline.X`` catches exactly these (never a bare
``RuntimeError``, which would turn a bug into a tidy "error:" line) and maps each to its exit code:
a bad configuration is 2 (nothing was started), a stop the user must act on is 3 (what was stored
is kept).
"""

from __future__ import annotations


class ConfigError(ValueError):
    """A bad run configuration: raised before any work starts."""


class StoreError(RuntimeError):
    """The run folder's database cannot be used (newer schema, not a docdistill run, ...)."""


class TaskError(ValueError):
    """A task definition is missing or broken: a configuration error, raised before any work."""


class TeacherConfigError(ValueError):
    """The teacher cannot be used as configured (missing key, unknown model ...): fail fast."""


class TeacherFatalError(RuntimeError):
    """The provider rejected us in a way no retry fixes (401/403/400): stop the run."""


class TeacherUnavailable(TeacherFatalError):
    """The teacher answered nothing for many requests in a row, nor a probe after a pause: stop the run."""


class EndpointError(RuntimeError):
    """The server refused us in a way no retry fixes (key, model name, route)."""


class ReviewConflict(RuntimeError):
    """A review verdict based on an older revision of the label: someone saved in between."""

    def __init__(self, current: int, message: str):
        super().__init__(message)
        self.current = current


class StepFailed(RuntimeError):
    """A step a round hands to another program (llamafactory-cli, the user's launcher) failed: its log says why."""
