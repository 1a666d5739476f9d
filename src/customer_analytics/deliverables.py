"""The Zeotap assignment's lookalike file, produced from the built `customer_lookalikes` table.

The assignment asks for ``Lookalike.csv``: a map from each of the customers C0001-C0020 to
their top 3 lookalikes with similarity scores. One row per customer, one column holding
the ordered list of ``(cust_id, score)`` pairs. Without a customer list, the first
`DEFAULT_CUSTOMER_COUNT` customers of the data (by id) are taken, which are C0001-C0020 on
the Zeotap files and work on data with any id scheme.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import duckdb
import pandas as pd

DEFAULT_CUSTOMER_COUNT = 20


class DeliverableError(ValueError):
    """The deliverable cannot be written; the message says why and what to do."""


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
            raise DeliverableError(f"customer range {part!r} runs backwards")
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
        shown = ", ".join(missing[:10]) + (
            f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        )
        raise DeliverableError(
            f"customers not in customer_lookalikes: {shown} (check the ids, or omit --customers"
            f" for the first {DEFAULT_CUSTOMER_COUNT} customers of the data)"
        )
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


def read_lookalikes(
    database: Path, customer_ids: Sequence[str] | None
) -> tuple[pd.DataFrame, list[str]]:
    """The ``customer_lookalikes`` rows of a built database and the customers to write:
    ``customer_ids``, or (None) the first `DEFAULT_CUSTOMER_COUNT` customers by id."""
    if not database.is_file():
        raise DeliverableError(
            f"{database} not found: run `dbt build` first (it publishes that file), or pass"
            " --database"
        )
    try:
        connection = duckdb.connect(str(database), read_only=True)
    except duckdb.Error as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise DeliverableError(
            f"cannot open {database} read-only ({first_line}): is a build writing it?"
        ) from error
    with connection:
        try:
            lookalikes = connection.sql(
                "select customer_id, lookalike_rank, lookalike_customer_id, similarity_score"
                " from customer_lookalikes"
            ).df()
        except duckdb.CatalogException as error:
            raise DeliverableError(
                f"{database} has no customer_lookalikes table: run a full `dbt build`"
            ) from error
    if customer_ids is None:
        customer_ids = sorted(set(lookalikes["customer_id"]))[:DEFAULT_CUSTOMER_COUNT]
    return lookalikes, list(customer_ids)


def write_lookalike_csv(
    database: Path, customer_ids: Sequence[str] | None, output: Path
) -> pd.DataFrame:
    """Read ``customer_lookalikes`` from a built database and write the assignment's CSV
    (``customer_ids`` None: the first `DEFAULT_CUSTOMER_COUNT` customers of the data)."""
    lookalikes, wanted = read_lookalikes(database, customer_ids)
    frame = lookalike_map(lookalikes, wanted)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(output, index=False)
    except PermissionError as error:
        raise DeliverableError(
            f"cannot write {output} ({error.strerror or error}): is it open in another program?"
        ) from error
    except OSError as error:
        raise DeliverableError(f"cannot write {output}: {error.strerror or error}") from error
    return frame
