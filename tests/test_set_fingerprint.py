"""The set fingerprint: content cancels over a set, a generator's fixed pattern stays; set parsing on unseen GMs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reparse_tf.data.schema import load_schema
from reparse_tf.model.set_fingerprint import ImageCache, SetParser, draw_sets, fixed_pattern_share, residuals

SCHEMA = load_schema()


def source_images(rng: np.random.Generator, n: int, pattern: bool, size: int = 32) -> np.ndarray:
    """``n`` uint8 images of smooth random content; with ``pattern``, plus a checkerboard of this source's own
    amplitude and phase (what a stride-2 up-sampling leaves in every image it makes)."""
    content = rng.uniform(0.2, 0.8, (n, size // 4, size // 4, 3)).repeat(4, axis=1).repeat(4, axis=2)
    content = content + rng.normal(0, 0.03, content.shape)
    if pattern:
        yy, xx = np.mgrid[0:size, 0:size]
        phase = rng.integers(0, 2)
        checker = np.where((yy + xx + phase) % 2 == 0, 1.0, -1.0) * rng.uniform(0.02, 0.05)
        content = content + checker[None, :, :, None]
    return np.clip(content * 255, 0, 255).astype(np.uint8)


def test_content_cancels_over_a_set_and_a_fixed_pattern_stays():
    rng = np.random.default_rng(0)
    n = 50
    plain = residuals(source_images(rng, n, pattern=False))
    patterned = residuals(source_images(rng, n, pattern=True))
    _, share_plain = fixed_pattern_share(plain)
    _, share_pattern = fixed_pattern_share(patterned)
    nyquist = (16, 16)   # the checkerboard's frequency on a 32 x 32 image
    assert share_plain.mean() == pytest.approx(1 / n, rel=0.5)
    assert share_plain[nyquist] < 0.2
    assert share_pattern[nyquist] > 0.9


def test_draw_sets_disjoint_while_images_last_and_clear_errors():
    gms = np.array(["a"] * 20 + ["b"] * 5)
    sets = draw_sets(gms, ["a", "b"], size=5, count=4, rng=np.random.default_rng(0))
    a = [ix for g, ix in sets if g == "a"]
    assert len(a) == 4 and len(np.unique(np.concatenate(a))) == 20          # 4 x 5 of 20 images: disjoint
    b = [ix for g, ix in sets if g == "b"]
    assert all(sorted(ix.tolist()) == list(range(20, 25)) for ix in b)       # only 5 images: all of them
    with pytest.raises(ValueError, match="'c' has no images"):
        draw_sets(gms, ["c"], 5, 1, np.random.default_rng(0))
    cache = ImageCache.of(source_images(np.random.default_rng(0), 3, False))
    with pytest.raises(ValueError, match="at least 2 images"):
        cache.set_features(np.array([0]))


def test_set_parser_reads_a_fixed_pattern_of_unseen_sources(tmp_path):
    """The label (upsampling type) is whether a source leaves a checkerboard of its own amplitude and phase; the
    set parser, fitted on 12 sources, names it for the sets of 8 sources it never saw (chance: half of them)."""
    rng = np.random.default_rng(1)
    up = list(SCHEMA.discrete_index).index(SCHEMA.index("upsampling_type"))
    images, gms, codes = [], [], {}
    for s in range(20):
        codes[f"s{s}"] = s % 2
        images.append(source_images(rng, 40, pattern=bool(s % 2)))
        gms += [f"s{s}"] * 40
    cache = ImageCache.of(np.concatenate(images))
    gms = np.array(gms)
    train, test = [f"s{s}" for s in range(12)], [f"s{s}" for s in range(12, 20)]
    fit_sets = draw_sets(gms, train, 10, 4, rng)
    disc = np.zeros((len(fit_sets), len(SCHEMA.discrete)), int)
    disc[:, up] = [codes[g] for g, _ in fit_sets]
    cont = np.tile(np.linspace(0, 1, len(SCHEMA.continuous)), (len(fit_sets), 1))
    parser = SetParser.fit(cache, fit_sets, cont, disc, set_size=10, schema=SCHEMA)
    test_sets = draw_sets(gms, test, 10, 2, rng)
    _, pred, probs = parser.predict(cache, [ix for _, ix in test_sets])
    assert np.mean(pred[:, up] == [codes[g] for g, _ in test_sets]) >= 0.9
    assert probs[up].shape == (len(test_sets), SCHEMA.discrete[up].num_classes)
    # saved as plain arrays (no pickle), loaded, it answers exactly the same
    parser.save(tmp_path)
    again = SetParser.load(tmp_path)
    cont2, pred2, probs2 = again.predict(cache, [ix for _, ix in test_sets])
    cont1, _, _ = parser.predict(cache, [ix for _, ix in test_sets])
    np.testing.assert_allclose(cont2, cont1, rtol=1e-6, atol=1e-9)
    assert np.array_equal(pred2, pred) and all(np.allclose(a, b) for a, b in zip(probs2, probs, strict=True))
    assert again.image_size == 32 and again.set_size == 10
    with pytest.raises(FileNotFoundError, match="no set parser"):
        SetParser.load(tmp_path / "elsewhere")


def test_set_benchmark_on_the_tiny_zoo(tiny_examples, tmp_path, capsys, benchmark_script):
    """The benchmark script end to end: every predictor scored on the same test sets of unseen GMs, fitted on the
    fold's fitted GMs only, paired tests and a markdown table."""
    from reparse_tf.targets.cluster_ground_truth import read_fold_info

    out = tmp_path / "set"
    bench = benchmark_script("set_fingerprint")
    assert bench.main(["--examples", str(tiny_examples), "--out", str(out), "--folds", "0", "--sizes", "4",
                       "--draws", "1", "--train-sets", "3", "--test-sets", "2", "--twins-ablation"]) == 0
    assert "N=4 fold 0 draw 0" in capsys.readouterr().out
    fold = json.loads((out / "cache" / "fold0_n4_draw0.json").read_text())
    _, folds, _ = read_fold_info(tiny_examples)
    test = sorted(g for g, f in folds.items() if f == 0)
    assert sorted(fold["_split"]["test"]) == test and not set(fold["_split"]["fit"]) & set(test)
    for p in ("set_fingerprint", "spectral_peer_vote", "constant", "family_oracle"):
        assert sorted(fold[p]["per_gm"]) == [f"0/{g}" for g in test]
        assert 0 <= fold[p]["summary"]["continuous_l1"] <= 1
    # the tiny zoo has no twins: the parser fitted without them fits the same sets
    assert fold["set_fingerprint_sources"]["summary"] == fold["set_fingerprint"]["summary"]
    result = json.loads((out / "set_fingerprint.json").read_text())
    assert "set_fingerprint - spectral_peer_vote" in result["sizes"]["4"]["paired"]
    assert "| set fingerprint + mean image spectra |" in (out / "set_fingerprint.md").read_text()


