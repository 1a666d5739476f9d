"""Deterministic synthetic shop data in the layout of the public eCommerce "Zeotap" dataset.

Writes ``Customers``, ``Products`` and ``Transactions`` with exactly the columns of the
published Zeotap files, plus a truth file that says which planted behavioural archetype each
customer was generated from (``customer_archetypes.csv``). The archetype never appears in
the three input tables; it exists so that segmentation and lookalike models can be scored
against a known answer.

Archetypes (stratified, one fifth each):

===============  ==========================================================================
high_spender     Electronics, top of each category's price range, small baskets
loyal_regular    most transactions, Home Decor / Clothing mix, longest tenure
bargain_hunter   Books, bottom of the price range, big baskets
at_risk          Clothing, few transactions, none after 2024-07-31 (five quiet months)
new_customer     signed up 2024-09-01..2024-12-15, one to three purchases, all after signup
===============  ==========================================================================

Like the real data, all transactions fall in calendar 2024, about a fifth of them precede
the customer's signup date (40 % of the older archetypes' customers shopped as guests and
registered only between May and August 2024), and exactly one customer (an at_risk one) has
no transactions.

``--taste-share S`` plants product-level taste finer than the categories: the products are
split at random into groups of ``--taste-group-size`` (default 5), every customer is given one
group, and each of their purchases is, with probability S, a product of that group (bought
together by the customers who share the group). The groups are listed in
``product_taste_groups.csv`` and the customers' groups in ``customer_taste_groups.csv``.

``--churn-share S`` plants churn: that share of the customers who could churn (every archetype
but new_customer) stop buying at a drawn date between 2024-03-01 and 2024-09-30; their purchases
keep their count and order but are compressed into the time before that date.
``customer_churn.csv`` lists every customer's last possible active date (``ActiveUntil``,
2024-07-31 for the at_risk archetype, which always stops then) and whether the option made
them a churner (``IsPlantedChurner``). Both options are off by default and draw from their
own random streams, so the default output stays byte-identical.

``--defects N`` appends N deliberately bad rows (twelve kinds, cycled in a fixed order) and
lists them in ``defects.csv`` next to the truth file. With defects, the date columns hold
text (so that an unparseable date can be written), also in Parquet.

Everything is vectorised over NumPy/Arrow and seeded from ``--seed`` only: the same
arguments give byte-identical files.

Usage::

    python -m customer_analytics.generate --out seeds/shop --truth-dir data/demo_truth
    customer-analytics generate --customers 1000000 --transactions 10000000 --format parquet
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

__all__ = [
    "ARCHETYPES",
    "ARCHETYPE_SPECS",
    "CATEGORIES",
    "CHURN_COLUMNS",
    "CHURN_FILE",
    "CUSTOMER_COLUMNS",
    "CUSTOMER_TASTE_COLUMNS",
    "CUSTOMER_TASTE_FILE",
    "DEFECT_COLUMNS",
    "DEFECT_KINDS",
    "PRODUCT_COLUMNS",
    "PRODUCT_TASTE_COLUMNS",
    "PRODUCT_TASTE_FILE",
    "REGIONS",
    "TRANSACTION_COLUMNS",
    "TRUTH_COLUMNS",
    "Archetype",
    "Config",
    "Dataset",
    "Progress",
    "add_arguments",
    "build_parser",
    "format_ids",
    "generate",
    "id_width",
    "main",
    "run",
    "write_csv",
    "write_dataset",
    "write_parquet",
]

# --------------------------------------------------------------------------- constants

REGIONS: tuple[str, ...] = ("South America", "Asia", "North America", "Europe")
# Shares of the real Customers.csv (59/45/46/50 of 200), independent of the archetype.
REGION_WEIGHTS: tuple[float, ...] = (0.295, 0.225, 0.23, 0.25)

CATEGORIES: tuple[str, ...] = ("Books", "Electronics", "Home Decor", "Clothing")
BOOKS, ELECTRONICS, HOME_DECOR, CLOTHING = range(4)
# Price range (in currency units) per category, drawn log-uniformly.
CATEGORY_PRICE_RANGE: tuple[tuple[float, float], ...] = (
    (15.0, 120.0),  # Books
    (50.0, 500.0),  # Electronics
    (25.0, 400.0),  # Home Decor
    (18.0, 300.0),  # Clothing
)
BRANDS: tuple[str, ...] = (
    "ActiveWear",
    "BookWorld",
    "ComfortLiving",
    "HomeSense",
    "SoundWave",
    "TechPro",
)
ITEMS: tuple[tuple[str, ...], ...] = (
    ("Biography", "Cookbook", "Mystery Book", "Novel", "Textbook"),
    ("Bluetooth Speaker", "Headphones", "Laptop", "Smartphone", "Smartwatch"),
    ("Cookware Set", "Desk Lamp", "Rug", "Vase", "Wall Art"),
    ("Jacket", "Jeans", "Running Shoes", "Sweater", "T-Shirt"),
)

FIRST_NAMES: tuple[str, ...] = (
    "Aaron", "Abigail", "Adam", "Alexis", "Amanda", "Andrew", "Angela", "Anthony",
    "Ashley", "Benjamin", "Brandon", "Brian", "Brittany", "Carlos", "Catherine", "Charles",
    "Christina", "Christopher", "Daniel", "David", "Deborah", "Diana", "Donald", "Elizabeth",
    "Emily", "Eric", "Gabriel", "Grace", "Hannah", "Heather", "Isabel", "Jacob",
    "James", "Jennifer", "Jessica", "John", "Jose", "Joseph", "Joshua", "Julia",
    "Karen", "Kathleen", "Kevin", "Laura", "Lawrence", "Linda", "Lisa", "Maria",
    "Mark", "Matthew", "Melissa", "Michael", "Michelle", "Nancy", "Nicholas", "Patricia",
    "Paul", "Rachel", "Robert", "Sarah", "Stephanie", "Steven", "Thomas", "William",
)  # fmt: skip
LAST_NAMES: tuple[str, ...] = (
    "Adams", "Allen", "Anderson", "Bailey", "Baker", "Brown", "Campbell", "Carroll",
    "Carter", "Clark", "Collins", "Cook", "Cruz", "Davis", "Diaz", "Edwards",
    "Evans", "Flores", "Garcia", "Gomez", "Gonzalez", "Green", "Hall", "Harris",
    "Hernandez", "Hill", "Jackson", "Johnson", "Jones", "Kelly", "King", "Lee",
    "Lewis", "Lopez", "Lutz", "Martin", "Martinez", "Miller", "Mitchell", "Moore",
    "Morgan", "Murphy", "Nelson", "Nguyen", "Parker", "Perez", "Phillips", "Ramirez",
    "Reed", "Rivera", "Roberts", "Robinson", "Rodriguez", "Sanchez", "Scott", "Smith",
    "Taylor", "Thomas", "Thompson", "Torres", "Walker", "White", "Williams", "Wilson",
)  # fmt: skip

CUSTOMER_COLUMNS: tuple[str, ...] = ("CustomerID", "CustomerName", "Region", "SignupDate")
PRODUCT_COLUMNS: tuple[str, ...] = ("ProductID", "ProductName", "Category", "Price")
TRANSACTION_COLUMNS: tuple[str, ...] = (
    "TransactionID",
    "CustomerID",
    "ProductID",
    "TransactionDate",
    "Quantity",
    "TotalValue",
    "Price",
)
TRUTH_COLUMNS: tuple[str, ...] = ("CustomerID", "Archetype")
DEFECT_COLUMNS: tuple[str, ...] = ("File", "RowNumber", "Column", "Kind")

TABLE_STEMS: tuple[str, ...] = ("Customers", "Products", "Transactions")
TRUTH_FILE = "customer_archetypes.csv"
DEFECTS_FILE = "defects.csv"
PRODUCT_TASTE_FILE = "product_taste_groups.csv"
CUSTOMER_TASTE_FILE = "customer_taste_groups.csv"
CHURN_FILE = "customer_churn.csv"
PRODUCT_TASTE_COLUMNS: tuple[str, ...] = ("ProductID", "TasteGroup")
CUSTOMER_TASTE_COLUMNS: tuple[str, ...] = ("CustomerID", "TasteGroup")
CHURN_COLUMNS: tuple[str, ...] = ("CustomerID", "ActiveUntil", "IsPlantedChurner")
CHURN_WINDOW: tuple[str, str] = ("2024-03-01", "2024-09-30")  # planted churn dates (inclusive)

SECONDS_PER_DAY = 86_400
SIGNUP_FIRST = "2022-01-01"
SIGNUP_LAST = "2024-12-31"
YEAR_START = "2024-01-01"
YEAR_END = "2025-01-01"  # exclusive
LATE_SIGNUP_WINDOW: tuple[str, str] = ("2024-05-01", "2024-08-31")  # guests who registered late

Format = Literal["csv", "parquet"]


def _day(iso: str) -> int:
    """Days since 1970-01-01 of an ISO date."""
    return int(np.datetime64(iso, "D").astype(np.int64))


@dataclass(frozen=True)
class Archetype:
    """Behaviour planted into the customers of one archetype."""

    name: str
    extra_weight: float
    """Relative rate of transactions beyond the first (every buyer has at least one)."""
    category_probs: tuple[float, float, float, float]
    """Probability of buying from Books, Electronics, Home Decor, Clothing."""
    price_tier: tuple[float, float]
    """Beta(a, b) position within the chosen category's products ranked by price."""
    quantity_probs: tuple[float, float, float, float]
    """Probability of a quantity of 1, 2, 3, 4."""
    signup: tuple[str, str]
    """Signup window (inclusive) of customers who registered before buying."""
    active: tuple[str, str] = (YEAR_START, "2024-12-31")
    """Purchase window (inclusive dates)."""
    late_registration: float = 0.0
    """Share of customers who bought as guests first and signed up in LATE_SIGNUP_WINDOW."""


