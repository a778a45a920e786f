# Mapping in Python (docs/python.md "Mapping"): numbers() returns a list,
# .map(square) runs square once per item (square[0], square[1], ...),
# collect() gives the list of their results, in item order, to total.
from weft import collect, job

from ops.fanout import numbers, square, total


@job(description="Squares each number in a step of its own, skips 3, adds them up.")
def squares_py():
    squares = numbers().map(square, when="item != 3")
    total(collect(squares))
    # A map after a map: fourth[k] starts as soon as square[k] is done.
    fourth = squares.map(square.alias("fourth"))
    total.alias("total_fourth")(fourth.collect())
