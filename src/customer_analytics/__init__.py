"""Pure logic behind the customer-analytics dbt project.

The dbt Python models in ``python_models/`` are thin adapters over the functions here;
everything in this package is testable with plain pytest, without dbt.
"""

__version__ = "0.1.0"