ARCHETYPE_SPECS: tuple[Archetype, ...] = (
    Archetype(
        name="high_spender",
        extra_weight=4.0,
        category_probs=(0.04, 0.82, 0.09, 0.05),
        price_tier=(6.0, 1.3),
        quantity_probs=(0.45, 0.35, 0.15, 0.05),
        signup=("2022-01-01", "2023-12-31"),
        late_registration=0.40,
    ),
    Archetype(
        name="loyal_regular",
        extra_weight=8.5,
        category_probs=(0.05, 0.05, 0.45, 0.45),
        price_tier=(2.5, 2.5),
        quantity_probs=(0.10, 0.30, 0.40, 0.20),
        signup=("2022-01-01", "2022-12-31"),
        late_registration=0.40,
    ),
    Archetype(
        name="bargain_hunter",
        extra_weight=5.0,
        category_probs=(0.84, 0.04, 0.04, 0.08),
        price_tier=(1.0, 6.0),
        quantity_probs=(0.03, 0.10, 0.37, 0.50),
        signup=("2022-07-01", "2023-12-31"),
        late_registration=0.40,
    ),
    Archetype(
        name="at_risk",
        extra_weight=2.0,
        category_probs=(0.04, 0.06, 0.05, 0.85),
        price_tier=(2.0, 2.5),
        quantity_probs=(0.50, 0.30, 0.15, 0.05),
        signup=("2022-01-01", "2023-12-31"),
        active=(YEAR_START, "2024-07-31"),
        late_registration=0.40,
    ),
    Archetype(
        name="new_customer",
        extra_weight=0.5,
        category_probs=(0.03, 0.03, 0.91, 0.03),
        price_tier=(2.0, 2.0),
        quantity_probs=(0.60, 0.30, 0.10, 0.00),
        signup=("2024-09-01", "2024-12-15"),
    ),
)
ARCHETYPES: tuple[str, ...] = tuple(a.name for a in ARCHETYPE_SPECS)
AT_RISK = ARCHETYPES.index("at_risk")
NEW_CUSTOMER = ARCHETYPES.index("new_customer")

