"""The privacy gate: what of a page may go to a teacher that runs off this machine, by risk.

Before a page goes to such a teacher (``Teacher.off_machine``), its words (the text layer's; on a
scan, local OCR's) are searched for personal data (``detect``), each finding gets a class
(``classify``: ``identifier``, ``organisational`` or ``personal`` contact data; the rules and
examples are in its docstring), and the policy (``policy``; the default in
``default_policy.yaml``) gives each kind and class an action: ``allow``, ``redact`` or ``block``.
A page takes its strictest finding's action. ``redact`` masks each span on the image and in the
anchor text with a typed placeholder (``[EMAIL_1]``); the teacher transcribes the placeholder
and ``redact.restore`` puts the value back into the label locally (``redaction_mismatch`` when
one does not come back exactly). Only kinds, classes, actions, counts and box hashes are stored.
"""

from pipeline.label.privacy.classify import IDENTIFIER, ORGANISATIONAL, PERSONAL, UNVERIFIED, Allowlist, classify
from pipeline.label.privacy.detect import (KINDS, Span, egypt_national_id_valid, find_personal_data, find_spans,
                                           iban_valid, luhn_valid, ssn_valid)
from pipeline.label.privacy.policy import ALLOW, BLOCK, REDACT, Policy, allow_everything, load_policy

__all__ = ["ALLOW", "BLOCK", "REDACT", "IDENTIFIER", "ORGANISATIONAL", "PERSONAL", "UNVERIFIED", "KINDS", "Allowlist",
           "Policy", "Span", "allow_everything", "classify", "egypt_national_id_valid", "find_personal_data",
           "find_spans", "iban_valid", "load_policy", "luhn_valid", "ssn_valid"]
