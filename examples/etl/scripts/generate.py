"""generate_sales: writes a CSV of random but reproducible sales records.

A configurable share of the records is damaged the way real exports are
(unknown region, negative or absurd quantity, malformed date, price that is
not a number), so that clean_sales has something to do.
"""
import datetime
import random

from weft_op import config, log, materialize, output_path

from etl_io import write_csv

FIELDS = ["order_id", "date", "region", "product", "quantity", "unit_price"]
REGIONS = ["North", "south ", "EAST", "west"]  # untidy on purpose
PRODUCTS = {"widget": 2.50, "gadget": 12.00, "gizmo": 7.25, "doohickey": 99.90}


def good_record(rng, order_id):
    product = rng.choice(sorted(PRODUCTS))
    day = datetime.date(2024, 1, 1) + datetime.timedelta(days=rng.randrange(366))
    price = PRODUCTS[product] * rng.uniform(0.9, 1.1)
    return {
        "order_id": order_id,
        "date": day.isoformat(),
        "region": rng.choice(REGIONS),
        "product": product,
        "quantity": rng.randint(1, 20),
        "unit_price": f"{price:.2f}",
    }


def damage(rng, record):
    fault = rng.choice(["region", "quantity", "date", "price"])
    if fault == "region":
        record["region"] = rng.choice(["", "atlantis"])
    elif fault == "quantity":
        record["quantity"] = rng.choice([-3, 0, 100000])
    elif fault == "date":
        record["date"] = rng.choice(["2024-13-40", "yesterday", ""])
    else:
        record["unit_price"] = rng.choice(["N/A", "", "12,5"])
    return record


def main():
    cfg = config()
    rows, seed = int(cfg.get("rows", 1000)), int(cfg.get("seed", 42))
    bad_fraction = float(cfg.get("bad_fraction", 0.05))
    if rows < 0:
        raise SystemExit(f"config rows must be >= 0, got {rows}")
    rng = random.Random(seed)
    records, damaged = [], 0
    for i in range(rows):
        record = good_record(rng, f"o{i + 1:06d}")
        if rng.random() < bad_fraction:
            record = damage(rng, record)
            damaged += 1
        records.append(record)
    write_csv(output_path("sales"), FIELDS, records)
    materialize("raw_sales", rows=len(records), seed=seed)
    log(f"generated {rows} records ({damaged} damaged) with seed {seed}")


if __name__ == "__main__":
    main()