# Defect kinds, cycled in this order: (file stem, column, kind).
DEFECT_KINDS: tuple[tuple[str, str, str], ...] = (
    ("Customers", "CustomerID", "missing_customer_id"),
    ("Customers", "CustomerID", "duplicate_customer_id"),
    ("Customers", "SignupDate", "unparseable_signup_date"),
    ("Products", "ProductID", "duplicate_product_id"),
    ("Products", "Price", "non_positive_price"),
    ("Transactions", "TransactionID", "missing_transaction_id"),
    ("Transactions", "TransactionID", "duplicate_transaction_id"),
    ("Transactions", "CustomerID", "unknown_customer_id"),
    ("Transactions", "ProductID", "unknown_product_id"),
    ("Transactions", "TransactionDate", "unparseable_transaction_date"),
    ("Transactions", "Quantity", "non_positive_quantity"),
    ("Transactions", "TotalValue", "total_value_mismatch"),
)
BAD_SIGNUP_DATES: tuple[str, ...] = ("2024-13-45", "2024-02-30", "2023-00-10")
BAD_TRANSACTION_DATES: tuple[str, ...] = (
    "2024-13-45 10:15:00",
    "2024-02-30 12:30:45",
    "2024-06-31 25:61:00",
)

# --------------------------------------------------------------------------- progress


class Progress:
    """Step-by-step progress on a text stream; ``\\r`` updates only when it is a terminal."""

    def __init__(self, enabled: bool, stream: IO[str] | None = None) -> None:
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.live = enabled and bool(getattr(self.stream, "isatty", lambda: False)())
        self._step = ""
        self._started = 0.0

    @contextmanager
    def step(self, name: str, rows: int) -> Iterator[Callable[[int], None]]:
        """Report one step; yields a callback taking the number of rows done so far."""
        self._step = f"{name} ({rows:,} rows)"
        self._started = time.perf_counter()
        if self.live:
            self.stream.write(f"\r{self._step} ...")
            self.stream.flush()

        def update(done: int) -> None:
            if self.live and rows:
                pct = 100.0 * done / rows
                self.stream.write(f"\r{self._step} {done:,}/{rows:,} {pct:5.1f}%")
                self.stream.flush()

        yield update
        if self.enabled:
            elapsed = time.perf_counter() - self._started
            prefix = "\r\033[K" if self.live else ""
            self.stream.write(f"{prefix}{self._step} done in {elapsed:.2f} s\n")
            self.stream.flush()

    def note(self, message: str) -> None:
        if self.enabled:
            self.stream.write(message + "\n")
            self.stream.flush()


# --------------------------------------------------------------------------- helpers


def id_width(prefix_min: int, largest: int) -> int:
    """Zero-padding that keeps IDs up to ``largest`` sorted as text (at least ``prefix_min``)."""
    return max(prefix_min, len(str(max(largest, 0))))


