"""Progress lines of the package reach dbt's logger, once per logger."""

from __future__ import annotations

import logging

import pytest

from customer_analytics.dbt_logging import forward_to_dbt


class _Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str) -> None:
        self.lines.append(message)


def test_forwarding_is_installed_once_and_passes_info_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = "customer_analytics.test_forwarding"
    forward_to_dbt(name)
    forward_to_dbt(name)
    logger = logging.getLogger(name)
    assert len(logger.handlers) == 1
    assert not logger.propagate  # each line once, through dbt, not again by a parent handler
    recorder = _Recorder()
    monkeypatch.setattr(logger.handlers[0], "_dbt", recorder)
    logger.info("scored %d customers", 42)
    logger.debug("not forwarded")
    assert recorder.lines == ["scored 42 customers"]
