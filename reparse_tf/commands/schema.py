"""``reparse schema``: print the 25 hyperparameters as a table."""

from __future__ import annotations

import argparse
import json


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schema", help="print the hyperparameter schema")
    p.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from reparse_tf.data.schema import SCHEMA_PATH, load_schema

    rows = load_schema().table()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title=f"reparse hyperparameters ({SCHEMA_PATH})")
    for col in rows[0]:
        table.add_column(col)
    for row in rows:
        table.add_row(*row.values())
    Console(width=160).print(table)
    return 0
