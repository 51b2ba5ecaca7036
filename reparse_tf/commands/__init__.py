"""Sub-commands of the ``reparse`` CLI: one module each, exposing ``add_parser(subparsers)``.

``add_parser`` must stay import-light (argparse only); heavy imports belong inside the handler it
registers with ``parser.set_defaults(func=...)``.
"""
