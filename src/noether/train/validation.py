"""The config validator, re-exported: it lives in :mod:`noether.core.validation` (it needs nothing
above the bottom layer, and model and command configs use it as well as the training stack)."""

from noether.core.validation import (
    ConfigError,
    Field,
    check_mapping,
    check_value,
    dataclass_fields,
    describe,
    signature_fields,
)

__all__ = [
    "ConfigError",
    "Field",
    "check_mapping",
    "check_value",
    "dataclass_fields",
    "describe",
    "signature_fields",
]