def format_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded ``numbers`` as an Arrow string array, built from raw bytes."""
    numbers = np.asarray(numbers, dtype=np.int64)
    if numbers.size and (numbers.min() < 0 or numbers.max() >= 10**width):
        raise ValueError(f"ID numbers do not fit in {width} digits")
    head = prefix.encode("ascii")
    size = len(head) + width
    buf = np.empty((numbers.size, size), dtype=np.uint8)
    buf[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
    # Unsigned 32-bit division is several times faster than int64 divmod.
    rest = numbers.astype(np.uint32 if numbers.size and numbers.max() < 2**32 else np.uint64)
    for pos in range(size - 1, len(head) - 1, -1):
        quotient = rest // 10
        buf[:, pos] = (rest - quotient * 10).astype(np.uint8) + ord("0")
        rest = quotient
    total = numbers.size * size
    offset_type, array_type = (
        (np.int32, pa.string()) if total < 2**31 else (np.int64, pa.large_string())
    )
    offsets = np.arange(numbers.size + 1, dtype=offset_type) * size
    return pa.Array.from_buffers(
        array_type, numbers.size, [None, pa.py_buffer(offsets), pa.py_buffer(buf)]
    ).cast(pa.string())


def _join_names(
    first: Sequence[str], first_idx: np.ndarray, second: Sequence[str], second_idx: np.ndarray
) -> pa.Array:
    return pc.binary_join_element_wise(
        pa.array(first).take(pa.array(first_idx)),
        pa.array(second).take(pa.array(second_idx)),
        " ",
    )


def _categorical(rng: np.random.Generator, probs: np.ndarray, size: int) -> np.ndarray:
    """Draw ``size`` indices from the distribution ``probs`` by inverse CDF."""
    cdf = np.cumsum(probs)
    cdf /= cdf[-1]
    return np.searchsorted(cdf, rng.random(size), side="right").astype(np.int8)


def _uniform_int(
    rng: np.random.Generator, low: np.ndarray | int, high: np.ndarray | int, size: int
) -> np.ndarray:
    """Integers uniform on ``[low, high)`` (element-wise bounds allowed)."""
    span = np.asarray(high, dtype=np.int64) - np.asarray(low, dtype=np.int64)
    return low + np.minimum((rng.random(size) * span).astype(np.int64), span - 1)


# --------------------------------------------------------------------------- generation


@dataclass(frozen=True)
class Config:
    customers: int = 200
    products: int = 100
    transactions: int = 1000
    seed: int = 42
    defects: int = 0
    taste_share: float = 0.0
    taste_group_size: int = 5
    churn_share: float = 0.0

    def validate(self) -> None:
        if not 0.0 <= self.taste_share <= 1.0 or not 0.0 <= self.churn_share <= 1.0:
            raise ValueError("--taste-share and --churn-share must be between 0 and 1")
        if self.taste_group_size < 2:
            raise ValueError("--taste-group-size must be at least 2")
        if self.customers < 1:
            raise ValueError("--customers must be at least 1")
        if self.products < len(CATEGORIES):
            raise ValueError(f"--products must be at least {len(CATEGORIES)} (one per category)")
        if self.transactions < 0 or self.defects < 0:
            raise ValueError("--transactions and --defects must not be negative")
        if self.defects and self.transactions < 1:
            raise ValueError("--defects needs at least one transaction to duplicate")


@dataclass
class Dataset:
    """The generated tables (Arrow) plus the planted truth."""

    customers: pa.Table
    products: pa.Table
    transactions: pa.Table
    archetypes: pa.Table
    defects: pa.Table
    product_taste: pa.Table | None = None
    """ProductID -> TasteGroup, only with ``taste_share`` > 0."""
    customer_taste: pa.Table | None = None
    """CustomerID -> TasteGroup, only with ``taste_share`` > 0."""
    churn: pa.Table | None = None
    """CustomerID, ActiveUntil, IsPlantedChurner, only with ``churn_share`` > 0."""
    tables: dict[str, pa.Table] = field(init=False)

    def __post_init__(self) -> None:
        self.tables = {
            "Customers": self.customers,
            "Products": self.products,
            "Transactions": self.transactions,
        }


@dataclass
class _Customers:
    archetype: np.ndarray  # int8
    signup_day: np.ndarray  # int64 days since epoch
    region: np.ndarray
    first: np.ndarray
    last: np.ndarray
    silent: int  # index of the one customer without transactions, -1 if none


def _generate_customers(cfg: Config, rng: np.random.Generator) -> _Customers:
    n = cfg.customers
    archetype = rng.permutation(np.arange(n) % len(ARCHETYPE_SPECS)).astype(np.int8)
    region = _categorical(rng, np.array(REGION_WEIGHTS), n)
    first = rng.integers(0, len(FIRST_NAMES), n)
    last = rng.integers(0, len(LAST_NAMES), n)
    signup = np.empty(n, dtype=np.int64)
    late_low, late_high = _day(LATE_SIGNUP_WINDOW[0]), _day(LATE_SIGNUP_WINDOW[1]) + 1
    for a, spec in enumerate(ARCHETYPE_SPECS):
        members = np.flatnonzero(archetype == a)
        m = members.size
        days = _uniform_int(rng, _day(spec.signup[0]), _day(spec.signup[1]) + 1, m)
        late = rng.permutation(m) < round(spec.late_registration * m)
        days[late] = _uniform_int(rng, late_low, late_high, int(late.sum()))
        signup[members] = days
    silent = -1
    if n >= 2:  # an at_risk customer who lapsed completely (any customer if none is at_risk)
        candidates = np.flatnonzero(archetype == AT_RISK)
        silent = int(rng.choice(candidates if candidates.size else np.arange(n)))
    return _Customers(archetype, signup, region, first, last, silent)


@dataclass
class _Products:
    category: np.ndarray  # int8
    price_cents: np.ndarray  # int64
    brand: np.ndarray
    item: np.ndarray  # index into the flattened ITEMS


def _generate_products(cfg: Config, rng: np.random.Generator) -> _Products:
    p = cfg.products
    category = rng.permutation(np.arange(p) % len(CATEGORIES)).astype(np.int8)
    brand = rng.integers(0, len(BRANDS), p)
    item = category.astype(np.int64) * 5 + rng.integers(0, 5, p)
    bounds = np.log(np.array(CATEGORY_PRICE_RANGE))[category]
    price = np.exp(bounds[:, 0] + rng.random(p) * (bounds[:, 1] - bounds[:, 0]))
    price_cents = np.round(price * 100).astype(np.int64)
    return _Products(category, price_cents, brand, item)


@dataclass
class _Transactions:
    customer: np.ndarray  # int32 customer index
    product: np.ndarray  # int32 product index
    timestamp: np.ndarray  # int64 seconds since epoch
    quantity: np.ndarray  # int8


def _transaction_counts(cfg: Config, cust: _Customers, rng: np.random.Generator) -> np.ndarray:
    """Transactions per customer: total exactly ``cfg.transactions``; all but one buy."""
    n, t = cfg.customers, cfg.transactions
    buyers = np.ones(n, dtype=bool)
    if cust.silent >= 0:
        buyers[cust.silent] = False
    buyer_idx = np.flatnonzero(buyers)
    counts = np.zeros(n, dtype=np.int64)
    if t >= buyer_idx.size:
        counts[buyer_idx] = 1
        rest = t - buyer_idx.size
    else:  # fewer transactions than buyers: one each for a random subset
        counts[rng.choice(buyer_idx, size=t, replace=False)] = 1
        rest = 0
    if rest:
        weights = np.array([a.extra_weight for a in ARCHETYPE_SPECS])[cust.archetype[buyer_idx]]
        counts[buyer_idx] += rng.multinomial(rest, weights / weights.sum())
    return counts


def _generate_transactions(
    cfg: Config, cust: _Customers, prod: _Products, rng: np.random.Generator
) -> _Transactions:
    counts = _transaction_counts(cfg, cust, rng)
    # Lay transactions out grouped by archetype so each archetype's draws are one slice.
    order = np.argsort(cust.archetype, kind="stable").astype(np.int32)
    customer = np.repeat(order, counts[order])
    per_archetype = np.bincount(cust.archetype, weights=counts, minlength=len(ARCHETYPE_SPECS))
    bounds = np.concatenate([[0], np.cumsum(per_archetype.astype(np.int64))])

    by_price = np.lexsort((prod.price_cents, prod.category)).astype(np.int32)
    cat_size = np.bincount(prod.category, minlength=len(CATEGORIES))
    cat_start = np.concatenate([[0], np.cumsum(cat_size)[:-1]])

    t = cfg.transactions
    product = np.empty(t, dtype=np.int32)
    quantity = np.empty(t, dtype=np.int8)
    timestamp = np.empty(t, dtype=np.int64)
    for a, spec in enumerate(ARCHETYPE_SPECS):
        lo, hi = int(bounds[a]), int(bounds[a + 1])
        m = hi - lo
        if m == 0:
            continue
        category = _categorical(rng, np.array(spec.category_probs), m)
        tier = rng.beta(*spec.price_tier, size=m)
        size = cat_size[category]
        rank = np.minimum((tier * size).astype(np.int64), size - 1)
        product[lo:hi] = by_price[cat_start[category] + rank]
        quantity[lo:hi] = _categorical(rng, np.array(spec.quantity_probs), m) + 1
        first = _day(spec.active[0]) * SECONDS_PER_DAY
        if a == NEW_CUSTOMER:  # buys only on or after the signup day
            first = cust.signup_day[customer[lo:hi]] * SECONDS_PER_DAY
        end = (_day(spec.active[1]) + 1) * SECONDS_PER_DAY
        timestamp[lo:hi] = _uniform_int(rng, first, end, m)
    # Transaction IDs in random order, like the published file.
    shuffle = rng.permutation(t)
    return _Transactions(customer[shuffle], product[shuffle], timestamp[shuffle], quantity[shuffle])


@dataclass
class _Taste:
    product_group: np.ndarray  # int32 group of each product
    customer_group: np.ndarray  # int32 group of each customer


def _plant_taste(
    cfg: Config, tx: _Transactions, rng: np.random.Generator
) -> tuple[_Transactions, _Taste]:
    """Replace a ``taste_share`` of each customer's purchases by products of their group."""
    p, size = cfg.products, cfg.taste_group_size
    order = rng.permutation(p)
    product_group = np.empty(p, dtype=np.int32)
    product_group[order] = np.arange(p) // size
    groups = int(product_group.max()) + 1
    starts = np.arange(groups) * size
    lengths = np.minimum(starts + size, p) - starts
    customer_group = rng.integers(0, groups, cfg.customers).astype(np.int32)
    t = tx.customer.size
    replaced = rng.random(t) < cfg.taste_share
    offset = rng.random(t)
    group = customer_group[tx.customer]
    member = starts[group] + np.minimum(
        (offset * lengths[group]).astype(np.int64), lengths[group] - 1
    )
    product = np.where(replaced, order[member], tx.product).astype(np.int32)
    return (
        _Transactions(tx.customer, product, tx.timestamp, tx.quantity),
        _Taste(product_group, customer_group),
    )


