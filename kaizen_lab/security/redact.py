"""Secret redaction, as part of the security API: ``kaizen_lab.redact`` (the ground floor) is the one
implementation; this module re-exports it so ``kaizen_lab.security.redact`` keeps working."""

from __future__ import annotations

from kaizen_lab.redact import REDACTED as REDACTED
from kaizen_lab.redact import Redactor as Redactor
from kaizen_lab.redact import __all__ as __all__
from kaizen_lab.redact import default_redactor as default_redactor
from kaizen_lab.redact import is_secret_key as is_secret_key
from kaizen_lab.redact import may_hold_bare_secret as may_hold_bare_secret
from kaizen_lab.redact import may_hold_secret as may_hold_secret
from kaizen_lab.redact import redact as redact
from kaizen_lab.redact import redact_text as redact_text
from kaizen_lab.redact import register_patterns as register_patterns
