# A small ETL without pandas: extract rows from a CSV shipped with the code,
# transform them into per-region totals, load a JSON report (a `path`
# output) and record it as the asset sales_report.
import csv
import json
import pathlib
from dataclasses import dataclass

from weft import op
from weft_op import code_path


@dataclass
class ExtractConfig:
    file: str = "data/orders.csv"


@op(tags={"stage": "extract"})
def extract(config: ExtractConfig) -> list:
    """Reads the orders CSV into a list of rows."""
    with open(code_path(*config.file.split("/")), newline="") as f:
        return [{"region": r["region"], "cents": round(float(r["amount"]) * 100)}
                for r in csv.DictReader(f)]


@dataclass
class TransformConfig:
    min_amount: float = 10.0


@op(retries=1)
def transform(context, rows: list, config: TransformConfig) -> dict:
    """Totals the amounts (in cents) per region, leaving out small orders."""
    totals = {}
    kept = [r for r in rows if r["cents"] >= config.min_amount * 100]
    for r in kept:
        totals[r["region"]] = totals.get(r["region"], 0) + r["cents"]
    context.log.info("kept %d of %d orders" % (len(kept), len(rows)))
    return totals


@op
def load(context, totals: dict) -> pathlib.Path:
    """The report as a file (a `path` output takes a file's path or its
    bytes), recorded as the asset sales_report."""
    report = {"totals_cents": totals, "grand_total_cents": sum(totals.values())}
    context.materialize("sales_report", regions=len(totals))
    return json.dumps(report, sort_keys=True).encode()