def test_parse_set_reads_each_folder_as_a_set(trained, tiny_zoo, tiny_examples, tmp_path, capsys):
    """``reparse parse --set``: the set parser beside a model dir (fitted on fold 0's fitted GMs, with its card)
    answers once per folder from disjoint sets of its images; a folder smaller than a set is named and skipped."""
    import shutil

    from reparse_tf.cli import main
    from reparse_tf.evaluation.set_evaluation import build_set_parser

    model = tmp_path / "model"
    shutil.copytree(trained, model)
    build_set_parser(tiny_examples, 0, model, size=4, train_sets=3, test_sets=2)
    card = json.loads((model / "set_parser.json").read_text())["card"]
    assert card["fold"] == 0 and not set(card["fit_gms"]) & set(card["test_gms"])
    assert {"set_fingerprint", "spectral_peer_vote", "constant", "family_oracle"} <= set(card["rows"])
    gm = card["test_gms"][0]
    images = sorted((tiny_zoo / gm).glob("*.png"))
    (tmp_path / "user" / "big").mkdir(parents=True)
    (tmp_path / "user" / "small").mkdir()
    for f in images[:9]:
        shutil.copy(f, tmp_path / "user" / "big" / f.name)
    for f in images[:2]:
        shutil.copy(f, tmp_path / "user" / "small" / f.name)
    assert main(["parse", str(tmp_path / "user"), "--model", str(model), "--set", "--json"]) == 0
    out, err = capsys.readouterr()
    (rec,) = json.loads(out)["results"]
    assert rec["source"].endswith("big") and (rec["n_images"], rec["n_sets"], rec["set_size"]) == (9, 2, 4)
    assert [p["name"] for p in rec["parameters"]] == SCHEMA.names
    assert "skipped folder" in err and "small: 2 images" in err
    assert main(["parse", str(tmp_path / "user" / "big"), "--model", str(model), "--set"]) == 0
    assert "9 images, 2 sets of 4" in capsys.readouterr().out
    assert main(["parse", str(tmp_path / "user" / "small"), "--model", str(model), "--set"]) == 1
    assert "no folder holds 4 images" in capsys.readouterr().err
