"""clean_sales: keeps the valid sales records, normalised.

Normalising means: region lower-cased and stripped, date checked and its
month added, quantity an integer in 1..max_quantity, price a positive number,
and the line amount computed. Every dropped record is counted by reason.
"""
import datetime

from weft_op import check, config, input_path, log, materialize, output, output_path

from etl_io import read_csv, write_csv

FIELDS = ["order_id", "date", "month", "region", "product", "quantity",
          "unit_price", "amount"]


def normalise(record, regions, max_quantity):
    """The cleaned record, or (None, reason) when it must be dropped."""
    region = (record.get("region") or "").strip().lower()
    if region not in regions:
        return None, "unknown region"
    try:
        day = datetime.date.fromisoformat((record.get("date") or "").strip())
    except ValueError:
        return None, "bad date"
    try:
        quantity = int(record.get("quantity") or "")
    except ValueError:
        return None, "bad quantity"
    if not 1 <= quantity <= max_quantity:
        return None, "quantity out of range"
    try:
        price = float(record.get("unit_price") or "")
    except ValueError:
        return None, "bad price"
    if price <= 0:
        return None, "bad price"
    return {
        "order_id": record["order_id"],
        "date": day.isoformat(),
        "month": day.strftime("%Y-%m"),
        "region": region,
        "product": (record.get("product") or "").strip().lower(),
        "quantity": quantity,
        "unit_price": f"{price:.2f}",
        "amount": f"{quantity * price:.2f}",
    }, None


def main():
    cfg = config()
    regions = {str(r).strip().lower() for r in cfg.get("regions", [])}
    max_quantity = int(cfg.get("max_quantity", 1000))
    kept, reasons = [], {}
    raw = read_csv(input_path("raw"))
    for record in raw:
        clean, reason = normalise(record, regions, max_quantity)
        if clean is None:
            reasons[reason] = reasons.get(reason, 0) + 1
        else:
            kept.append(clean)
    write_csv(output_path("clean"), FIELDS, kept)
    dropped = len(raw) - len(kept)
    output("stats", {"read": len(raw), "kept": len(kept), "dropped": dropped,
                     "reasons": dict(sorted(reasons.items()))})
    materialize("clean_sales", rows=len(kept), dropped=dropped)
    # A check the catalog shows: at most 10% of the records dropped.
    share = dropped / len(raw) if raw else 0.0
    check("clean_sales", "few_drops", share <= 0.10, dropped_share=round(share, 4))
    log(f"kept {len(kept)} of {len(raw)} records, dropped {dropped}")


if __name__ == "__main__":
    main()
