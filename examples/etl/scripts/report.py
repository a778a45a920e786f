"""write_report: a Markdown sales report, recorded as the asset sales_report.

The report has the totals, the revenue per region, a region x month revenue
table and what the cleaning step dropped; its materialization carries the
headline numbers as metadata so the UI can show them without opening it.
"""
from weft_op import config, inputs, log, materialize, output_path


def money(value, currency):
    return f"{value:,.2f} {currency}"


def render(title, currency, summary, stats):
    lines = [f"# {title}", ""]
    lines += [f"- orders: {summary['orders']:,}",
              f"- units: {summary['units']:,}",
              f"- revenue: {money(summary['revenue'], currency)}",
              f"- top region: {summary['top_region'] or 'none'}",
              f"- records dropped while cleaning: {stats['dropped']:,} "
              f"of {stats['read']:,}", ""]

    lines += ["## Revenue per region", "", "| region | revenue |", "| --- | ---: |"]
    for region, revenue in sorted(summary["regions"].items()):
        lines.append(f"| {region} | {money(revenue, currency)} |")
    lines.append("")

    months = summary["months"]
    cells = {(r["region"], r["month"]): r["revenue"] for r in summary["rows"]}
    lines += ["## Revenue per region and month", "",
              "| region | " + " | ".join(months) + " |",
              "| --- |" + " ---: |" * len(months)]
    for region in sorted(summary["regions"]):
        values = [f"{cells.get((region, m), 0.0):,.2f}" for m in months]
        lines.append(f"| {region} | " + " | ".join(values) + " |")
    lines.append("")

    if stats["reasons"]:
        lines += ["## Dropped records", "", "| reason | records |", "| --- | ---: |"]
        for reason, count in sorted(stats["reasons"].items()):
            lines.append(f"| {reason} | {count} |")
        lines.append("")
    return "\n".join(lines)


def main():
    cfg = config()
    values = inputs()
    title = cfg.get("title", "Sales report")
    currency = cfg.get("currency", "EUR")
    text = render(title, currency, values["summary"], values["stats"])
    with open(output_path("report"), "w", encoding="utf-8") as f:
        f.write(text)
    materialize("sales_report", title=title, orders=values["summary"]["orders"],
                revenue=values["summary"]["revenue"], currency=currency,
                top_region=values["summary"]["top_region"])
    log(f"wrote the report '{title}' ({len(text)} bytes)")


if __name__ == "__main__":
    main()
