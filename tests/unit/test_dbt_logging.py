"""Progress lines of the package reach dbt's logger, once per logger."""

from __future__ import annotations

import logging

import pytest

from customer_analytics.dbt_logging import forward_to_dbt


def test_forwarding_is_installed_once_and_passes_info_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = "customer_analytics.test_forwarding"
    forward_to_dbt(name)
    forward_to_dbt(name)
    logger = logging.getLogger(name)
    assert len(logger.handlers) == 1
    logger.info("scored %d customers", 42)
    captured = capsys.readouterr()
    assert "scored 42 customers" in captured.out + captured.err
