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


def test_wheel_ships_the_default_models(tmp_path):
    """The packaged default models (`reparse defaults build --install`) travel in the wheel, so `pip install`
    then `reparse parse my_images/` works offline."""
    import zipfile
    from pathlib import Path

    from reparse_tf.serving.default_models import PACKAGED_DIR, TASKS

    repo = Path(__file__).parents[1]
    shipped = sorted(p.relative_to(repo).as_posix() for p in PACKAGED_DIR.rglob("*") if p.is_file())
    assert all(f"reparse_tf/default_models/{t}/model.keras" in shipped for t in TASKS), shipped
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(tmp_path), str(repo)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("reparse-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert set(shipped) <= names, sorted(set(shipped) - names)
