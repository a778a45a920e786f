# Ops of the Python mapping example (jobs/squares_py.py): a list, an op run
# once per item, and a total of the items that have a value.
from dataclasses import dataclass

from weft import op


@dataclass
class NumbersConfig:
    n: int = 5


@op
def numbers(config: NumbersConfig) -> list:
    """The numbers 1 to n."""
    return list(range(1, config.n + 1))


@op
def square(x: int) -> int:
    """x squared."""
    return x * x


@op
def total(xs: list) -> int:
    """The sum of the items that have a value."""
    return sum(x for x in xs if x is not None)
