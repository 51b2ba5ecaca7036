"""Sub-commands of the ``reparse`` CLI: one module each, exposing ``add_parser(subparsers)``.

``add_parser`` must stay import-light (argparse only); heavy imports belong inside the handler it
registers with ``parser.set_defaults(func=...)``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable


def at_least(minimum: int) -> Callable[[str], int]:
    """argparse type: an integer ``>= minimum`` (a smaller one is refused with a message naming the flag)."""

    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    parse.__name__ = "int"  # argparse names it in "invalid int value: 'x'"
    return parse


PRESET_HELP = "training preset: tiny, cpu or paper, or NAME:field=value,... (e.g. cpu:encoder=spectral,readout=linear)"


def preset_arg(text: str) -> str:
    """argparse type: a training preset, ``NAME`` or ``NAME:field=value,...`` (checked here, passed on as text)."""
    from reparse_tf.training.presets import get_preset

    try:
        get_preset(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text
