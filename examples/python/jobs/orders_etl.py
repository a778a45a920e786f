# The ETL as a Python job, ending in a YAML op.
from weft import job, yaml_op

from ops.etl import extract, load, transform


@job(description="Extracts orders, totals them per region, writes the report.")
def orders_etl():
    report = load(transform(extract()))
    yaml_op("notify")(report=report)