def _plant_churn(
    cfg: Config, cust: _Customers, tx: _Transactions, rng: np.random.Generator
) -> tuple[_Transactions, np.ndarray, np.ndarray]:
    """Stop a ``churn_share`` of the eligible customers at a drawn date.

    Returns the transactions, every customer's last possible active day and the churner mask.
    A churner's purchases keep their count and order but are compressed linearly from
    [start of their window, end of it] into [start, churn day], so nothing is dropped.
    """
    n = cfg.customers
    active_until = np.array([_day(a.active[1]) for a in ARCHETYPE_SPECS])[cust.archetype]
    eligible = np.flatnonzero(cust.archetype != NEW_CUSTOMER)
    chosen = rng.permutation(eligible)[: round(cfg.churn_share * eligible.size)]
    churner = np.zeros(n, dtype=bool)
    churner[chosen] = True
    low, high = _day(CHURN_WINDOW[0]), _day(CHURN_WINDOW[1]) + 1
    drawn = _uniform_int(rng, low, high, n)
    active_until = np.where(churner, np.minimum(drawn, active_until), active_until)
    start = np.array([_day(a.active[0]) for a in ARCHETYPE_SPECS])[cust.archetype]
    window_end = np.array([_day(a.active[1]) + 1 for a in ARCHETYPE_SPECS])[cust.archetype]
    who = tx.customer
    moved = churner[who]
    first = start[who] * SECONDS_PER_DAY
    span = (window_end[who] - start[who]) * SECONDS_PER_DAY
    new_span = (active_until[who] + 1 - start[who]) * SECONDS_PER_DAY
    # integer arithmetic: exact and deterministic
    compressed = first + (tx.timestamp - first) * new_span // span
    timestamp = np.where(moved, compressed, tx.timestamp)
    return _Transactions(tx.customer, tx.product, timestamp, tx.quantity), active_until, churner


def _money(cents: np.ndarray) -> np.ndarray:
    """Cents to the nearest double, so that it prints with at most two decimals."""
    return np.asarray(cents, dtype=np.float64) / 100.0


@dataclass
class _IdWidths:
    customer: int
    product: int
    transaction: int


def _id_widths(cfg: Config) -> _IdWidths:
    """Padding of each ID kind, wide enough for the IDs that defect rows add as well."""
    kinds = [DEFECT_KINDS[i % len(DEFECT_KINDS)][2] for i in range(cfg.defects)]
    new_customers = sum(k in ("unparseable_signup_date", "unknown_customer_id") for k in kinds)
    new_products = sum(k in ("non_positive_price", "unknown_product_id") for k in kinds)
    new_transactions = sum(
        stem == "Transactions"
        and kind not in ("missing_transaction_id", "duplicate_transaction_id")
        for stem, _, kind in (DEFECT_KINDS[i % len(DEFECT_KINDS)] for i in range(cfg.defects))
    )
    return _IdWidths(
        customer=id_width(4, cfg.customers + new_customers),
        product=id_width(3, cfg.products + new_products),
        transaction=id_width(5, cfg.transactions + new_transactions),
    )


@dataclass
class _DefectRows:
    """Column-wise Python lists of one file's bad rows, plus their truth."""

    rows: dict[str, list[object]]
    truth: list[tuple[str, int, str, str]]


