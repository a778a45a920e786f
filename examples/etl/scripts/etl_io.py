"""etl_io: CSV reading and writing shared by the ETL scripts.

The CSV files are `path` ports: weft_op.input_path and weft_op.output_path
say where they are; these helpers only fix the dialect and encoding so every
step reads what the previous one wrote.
"""
import csv


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_csv(path, fields, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
