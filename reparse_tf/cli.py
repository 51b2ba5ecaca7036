"""The ``reparse`` command line: dispatches to the modules of :mod:`reparse_tf.commands`."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# quiet TensorFlow's C++ start-up logging (CUDA probing on CPU hosts) for the CLI and its subprocesses
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# command module names under reparse_tf.commands, in help order
COMMANDS = ("schema", "zoo", "ingest", "cluster_gt", "train", "evaluate", "benchmark", "push", "pipeline", "parse",
            "same_source", "forensics", "defaults")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reparse", description="Model parsing of generative models.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"reparse_tf.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"reparse_tf.commands.{name}":
                raise
            continue
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # commands that set ``accepts_unknown`` (e.g. ingest) pass them on as Beam pipeline options
        if not getattr(args, "accepts_unknown", False):
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        args.beam_args = unknown
    try:
        result = args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError) as exc:
        print(f"reparse {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