class _DefectPlanner:
    """Builds the defect rows; every row is valid except for its one listed defect."""

    def __init__(
        self,
        cfg: Config,
        prod: _Products,
        buyers: np.ndarray,
        widths: _IdWidths,
        rng: np.random.Generator,
    ) -> None:
        self.cfg = cfg
        self.prod = prod
        self.buyers = buyers
        self.widths = widths
        self.rng = rng
        kinds = [DEFECT_KINDS[i % len(DEFECT_KINDS)][2] for i in range(cfg.defects)]
        # Fresh numbers: first the IDs of rows added to Customers/Products, then the IDs
        # that Transactions reference but no file defines.
        self.next_customer = cfg.customers + 1
        self.next_unknown_customer = cfg.customers + 1 + kinds.count("unparseable_signup_date")
        self.next_product = cfg.products + 1
        self.next_unknown_product = cfg.products + 1 + kinds.count("non_positive_price")
        self.next_transaction = cfg.transactions + 1

    def pick(self, n: int) -> int:
        return int(self.rng.integers(0, n))

    def cid(self, number: int) -> str:
        return f"C{number:0{self.widths.customer}d}"

    def pid(self, number: int) -> str:
        return f"P{number:0{self.widths.product}d}"

    def tid(self, number: int) -> str:
        return f"T{number:0{self.widths.transaction}d}"

    def customer(self, number: int | None) -> dict[str, object]:
        day = int(_uniform_int(self.rng, _day(SIGNUP_FIRST), _day(SIGNUP_LAST) + 1, 1)[0])
        first = FIRST_NAMES[self.pick(len(FIRST_NAMES))]
        last = LAST_NAMES[self.pick(len(LAST_NAMES))]
        return {
            "CustomerID": None if number is None else self.cid(number),
            "CustomerName": f"{first} {last}",
            "Region": REGIONS[self.pick(len(REGIONS))],
            "SignupDate": str(np.datetime64(day, "D")),
        }

    def product(self, kind: str, occurrence: int) -> dict[str, object]:
        p = self.pick(self.cfg.products)
        cat = int(self.prod.category[p])
        name = f"{BRANDS[self.pick(len(BRANDS))]} {ITEMS[cat][self.pick(len(ITEMS[cat]))]}"
        low, high = CATEGORY_PRICE_RANGE[cat]
        price = round(float(low + self.rng.random() * (high - low)), 2)
        if kind == "duplicate_product_id":
            number = p + 1
        else:  # non_positive_price: a new product priced 0 or below
            number = self.next_product
            self.next_product += 1
            price = -round(price / 10, 2) if occurrence % 2 else 0.0
        return {
            "ProductID": self.pid(number),
            "ProductName": name,
            "Category": CATEGORIES[cat],
            "Price": price,
        }

    def transaction(self, kind: str, occurrence: int) -> dict[str, object]:
        customer = int(self.buyers[self.pick(self.buyers.size)]) + 1
        product = self.pick(self.cfg.products) + 1
        quantity = int(self.rng.integers(1, 5))
        start, end = _day(YEAR_START) * SECONDS_PER_DAY, _day(YEAR_END) * SECONDS_PER_DAY
        second = int(_uniform_int(self.rng, start, end, 1)[0])
        cents = int(self.prod.price_cents[product - 1])
        total_cents = quantity * cents
        row: dict[str, object] = {
            "TransactionID": None,
            "CustomerID": self.cid(customer),
            "ProductID": self.pid(product),
            "TransactionDate": str(np.datetime64(second, "s")).replace("T", " "),
        }
        if kind == "duplicate_transaction_id":
            row["TransactionID"] = self.tid(self.pick(self.cfg.transactions) + 1)
        elif kind != "missing_transaction_id":
            row["TransactionID"] = self.tid(self.next_transaction)
            self.next_transaction += 1
        if kind == "unknown_customer_id":
            row["CustomerID"] = self.cid(self.next_unknown_customer)
            self.next_unknown_customer += 1
        elif kind == "unknown_product_id":
            row["ProductID"] = self.pid(self.next_unknown_product)
            self.next_unknown_product += 1
        elif kind == "unparseable_transaction_date":
            row["TransactionDate"] = BAD_TRANSACTION_DATES[occurrence % len(BAD_TRANSACTION_DATES)]
        elif kind == "non_positive_quantity":
            quantity = -(occurrence % 3)  # 0, -1, -2; TotalValue stays Quantity x Price
            total_cents = quantity * cents
        elif kind == "total_value_mismatch":
            total_cents += 100 * (1 + occurrence % 5)
        row["Quantity"] = quantity
        row["TotalValue"] = total_cents / 100.0 + 0.0
        row["Price"] = cents / 100.0
        return row

    def plan(self) -> dict[str, _DefectRows]:
        columns = {
            "Customers": CUSTOMER_COLUMNS,
            "Products": PRODUCT_COLUMNS,
            "Transactions": TRANSACTION_COLUMNS,
        }
        base = {
            "Customers": self.cfg.customers,
            "Products": self.cfg.products,
            "Transactions": self.cfg.transactions,
        }
        out = {stem: _DefectRows({c: [] for c in cols}, []) for stem, cols in columns.items()}
        seen: dict[str, int] = {}
        for i in range(self.cfg.defects):
            stem, column, kind = DEFECT_KINDS[i % len(DEFECT_KINDS)]
            occurrence = seen.get(kind, 0)
            seen[kind] = occurrence + 1
            if kind == "missing_customer_id":
                row = self.customer(None)
            elif kind == "duplicate_customer_id":
                row = self.customer(self.pick(self.cfg.customers) + 1)
            elif kind == "unparseable_signup_date":
                row = self.customer(self.next_customer)
                self.next_customer += 1
                row["SignupDate"] = BAD_SIGNUP_DATES[occurrence % len(BAD_SIGNUP_DATES)]
            elif stem == "Products":
                row = self.product(kind, occurrence)
            else:
                row = self.transaction(kind, occurrence)
            target = out[stem]
            for name, value in row.items():
                target.rows[name].append(value)
            target.truth.append((stem, base[stem] + len(target.truth) + 1, column, kind))
        return out


