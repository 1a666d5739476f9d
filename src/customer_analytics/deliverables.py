"""The Zeotap assignment's lookalike file, produced from the built `customer_lookalikes` table.

The assignment asks for ``Lookalike.csv``: a map from each of the customers C0001-C0020 to
their top 3 lookalikes with similarity scores. One row per customer, one column holding
the ordered list of ``(cust_id, score)`` pairs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pandas as pd

_RANGE = re.compile(r"^(?P<prefix>[A-Za-z]*)(?P<start>\d+)-(?P=prefix)(?P<end>\d+)$")


def expand_customer_ids(spec: str) -> list[str]:
    """``"C0001-C0003,C0010"`` -> ``["C0001", "C0002", "C0003", "C0010"]`` (zero padding kept)."""
    ids: list[str] = []
    for part in (piece.strip() for piece in spec.split(",")):
        if not part:
            continue
        match = _RANGE.match(part)
        if match is None:
            ids.append(part)
            continue
        prefix, start, end = match["prefix"], match["start"], match["end"]
        if int(end) < int(start):
            raise ValueError(f"customer range {part!r} runs backwards")
        width = len(start)
        ids.extend(f"{prefix}{number:0{width}d}" for number in range(int(start), int(end) + 1))
    return ids


def lookalike_map(lookalikes: pd.DataFrame, customer_ids: Sequence[str]) -> pd.DataFrame:
    """One row per requested customer: ``cust_id`` and ``lookalikes`` as ``[(id, score), ...]``.

    ``lookalikes`` has the columns of the ``customer_lookalikes`` mart. Scores are rounded to
    4 decimals; the order is the mart's rank. A requested customer missing from the mart is an
    error, not an empty row.
    """
    missing = sorted(set(customer_ids) - set(lookalikes["customer_id"]))
    if missing:
        raise ValueError(f"customers not in customer_lookalikes: {', '.join(missing)}")
    wanted = lookalikes[lookalikes["customer_id"].isin(customer_ids)].sort_values(
        ["customer_id", "lookalike_rank"]
    )
    rows = []
    for customer_id in customer_ids:
        mine = wanted[wanted["customer_id"] == customer_id]
        pairs = [
            (lookalike, round(float(score), 4))
            for lookalike, score in zip(
                mine["lookalike_customer_id"], mine["similarity_score"], strict=True
            )
        ]
        rows.append({"cust_id": customer_id, "lookalikes": str(pairs)})
    return pd.DataFrame(rows, columns=["cust_id", "lookalikes"])


def write_lookalike_csv(database: Path, customer_ids: Sequence[str], output: Path) -> pd.DataFrame:
    """Read ``customer_lookalikes`` from a built database and write the assignment's CSV."""
    with duckdb.connect(str(database), read_only=True) as connection:
        lookalikes = connection.sql(
            "select customer_id, lookalike_rank, lookalike_customer_id, similarity_score"
            " from customer_lookalikes"
        ).df()
    frame = lookalike_map(lookalikes, customer_ids)
    output.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(output, index=False)
    return frame
