# The arithmetic example's ops as decorated Python functions: inputs from the
# parameters' type hints, outputs from the return annotation, config from a
# dataclass. weft collects this file by itself (no YAML entry).
from dataclasses import dataclass, field

from weft import Out, op


@dataclass
class AddXConfig:
    x: int = field(default=1, metadata={"description": "the amount added"})


@op
def add_x(num: int, config: AddXConfig) -> int:
    """Adds the configured amount x to its input."""
    return num + config.x


@op
def add_one(num: int) -> int:
    """Adds one."""
    return num + 1


@op
def split(num: int) -> Out(low=int, high=int):
    """Splits a number in two; low gets the smaller half."""
    return num // 2, num - num // 2


@op(retries={"max": 2, "delay": "1s", "backoff": 2}, timeout="30s")
def sum_(a: int, b: int) -> int:
    """Adds its two inputs."""
    return a + b
