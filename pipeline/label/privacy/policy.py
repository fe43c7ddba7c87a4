"""The privacy policy: an action per kind and class of finding, loaded from one YAML file.

The shipped default (``default_policy.yaml``, beside this module) says what and why; a user's
``--privacy-policy FILE`` overrides its keys. A bad file fails fast, naming the key and the fix.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipeline.errors import ConfigError
from pipeline.label.privacy.classify import CLASSES, Allowlist, Finding
from pipeline.label.privacy.detect import KINDS

DEFAULT_POLICY_PATH = Path(__file__).with_name("default_policy.yaml")
ALLOW, REDACT, BLOCK = "allow", "redact", "block"
ACTIONS = (ALLOW, REDACT, BLOCK)                 # in rising order: a page takes its strictest finding's action
UNVERIFIED_KIND = "unverified"


@dataclass(frozen=True)
class Policy:
    actions: dict = field(default_factory=dict)  # "kind.class" | "kind" | "class" -> action
    transcribing_tasks: frozenset = frozenset({"content"})
    allowlist: Allowlist = Allowlist()
    source: str = "default"

    def action(self, kind: str, cls: str) -> str:
        """The action for one finding: the first of ``kind.class``, ``kind``, ``class`` in the table.

        >>> p = Policy({"personal": "redact", "card.identifier": "redact", "identifier": "block"})
        >>> p.action("card", "identifier"), p.action("ssn", "identifier"), p.action("email", "personal")
        ('redact', 'block', 'redact')
        """
        for key in (f"{kind}.{cls}", kind, cls):
            if key in self.actions:
                return self.actions[key]
        return BLOCK                             # a class the table forgot: fail closed

    def page_action(self, findings: list[Finding]) -> str:
        return max((self.action(f.kind, f.cls) for f in findings), key=ACTIONS.index, default=ALLOW)

    @property
    def digest(self) -> str:
        """A short hash of what decides (stored with each page's audit row: a changed policy shows)."""
        identity = {"actions": self.actions, "tasks": sorted(self.transcribing_tasks),
                    "domains": sorted(self.allowlist.domains), "numbers": sorted(self.allowlist.numbers)}
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]


def _read(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"--privacy-policy {path} cannot be read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"--privacy-policy {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"--privacy-policy {path}: expected a mapping with actions/allowlist, got "
                          f"{type(data).__name__}")
    return data


def _check_actions(actions: dict, where: str) -> None:
    keys = set(KINDS) | set(CLASSES) | {UNVERIFIED_KIND} | {f"{k}.{c}" for k in KINDS for c in CLASSES}
    for key, action in actions.items():
        if key not in keys:
            raise ConfigError(f"{where}: unknown key actions.{key}; use a kind ({', '.join(KINDS)}), a class "
                              f"({', '.join(CLASSES)}) or kind.class")
        if action not in ACTIONS:
            raise ConfigError(f"{where}: actions.{key} is {action!r}; use one of {', '.join(ACTIONS)}")


def load_policy(path: Path | None = None) -> Policy:
    """The default policy, with ``path``'s keys (if given) replacing its own."""
    data = _read(DEFAULT_POLICY_PATH)
    where = "the default privacy policy"
    if path is not None:
        where = f"--privacy-policy {path}"
        user = _read(Path(path))
        unknown = set(user) - {"actions", "transcribing_tasks", "allowlist"}
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; the file has actions, "
                              "transcribing_tasks and allowlist")
        data = {**data, **user, "actions": {**data["actions"], **(user.get("actions") or {})}}
    actions = dict(data.get("actions") or {})
    _check_actions(actions, where)
    allow = data.get("allowlist") or {}
    if not isinstance(allow, dict):
        raise ConfigError(f"{where}: allowlist must be a mapping with domains and numbers")
    domains = frozenset(str(d).lower().removeprefix("@") for d in allow.get("domains") or [])
    numbers = frozenset(re.sub(r"\D", "", str(n)) for n in allow.get("numbers") or [])
    return Policy(actions, frozenset(data.get("transcribing_tasks") or []), Allowlist(domains, numbers - {""}),
                  str(path) if path else "default")


def allow_everything() -> Policy:
    """``--allow-sensitive``: send every page as it is (the explicit switch; nothing is checked)."""
    return Policy({cls: ALLOW for cls in CLASSES}, frozenset(), Allowlist(), "allow-sensitive")
