"""Show the package's progress lines (Python ``logging``, INFO) in dbt's own log and console.

dbt does not configure Python's logging, so INFO lines of a Python model's package code would
vanish. ``forward_to_dbt`` hands them to dbt's adapter logger instead; the dbt Python models
call it once before their work.
"""

from __future__ import annotations

import logging


class _DbtHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        from dbt.adapters.events.logging import AdapterLogger

        self._dbt = AdapterLogger("customer_analytics")

    def emit(self, record: logging.LogRecord) -> None:
        self._dbt.info(self.format(record))


def forward_to_dbt(*logger_names: str) -> None:
    """Forward INFO and above of the named loggers to dbt's logger (once per logger)."""
    for name in logger_names:
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        # shown once: not also by a handler of the package logger (lookalikes print to stderr)
        logger.propagate = False
        if not any(isinstance(handler, _DbtHandler) for handler in logger.handlers):
            logger.addHandler(_DbtHandler())
