"""The installed distribution: only reparse names at the top level, the design card's folders inside it."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys


def test_installed_distribution_exposes_only_reparse_top_level_names(tmp_path):
    top = importlib.metadata.distribution("reparse").read_text("top_level.txt").split()
    assert top and all(name.startswith("reparse") for name in top), top
    # outside the repository: the generic names are not importable, reparse's own modules are
    code = ("import importlib.util as u, reparse_tf.components._common, reparse_tf.pipeline.configs;"
            "from reparse_tf.data.schema import SCHEMA_PATH;"
            "print([n for n in ('components', 'pipeline', 'schemas') if u.find_spec(n)], SCHEMA_PATH.is_file())")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]", "True"], out.stdout + out.stderr
