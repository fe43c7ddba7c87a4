"""The committed locks (requirements/*.txt) still fit pyproject.toml: a changed range is re-locked."""

from __future__ import annotations

import re

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import REPO_ROOT

tomllib = pytest.importorskip("tomllib")    # Python 3.11+

# Lock file -> the extras it installs, as the Makefile and .ci/base_install.sh use them.
LOCKS = {"base": (), "dev": ("dev",), "test": ("dev", "train", "wandb")}


def pins(text: str) -> dict[str, Version]:
    """``name==version`` lines of a pip-compile output, by canonical name.

    >>> pins("PyYAML==6.0.2 \\\\\\n    --hash=sha256:00\\n    # via docdistill\\n")
    {'pyyaml': <Version('6.0.2')>}
    """
    return {canonicalize_name(m[1]): Version(m[2]) for m in re.finditer(r"^([A-Za-z0-9._-]+)==([^\s\\;]+)", text, re.M)}


@pytest.mark.parametrize("lock, extras", LOCKS.items())
def test_lock_pins_every_declared_dependency_within_its_range(lock, extras):
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    declared = [*pyproject["build-system"]["requires"], *project["dependencies"],
                *(r for extra in extras for r in project["optional-dependencies"][extra])]
    pinned = pins((REPO_ROOT / "requirements" / f"{lock}.txt").read_text())
    stale = []
    for requirement in map(Requirement, declared):
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        version = pinned.get(canonicalize_name(requirement.name))
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            stale.append(f"{requirement} (locked: {version or 'missing'})")
    assert stale == [], f"requirements/{lock}.txt does not fit pyproject.toml: run `make lock`"