def generate(cfg: Config, progress: Progress | None = None) -> Dataset:
    """Generate all tables in memory (Arrow), deterministically from ``cfg``."""
    cfg.validate()
    progress = progress or Progress(enabled=False)
    # Streams 4 and 5 (taste, churn) are drawn only when their option is on: spawning six
    # children leaves the first four, and so the default output, unchanged.
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(cfg.seed).spawn(6)]

    with progress.step("customers", cfg.customers):
        cust = _generate_customers(cfg, streams[0])
    with progress.step("products", cfg.products):
        prod = _generate_products(cfg, streams[1])
    with progress.step("transactions", cfg.transactions):
        tx = _generate_transactions(cfg, cust, prod, streams[2])
    taste: _Taste | None = None
    if cfg.taste_share > 0:
        with progress.step("plant taste", tx.customer.size):
            tx, taste = _plant_taste(cfg, tx, streams[4])
    churn: tuple[np.ndarray, np.ndarray] | None = None
    if cfg.churn_share > 0:
        with progress.step("plant churn", tx.customer.size):
            tx, active_until, churner = _plant_churn(cfg, cust, tx, streams[5])
            churn = (active_until, churner)
    counts = np.bincount(tx.customer, minlength=cfg.customers)
    widths = _id_widths(cfg)
    with progress.step("defects", cfg.defects):
        planner = _DefectPlanner(cfg, prod, np.flatnonzero(counts > 0), widths, streams[3])
        defects = planner.plan()

    cw, pw, tw = widths.customer, widths.product, widths.transaction
    with progress.step("assemble tables", cfg.customers + cfg.products + cfg.transactions):
        customer_ids = format_ids("C", np.arange(1, cfg.customers + 1), cw)
        product_ids = format_ids("P", np.arange(1, cfg.products + 1), pw)
        as_text = cfg.defects > 0
        signup = pa.array(cust.signup_day.astype(np.int32), pa.date32())
        customers = pa.table(
            {
                "CustomerID": customer_ids,
                "CustomerName": _join_names(FIRST_NAMES, cust.first, LAST_NAMES, cust.last),
                "Region": pa.array(REGIONS).take(pa.array(cust.region)),
                "SignupDate": signup.cast(pa.string()) if as_text else signup,
            }
        )
        flat_items = [item for group in ITEMS for item in group]
        products = pa.table(
            {
                "ProductID": product_ids,
                "ProductName": _join_names(BRANDS, prod.brand, flat_items, prod.item),
                "Category": pa.array(CATEGORIES).take(pa.array(prod.category)),
                "Price": _money(prod.price_cents),
            }
        )
        cents = prod.price_cents[tx.product]
        when = pa.array(tx.timestamp, pa.timestamp("s"))
        transactions = pa.table(
            {
                "TransactionID": format_ids("T", np.arange(1, cfg.transactions + 1), tw),
                "CustomerID": format_ids("C", tx.customer.astype(np.int64) + 1, cw),
                "ProductID": format_ids("P", tx.product.astype(np.int64) + 1, pw),
                "TransactionDate": when.cast(pa.string()) if as_text else when,
                "Quantity": tx.quantity.astype(np.int64),
                "TotalValue": _money(tx.quantity * cents),
                "Price": _money(cents),
            }
        )
        tables = {"Customers": customers, "Products": products, "Transactions": transactions}
        truth_rows: list[tuple[str, int, str, str]] = []
        for stem in TABLE_STEMS:
            bad = defects[stem]
            truth_rows.extend(bad.truth)
            if bad.truth:
                schema = tables[stem].schema
                extra = pa.table(
                    {c: pa.array(bad.rows[c], schema.field(c).type) for c in schema.names}
                )
                tables[stem] = pa.concat_tables([tables[stem], extra]).combine_chunks()
        archetypes = pa.table(
            {
                "CustomerID": customer_ids,
                "Archetype": pa.array(ARCHETYPES).take(pa.array(cust.archetype)),
            }
        )
        defect_table = pa.table(
            {
                name: pa.array([r[i] for r in truth_rows], typ)
                for i, (name, typ) in enumerate(
                    zip(
                        DEFECT_COLUMNS,
                        (pa.string(), pa.int64(), pa.string(), pa.string()),
                        strict=True,
                    )
                )
            }
        )
        product_taste = customer_taste = churn_table = None
        if taste is not None:
            product_taste = pa.table(
                dict(zip(PRODUCT_TASTE_COLUMNS, (product_ids, taste.product_group), strict=True))
            )
            customer_taste = pa.table(
                dict(zip(CUSTOMER_TASTE_COLUMNS, (customer_ids, taste.customer_group), strict=True))
            )
        if churn is not None:
            until = pa.array(churn[0].astype(np.int32), pa.date32())
            churn_table = pa.table(
                dict(zip(CHURN_COLUMNS, (customer_ids, until, pa.array(churn[1])), strict=True))
            )
    return Dataset(
        tables["Customers"],
        tables["Products"],
        tables["Transactions"],
        archetypes,
        defect_table,
        product_taste,
        customer_taste,
        churn_table,
    )


# --------------------------------------------------------------------------- writing

WRITE_CHUNK_ROWS = 1 << 20


def _csv_options(zeotap_encoding: bool) -> pacsv.WriteOptions:
    return pacsv.WriteOptions(
        include_header=True,
        batch_size=1 << 16,
        delimiter=",",
        eol="\r\n" if zeotap_encoding else "\n",
        null_string="",
        quoting_style="none",
        quoting_header="none",
    )


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file in the same folder, then move it into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_csv(
    table: pa.Table,
    path: Path,
    *,
    zeotap_encoding: bool = False,
    on_rows: Callable[[int], None] | None = None,
) -> None:
    """Write ``table`` as CSV like Zeotap's: no quotes, shortest money, optional BOM + CRLF."""
    options = _csv_options(zeotap_encoding)

    def write(tmp: Path) -> None:
        with tmp.open("wb") as sink:
            if zeotap_encoding:
                sink.write(b"\xef\xbb\xbf")
            with pacsv.CSVWriter(sink, table.schema, write_options=options) as writer:
                for start in range(0, max(table.num_rows, 1), WRITE_CHUNK_ROWS):
                    writer.write_table(table.slice(start, WRITE_CHUNK_ROWS))
                    if on_rows:
                        on_rows(min(start + WRITE_CHUNK_ROWS, table.num_rows))

    _write_atomic(path, write)


