"""Settings of the dbt Python models: a missing setting is an error, never a silent default.

dbt only hands a Python model the config keys it finds spelled out as
``dbt.config.get("key")`` in the model file, so each model reads its keys literally and
passes them here to be checked.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any


def require_settings(
    model_name: str, settings: Mapping[str, Any], optional: Collection[str] = ()
) -> dict[str, Any]:
    """Return ``settings`` as a dict, failing when a key outside ``optional`` is unset (None)."""
    missing = sorted(
        key for key, value in settings.items() if value is None and key not in optional
    )
    if missing:
        raise ValueError(
            f"dbt model {model_name} needs the config setting(s) {', '.join(missing)}: set them"
            " in the model's YAML config (each is wired to a var in dbt_project.yml)"
        )
    return dict(settings)
