# The classic first job, in Python: add x, add one, split in two, add one to
# the high half, sum the halves. The body is traced, never run: each call
# records a step. With run.yaml (x: 5, num: 10): 10 -> 15 -> 16 -> (8, 8) ->
# 9 -> 8 + 9 = 17.
from weft import job, schedule

from ops.math import add_one, add_x, split, sum_


@job(tags={"team": "examples", "kind": "tutorial"})
def arithmetic_py():
    """Adds, splits and sums integers with Python ops."""
    low, high = split(add_one(add_x()))
    sum_.alias("total")(low, add_one.alias("add_one_b")(high))


# Off until `weft schedule on arithmetic_py_nightly`.
schedule(arithmetic_py, name="arithmetic_py_nightly", cron="30 6 * * *",
         timezone="Europe/Amsterdam", default="off",
         config={"ops": {"add_x": {"config": {"x": 5}, "inputs": {"num": 10}}}})