def write_parquet(
    table: pa.Table, path: Path, on_rows: Callable[[int], None] | None = None
) -> None:
    """Write ``table`` as Parquet (zstd), one row group per ~1M rows."""

    def write(tmp: Path) -> None:
        with pq.ParquetWriter(tmp, table.schema, compression="zstd") as writer:
            for start in range(0, max(table.num_rows, 1), WRITE_CHUNK_ROWS):
                writer.write_table(table.slice(start, WRITE_CHUNK_ROWS))
                if on_rows:
                    on_rows(min(start + WRITE_CHUNK_ROWS, table.num_rows))

    _write_atomic(path, write)


def write_dataset(
    data: Dataset,
    out: Path,
    truth_dir: Path,
    *,
    fmt: Format = "csv",
    zeotap_encoding: bool = False,
    progress: Progress | None = None,
) -> list[Path]:
    """Write the three tables to ``out`` and the truth files to ``truth_dir``."""
    progress = progress or Progress(enabled=False)
    out.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for stem, table in data.tables.items():
        path = out / f"{stem}.{fmt}"
        with progress.step(f"write {path.name}", table.num_rows) as update:
            if fmt == "csv":
                write_csv(table, path, zeotap_encoding=zeotap_encoding, on_rows=update)
            else:
                write_parquet(table, path, on_rows=update)
        written.append(path)
    truth = truth_dir / TRUTH_FILE
    write_csv(data.archetypes, truth)
    written.append(truth)
    defects = truth_dir / DEFECTS_FILE
    if data.defects.num_rows:
        write_csv(data.defects, defects)
        written.append(defects)
    else:  # a stale list from an earlier run would describe rows that are not there
        defects.unlink(missing_ok=True)
    for name, table in (
        (PRODUCT_TASTE_FILE, data.product_taste),
        (CUSTOMER_TASTE_FILE, data.customer_taste),
        (CHURN_FILE, data.churn),
    ):
        path = truth_dir / name
        if table is not None:
            write_csv(table, path)
            written.append(path)
        else:  # stale truth of an earlier run with the option on
            path.unlink(missing_ok=True)
    return written


# --------------------------------------------------------------------------- CLI


def _count(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the generator's options to ``parser`` (also used by ``customer-analytics generate``)."""
    defaults = Config()
    parser.add_argument(
        "--customers",
        type=_count(1),
        default=defaults.customers,
        help="number of customers (default %(default)s)",
    )
    parser.add_argument(
        "--products",
        type=_count(len(CATEGORIES)),
        default=defaults.products,
        help="number of products, at least 4 (default %(default)s)",
    )
    parser.add_argument(
        "--transactions",
        type=_count(0),
        default=defaults.transactions,
        help="number of transactions (default %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=_count(0),
        default=defaults.seed,
        help="random seed; same arguments give identical files (default %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("."),
        help="folder for Customers/Products/Transactions (default: .)",
    )
    parser.add_argument(
        "--truth-dir",
        type=Path,
        default=None,
        help=f"folder for {TRUTH_FILE} and {DEFECTS_FILE} (default: OUT/truth)",
    )
    parser.add_argument(
        "--format",
        dest="fmt",
        choices=("csv", "parquet"),
        default="csv",
        help="output format (default %(default)s)",
    )
    parser.add_argument(
        "--zeotap-encoding",
        action="store_true",
        help="CSV with UTF-8 BOM and CRLF line ends, like the published files",
    )
    parser.add_argument(
        "--defects",
        type=_count(0),
        default=0,
        help="append this many deliberately bad rows, listed in "
        f"{DEFECTS_FILE} (default %(default)s)",
    )
    parser.add_argument(
        "--taste-share",
        type=_share,
        default=defaults.taste_share,
        help="share of purchases drawn from the customer's product taste group, listed in "
        f"{PRODUCT_TASTE_FILE} and {CUSTOMER_TASTE_FILE} (default %(default)s: off)",
    )
    parser.add_argument(
        "--taste-group-size",
        type=_count(2),
        default=defaults.taste_group_size,
        help="products per taste group (default %(default)s)",
    )
    parser.add_argument(
        "--churn-share",
        type=_share,
        default=defaults.churn_share,
        help="share of customers (all archetypes but new_customer) who stop buying at a drawn "
        f"date, listed in {CHURN_FILE} (default %(default)s: off)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def run(args: argparse.Namespace) -> int:
    """Run the generator for parsed ``args``; returns the exit status."""
    cfg = Config(
        customers=args.customers,
        products=args.products,
        transactions=args.transactions,
        seed=args.seed,
        defects=args.defects,
        taste_share=args.taste_share,
        taste_group_size=args.taste_group_size,
        churn_share=args.churn_share,
    )
    out: Path = args.out
    truth_dir: Path = args.truth_dir if args.truth_dir is not None else out / "truth"
    progress = Progress(enabled=not args.quiet)
    started = time.perf_counter()
    try:
        data = generate(cfg, progress)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    paths = write_dataset(
        data, out, truth_dir, fmt=args.fmt, zeotap_encoding=args.zeotap_encoding, progress=progress
    )
    progress.note(
        f"wrote {', '.join(str(p) for p in paths)} in {time.perf_counter() - started:.2f} s"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="customer-analytics generate",
        description="Generate deterministic synthetic shop data in the Zeotap layout, with "
        "planted customer archetypes as a known truth.",
    )
    add_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
