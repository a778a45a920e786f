"""aggregate_sales: orders, units and revenue per region and month.

Writes the table as CSV (a path output) and a JSON summary with the totals,
the revenue per region and the same rows, for ops that want JSON.
"""
from weft_op import input_path, log, materialize, output, output_path

from etl_io import read_csv, write_csv

FIELDS = ["region", "month", "orders", "units", "revenue"]


def main():
    groups = {}
    for record in read_csv(input_path("clean")):
        key = (record["region"], record["month"])
        g = groups.setdefault(key, {"orders": 0, "units": 0, "revenue": 0.0})
        g["orders"] += 1
        g["units"] += int(record["quantity"])
        g["revenue"] += float(record["amount"])
    rows = [{"region": region, "month": month, "orders": g["orders"],
             "units": g["units"], "revenue": round(g["revenue"], 2)}
            for (region, month), g in sorted(groups.items())]
    write_csv(output_path("by_region_month"), FIELDS, rows)
    materialize("sales_by_region_month", rows=len(rows))

    per_region = {}
    for row in rows:
        per_region[row["region"]] = round(
            per_region.get(row["region"], 0.0) + row["revenue"], 2)
    total = round(sum(per_region.values()), 2)
    output("summary", {
        "orders": sum(r["orders"] for r in rows),
        "units": sum(r["units"] for r in rows),
        "revenue": total,
        "regions": per_region,
        "top_region": max(per_region, key=per_region.get) if per_region else None,
        "months": sorted({r["month"] for r in rows}),
        "rows": rows,
    })
    log(f"{len(rows)} region/month groups, revenue {total:.2f}")


if __name__ == "__main__":
    main()
