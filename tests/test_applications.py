"""The user's commands on their own images: ``reparse parse`` and same-generator detection."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_evaluation import FakeParser, make_arrays

from reparse_tf.data.schema import load_schema
from reparse_tf.data.user_images import load_user_images
from reparse_tf.evaluation.same_source import (
    CATEGORIES,
    SAME,
    choose_threshold,
    cosine,
    evaluate_pairs,
    pair_scores,
    parsed_similarity,
    sample_pairs,
)

SCHEMA = load_schema()


def test_user_images_skip_bad_files_and_keep_the_rest(image_folder):
    data = load_user_images([image_folder, image_folder / "a" / "0.png", image_folder / "missing"], 32)
    assert data.images.shape == (7, 32, 32, 3) and data.images.dtype == np.uint8  # 0.png once, not twice
    assert sorted(Path(f).name for f in set(data.folders)) == ["a", "b"]
    reasons = dict(data.skipped)
    assert set(reasons) == {str(image_folder / "a" / "corrupt.png"), str(image_folder / "missing")}
    assert "no such file" in reasons[str(image_folder / "missing")]
    assert data.ignored == 1  # notes.txt


def _parse_json(capsys, *argv: str) -> tuple[int, dict, str]:
    from reparse_tf.cli import main

    rc = main(["parse", *argv, "--json"])
    out, err = capsys.readouterr()
    return rc, (json.loads(out) if rc == 0 else {}), err


def test_parse_cli_per_image_and_per_folder(trained, image_folder, capsys):
    rc, doc, err = _parse_json(capsys, str(image_folder), "--model", str(trained))
    assert rc == 0 and "corrupt.png" in err and len(doc["results"]) == 7
    assert [s["path"] for s in doc["skipped"]] == [str(image_folder / "a" / "corrupt.png")]
    first = doc["results"][0]["parameters"]
    assert [p["name"] for p in first] == SCHEMA.names
    for p, spec in zip(first, SCHEMA.params, strict=True):
        if spec.is_continuous:
            assert p["range"][0] <= p["value"] <= p["range"][1] and p["spread"] is None
        else:
            assert p["value"] in spec.classes and 0 <= p["probability"] <= 1
    rc, doc, _ = _parse_json(capsys, str(image_folder), "--model", str(trained), "--per-folder")
    assert rc == 0 and sorted(r["n_images"] for r in doc["results"]) == [3, 4]
    assert all("agreement" in p for p in doc["results"][0]["parameters"] if p["kind"] != "continuous")

    from reparse_tf.cli import main

    assert main(["parse", str(image_folder / "b"), "--model", str(trained)]) == 0
    assert "layers_per_block" in capsys.readouterr().out
    assert main(["parse", str(image_folder / "a" / "corrupt.png"), "--model", str(trained)]) == 1
    assert "no image could be parsed" in capsys.readouterr().err


def test_pair_scores_are_symmetric_and_one_for_identical_inputs():
    rng = np.random.default_rng(0)
    feats = {"cont": rng.random((6, 9)), "disc": rng.integers(0, 3, (6, 16)),
             "fingerprint": rng.normal(size=(6, 4, 4, 3)), "spectrum": rng.normal(size=(6, 10))}
    a = {k: v[:3] for k, v in feats.items()}
    b = {k: v[3:] for k, v in feats.items()}
    ab, ba, aa = pair_scores(a, b), pair_scores(b, a), pair_scores(a, a)
    assert set(ab) == {"parsed", "fingerprint", "spectrum"}
    for name in ab:
        np.testing.assert_allclose(ab[name], ba[name])
        np.testing.assert_allclose(aa[name], 1.0)
    one = np.ones((1, 2))
    assert parsed_similarity(one, np.array([[0, 1]]), one, np.array([[0, 2]]))[0] == pytest.approx(0.75)
    np.testing.assert_allclose(cosine(np.array([[1.0, 0.0]]), np.array([[0.0, 2.0]])), 0.0)


def test_choose_threshold_on_a_known_case():
    thr, acc = choose_threshold(np.array([0.1, 0.2, 0.3, 0.8, 0.9, 0.35]), np.array([0, 0, 0, 1, 1, 1], bool))
    assert 0.3 < thr <= 0.35 and acc == 1.0
    thr, acc = choose_threshold(np.array([0.5, 0.5, 0.5]), np.array([1, 0, 0], bool))  # ties: all one side
    assert acc == pytest.approx(2 / 3) and thr > 0.5


def test_sample_pairs_fall_in_their_categories():
    gms = np.repeat(np.array(["s1", "s2", "s3", "u1", "u2"]), 4)
    p = sample_pairs(gms, {"u1", "u2"}, 50, np.random.default_rng(0))
    assert np.bincount(p.category, minlength=5).tolist() == [50] * 5
    assert np.all(p.i != p.j) and np.array_equal(p.same, gms[p.i] == gms[p.j])
    unseen = np.char.startswith(gms, "u")
    for c, name in enumerate(CATEGORIES):
        n_unseen = unseen[p.i[p.category == c]].astype(int) + unseen[p.j[p.category == c]]
        expected = {"same seen GM": 0, "same unseen GM": 2, "two seen GMs": 0, "two unseen GMs": 2}.get(name, 1)
        assert set(n_unseen.tolist()) == {expected} and np.all(p.same[p.category == c] == SAME[c])
    # one unseen GM: no "two unseen GMs" pairs
    p = sample_pairs(gms, {"u1"}, 10, np.random.default_rng(0))
    assert 3 not in set(p.category.tolist())


def test_same_source_thresholds_come_from_validation_pairs_only():
    arrays = make_arrays(n_gms=12, per_gm=10)
    gm = arrays["gm"]
    seen_gms, val_gms, test_gms = [f"gm{i}" for i in range(6)], ["gm6", "gm7", "gm8"], ["gm9", "gm10", "gm11"]

    def part(gms: list[str], a: dict = arrays) -> dict:
        keep = np.isin(a["gm"], gms)
        return {"images": a["images"][keep], "gm": a["gm"][keep]}

    parser = FakeParser(arrays, seen_gms)
    res = evaluate_pairs(parser, part(seen_gms), part(val_gms), part(test_gms), n_per_category=60)
    assert res["test"]["parsed"]["auc"] > 0.9 and res["test"]["parsed"]["accuracy"] > 0.8
    assert set(res["test"]["parsed"]["error_by_category"]) == set(CATEGORIES)
    # scramble the test GMs' images: thresholds stay, test scores drop to chance
    scrambled = {k: np.array(v) for k, v in arrays.items()}
    rows = np.flatnonzero(np.isin(gm, test_gms))
    scrambled["images"][rows, 0, 0, 0] = np.random.default_rng(1).choice([9, 10, 11], len(rows))
    res2 = evaluate_pairs(FakeParser(arrays, seen_gms), part(seen_gms), part(val_gms), part(test_gms, scrambled),
                          n_per_category=60)
    assert res2["thresholds"] == res["thresholds"]
    assert res2["test"]["parsed"]["auc_unseen"] < 0.75 < res["test"]["parsed"]["auc_unseen"]


def test_same_source_cli_pair_and_evaluation(trained, image_folder, tmp_path, capsys):
    import shutil

    from reparse_tf.cli import main

    model = tmp_path / "model"
    shutil.copytree(trained, model)
    meta = json.loads((model / "parser_meta.json").read_text())
    assert not meta["validation_gms"]  # 8 synthetic GMs give none; name one for the evaluation's wiring
    meta["validation_gms"], meta["train_gms"] = meta["train_gms"][:1], meta["train_gms"][1:]
    (model / "parser_meta.json").write_text(json.dumps(meta))
    examples = meta["examples_dir"]
    a, b = str(image_folder / "a" / "0.png"), str(image_folder / "b" / "1.png")
    assert main(["same-source", a, b, "--model", str(model), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)["scores"]
    assert scores["parsed"]["threshold"] is None and set(scores) == {"parsed", "fingerprint"}
    assert main(["same-source", "--evaluate", "--model", str(model), "--examples", examples, "--out",
                 str(tmp_path / "ss"), "--per-gm", "4", "--pairs", "20"]) == 0
    assert (tmp_path / "ss" / "same_source.json").is_file() and (model / "same_source.json").is_file()
    capsys.readouterr()
    assert main(["same-source", a, a, "--model", str(model), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)["scores"]
    assert set(scores) == {"parsed", "fingerprint", "spectrum"}
    assert all(s["same"] is True and s["score"] == pytest.approx(1.0) for s in scores.values())
    assert main(["same-source", a, "--model", str(model)]) == 2  # one image: a clear error
    # the thresholds travel with the pushed SavedModel (no FEN output there: parsed and spectrum scores)
    capsys.readouterr()
    assert main(["push", str(model), "--serving-dir", str(tmp_path / "serving")]) == 0
    capsys.readouterr()
    assert main(["same-source", a, b, "--model", str(tmp_path / "serving" / "reparse"), "--json"]) == 0
    pushed = json.loads(capsys.readouterr().out)["scores"]
    assert set(pushed) == {"parsed", "spectrum"} and pushed["parsed"]["threshold"] == scores["parsed"]["threshold"]
