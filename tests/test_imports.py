"""Every package the code imports is declared, where the install that runs it declares it.

A module-level import runs on every install, so it must come from a base dependency; a lazy
(function-level) import of an extra's package is fine when that extra declares it. An undeclared
package that only happens to be installed (httpx, which google-genai 2.x and LLaMA-Factory bring in,
but google-genai 3.x and openai 3.x no longer do) breaks the base install and nothing else.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

tomllib = pytest.importorskip("tomllib")    # Python 3.11+

PACKAGE = REPO_ROOT / "pipeline"
TEST_ONLY_EXTRAS = {"dev"}                  # what the tests run with; pipeline/ may not rely on it


def _canonical(name: str) -> str:
    """PEP 503 name: ``_canonical("PyYAML") == "pyyaml"``, ``_canonical("google_genai") == "google-genai"``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> tuple[set[str], dict[str, set[str]]]:
    """(base dependency names, {extra: names}) from pyproject.toml."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]

    def names(requirements: list[str]) -> set[str]:
        return {_canonical(re.match(r"[A-Za-z0-9._-]+", r.strip())[0]) for r in requirements}

    extras = {extra: names(reqs) for extra, reqs in project.get("optional-dependencies", {}).items()}
    return names(project["dependencies"]), extras


def imports_of(path: Path) -> list[tuple[str, int, bool]]:
    """(module, line, lazy) for each absolute import in a file; lazy means inside a function.

    ``importlib.import_module("name")`` with a literal name counts as an import too.
    """
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend((alias.name, child.lineno, lazy) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                found.append((child.module, child.lineno, lazy))
            elif (isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute)
                  and child.func.attr == "import_module" and child.args
                  and isinstance(child.args[0], ast.Constant) and isinstance(child.args[0].value, str)):
                found.append((child.args[0].value, child.lineno, lazy))
            visit(child, lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(ast.parse(path.read_text(), filename=str(path)), False)
    return found


@functools.cache
def _packages() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


@functools.cache
def distributions_of(module: str) -> frozenset[str]:
    """The installed distributions that provide ``module``; its own name when none is installed.

    A namespace package (``google``) is shared by several distributions: the one that holds the
    imported subpackage (``google/genai/``) is the one that counts.
    """
    top = module.split(".")[0]
    names = _packages().get(top, [])
    if len(set(names)) > 1 and "." in module:
        prefix = "/".join(module.split(".")[:2])
        names = [n for n in names
                 if any(str(f).startswith((prefix + "/", prefix + ".")) for f in importlib.metadata.files(n) or [])]
    return frozenset({_canonical(n) for n in names} or {_canonical(top)})


def undeclared_imports(paths: list[Path]) -> list[str]:
    """One line per import whose package the install that runs it does not declare."""
    base, extras = _declared()
    optional = set().union(*(names for extra, names in extras.items() if extra not in TEST_ONLY_EXTRAS))
    problems = []
    for path in paths:
        for module, line, lazy in imports_of(path):
            top = module.split(".")[0]
            if top in sys.stdlib_module_names or top in ("__future__", "pipeline"):
                continue
            provided_by = distributions_of(module)
            allowed = base | optional if lazy else base
            if not provided_by & allowed:
                where = f"{path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path}:{line}"
                need = ("a base dependency or an extra (not dev)" if lazy else
                        "a base dependency (or move the import into the function that needs it, if an extra "
                        "declares the package)")
                problems.append(f"{where}: {'lazy' if lazy else 'module-level'} import of {module} "
                                f"(from {', '.join(sorted(provided_by))}) needs {need} in pyproject.toml")
    return problems


def test_every_import_under_pipeline_is_declared_for_the_install_that_runs_it():
    paths = sorted(PACKAGE.rglob("*.py"))
    assert len(paths) > 40
    assert undeclared_imports(paths) == []


def test_the_check_flags_an_undeclared_package_and_a_module_level_import_of_an_extra(tmp_path):
    module = tmp_path / "mod.py"
    module.write_text("import os\nimport httpx\nimport torch\nfrom google import genai\n"
                      "def train():\n    import torch\n    import llamafactory\n    import pytest\n")
    problems = undeclared_imports([module])
    assert [p.split(": ")[1].split(" (")[0] for p in problems] == [
        "module-level import of httpx",       # declared by nothing
        "module-level import of torch",       # the train extra's: fine only inside a function
        "lazy import of pytest",              # the dev extra is for the tests, not for pipeline/
    ]
    assert "needs a base dependency" in problems[0]


# Run in a child process: hiding httpx must not leak into the other tests' SDK clients.
_WITHOUT_HTTPX = r"""
import io, sys
sys.modules["httpx"] = None      # what a base install has: "import httpx" raises ModuleNotFoundError
from PIL import Image
from pipeline.tasks import resolve_tasks
from pipeline.teachers import PageInput, ReplyStatus, TeacherSettings, make_teacher
from tests.support.provider_stub import ProviderStub

buffer = io.BytesIO()
Image.new("RGB", (4, 3), (9, 9, 9)).save(buffer, format="PNG")
page = PageInput(doc_id="doc", page_index=0, image=buffer.getvalue(), mime_type="image/png")
[task] = resolve_tasks(["content"])
with ProviderStub() as stub:
    for name, url, extra in [("gemini", stub.url, {}), ("openai", stub.openai_url, {}),
                             ("openai-compatible", stub.openai_url, {"model": "m"})]:
        teacher = make_teacher(name, TeacherSettings(base_url=url, **extra))
        reply = teacher.ask(page, task, "Read this page.")
        teacher.close()
        assert reply.status is ReplyStatus.COMPLETE, (name, reply)
        print(name, reply.status.value)
    served = len(stub.requests)
# Nothing listens there now: the transport error must still be told apart from a bug.
teacher = make_teacher("gemini", TeacherSettings(base_url=stub.url, timeout_s=5))
reply = teacher.ask(page, task, "Read this page.")
assert reply.status is ReplyStatus.CONNECTION_ERROR, reply
print("gemini", reply.status.value, served)
"""


def test_cloud_teachers_work_without_httpx():
    """google-genai 3.x and openai 3.x send through httpx2: the teachers must not need httpx either."""
    for sdk in ("google-genai", "openai"):
        version = importlib.metadata.version(sdk)
        if int(version.split(".")[0]) < 3:
            pytest.skip(f"{sdk} {version} sends through httpx itself (the base install, on 3.x, runs this)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
           "GEMINI_API_KEY": "test-key", "OPENAI_API_KEY": "test-key"}
    env.pop("GOOGLE_API_KEY", None)
    env.pop("GOOGLE_GENAI_USE_VERTEXAI", None)
    result = subprocess.run([sys.executable, "-c", _WITHOUT_HTTPX], cwd=REPO_ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split("\n")[:4] == ["gemini complete", "openai complete", "openai-compatible complete",
                                             "gemini connection_error 3"]
