"""Twin GMs: the twin spec, twin zoo builds, folds that keep twins together, and the twin measures."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest

from reparse_tf.data.folds import assign_folds, fold_gms, twin_group, validation_split
from reparse_tf.data.labels import read_labels
from reparse_tf.evaluation.twins import twin_agreement, twin_pairs, twin_retrieval
from reparse_tf.zoo.content import CONTENTS
from reparse_tf.zoo.spec import draw_specs, twin


def test_twin_keeps_the_architecture_and_changes_content_and_seed():
    specs = draw_specs("standard", seed=0)
    for spec in specs[::5]:
        t = twin(spec, 1)
        assert t == twin(spec, 1) and t.name == f"{spec.name}_twin1"
        assert t.content == CONTENTS[(CONTENTS.index(spec.content) + 1) % len(CONTENTS)] and t.seed != spec.seed
        same = {k: v for k, v in asdict(spec).items() if k not in ("name", "content", "seed")}
        assert same == {k: v for k, v in asdict(t).items() if k not in ("name", "content", "seed")}
        assert len({twin(spec, k).content for k in (1, 2, 3)} | {spec.content}) == 4
    with pytest.raises(ValueError, match="twin index"):
        twin(specs[0], 4)


@pytest.fixture(scope="module")
def tiny_twins(tiny_zoo, tmp_path_factory):
    """Twins of two GMs of the tiny zoo."""
    from reparse_tf.zoo.build import build_zoo

    return build_zoo(tmp_path_factory.mktemp("twins") / "zoo", twins_of=tiny_zoo, limit=2, progress=False)


def test_twin_zoo_build_has_the_source_labels_on_other_contents(tiny_zoo, tiny_twins, tmp_path):
    from reparse_tf.zoo.build import build_zoo

    root = tiny_twins
    src, tw = read_labels(tiny_zoo / "labels.csv"), read_labels(root / "labels.csv")
    assert len(tw.gms) == 2 and all(twin_group(g) in src.gms and g.endswith("_twin1") for g in tw.gms)
    for g in tw.gms:
        assert np.array_equal(tw.values[tw.row(g)], src.values[src.row(twin_group(g))])  # counted labels agree
        assert tw.contents[tw.row(g)] != src.contents[src.row(twin_group(g))]
        assert len(list((root / g).glob("*.png"))) == 32
    cov = json.loads((root / "coverage.json").read_text())
    assert cov["twins_of"] == str(tiny_zoo) and cov["redraws"] == 0 and cov["preset"] == "tiny"
    with pytest.raises(FileNotFoundError, match="coverage.json"):
        build_zoo(tmp_path / "x", twins_of=tmp_path / "nowhere", progress=False)


def _gms(n_per_type: int = 8) -> tuple[list[str], dict[str, str]]:
    gms = [f"{t.lower()}_{i:03d}" for t in ("GAN", "VAE", "AA") for i in range(n_per_type)]
    return gms, {g: g[:3].upper().rstrip("_") for g in gms}


def test_folds_and_validation_keep_twins_with_their_source():
    gms, types = _gms()
    folds = assign_folds(gms, [types[g] for g in gms], 4, seed=1)
    twins = [f"{g}_twin1" for g in gms[::2]]
    types2 = {**types, **{t: types[twin_group(t)] for t in twins}}
    all_gms = gms + twins
    folds2 = assign_folds(all_gms, [types2[g] for g in all_gms], 4, seed=1)
    assert {g: folds2[g] for g in gms} == folds  # adding twins moves no other GM
    assert all(folds2[t] == folds2[twin_group(t)] for t in twins)
    for k in range(4):
        split = fold_gms(folds2, k, types2, 0.25, seed=0)
        for part in (split.fit, split.validation, split.test):
            assert all(twin_group(g) in part for g in part) and all(t in part for t in twins if twin_group(t) in part)
    fit, val = validation_split(gms, types, 0.25)
    fit2, val2 = validation_split(all_gms, types2, 0.25)
    assert [g for g in val2 if g in gms] == val and set(val2) - set(val) == {t for t in twins if twin_group(t) in val}


def _grouped(rng, names, centre):
    feats, rows = [], []
    for g in names:
        feats.append(centre(g) + 0.01 * rng.normal(size=(5, 6)))
        rows += [g] * 5
    return np.concatenate(feats), np.array(rows)


def test_twin_retrieval_finds_architecture_or_content_structure():
    rng = np.random.default_rng(0)
    src = [f"gan_{i:03d}" for i in range(6)]
    names = src + [f"{g}_twin1" for g in src]
    family = {g: "GAN" for g in names}
    content = {**{g: ("digits", "face")[i % 2] for i, g in enumerate(src)},
               **{f"{g}_twin1": ("digits", "face")[(i + 1) % 2] for i, g in enumerate(src)}}
    arch = {g: rng.normal(size=6) for g in src}
    x, gms = _grouped(rng, names, lambda g: arch[twin_group(g)])  # features = the architecture
    r = twin_retrieval(x, gms, content, family)
    assert r["twin_nn"] == 1.0 and r["twin_rank"] == 1 and r["twin_nn_chance"] == pytest.approx(1 / 11)
    assert r["family_nn"] == 1.0 and r["family_nn_chance"] == 1.0
    look = {"digits": rng.normal(size=6), "face": rng.normal(size=6)}
    x, gms = _grouped(rng, names, lambda g: 3 * look[content[g]] + 0.3 * rng.normal(size=6))  # = the content
    r = twin_retrieval(x, gms, content, family)
    assert r["content_nn"] == 1.0 and r["twin_nn"] == 0.0 and r["content_nn_chance"] == pytest.approx(5 / 11)


def test_twin_agreement_tells_architecture_readers_from_content_readers():
    src = [f"vae_{i:03d}" for i in range(5)]
    names = src + [f"{g}_twin1" for g in src]
    gms = np.repeat(names, 4)
    family = {g: "VAE" for g in names}
    value = {g: i / 10 for i, g in enumerate(src)}
    cont = np.array([[value[twin_group(g)]] * 3 for g in gms])
    disc = np.array([[i % 2, i % 3] for i in (src.index(twin_group(g)) for g in gms)])
    a = twin_agreement(cont, disc, gms, family, seed=0)
    assert a["pairs"] == 5 and a["cont_l1"] == 0.0 and a["disc_agree"] == 1.0
    assert a["cont_l1_others"] > 0.05 and a["disc_agree_others"] < 1.0
    flip = np.array([[float(g.endswith("_twin1"))] * 3 for g in gms])  # reads the content only
    b = twin_agreement(flip, disc * 0, gms, family, seed=0)
    assert b["cont_l1"] == 1.0 and b["cont_l1_others"] < 1.0
    assert twin_pairs(["a", "a_twin1", "b_twin1"]) == [("a", "a_twin1")]


def test_twins_benchmark_scores_every_group_without_training(tiny_zoo, tiny_examples, tiny_twins, tmp_path,
                                                             benchmark_script):
    from reparse_tf.zoo.build import build_zoo

    bench = benchmark_script("twins")
    out = tmp_path / "bench"
    folds = json.loads((tiny_examples / "manifest.json").read_text())["folds"]
    k = next(folds[twin_group(g)] for g in read_labels(tiny_twins / "labels.csv").gms)  # a fold with a twin
    second = build_zoo(tmp_path / "twins2", twins_of=tiny_zoo, twin_index=2, limit=1, progress=False)
    assert bench.main(["--examples", str(tiny_examples), "--twins", str(tiny_twins), str(second), "--out", str(out),
                       "--folds", str(k), "--no-train", "--peer-images-per-gm", "8", "--all-twins"]) == 0
    res = json.loads((out / "twins.json").read_text())
    pair = json.loads((out / "pair_examples" / "manifest.json").read_text())["folds"]
    assert {g: pair[g] for g in folds} == folds and all(pair[g] == pair[twin_group(g)] for g in pair)
    assert res["pairs"] == 3 == res["pairs_with_identical_labels"] and res["architectures"] == 2
    scores = res["folds"][str(k)]["scores"]
    assert set(scores) == {"spectral_peer_S", "spectral_peer_ST", "constant", "family_oracle"}
    assert "seen_arch" not in scores["spectral_peer_ST"]
    assert scores["constant"]["unseen"]["summary"]["continuous_l1"] > 0
    assert res["retrieval"]["spectral_features"]["n_with_twin"] == 5  # one source with two twins, one with one
    assert "Twin agreement" in (out / "twins.md").read_text()
    content_bench = benchmark_script("content_invariance")
    assert content_bench.main(["--twins-out", str(out), "--folds", str(k), "--images-per-gm", "8"]) == 0
    inv = json.loads((out / "content_invariance.json").read_text())
    assert set(inv["table"]) == {"raw", "content_standardised", "minus_real_content_mean"}
    assert inv["retrieval"]["raw"]["n_with_twin"] == 5
    # twins whose samples fail the quality screen are left out unless asked for
    fake = tmp_path / "fake"
    (fake / "_specs").mkdir(parents=True)
    (fake / "labels.csv").write_text("gm,gm_type\na_twin1,GAN\nb_twin1,GAN\n")
    for g, ok in (("a_twin1", True), ("b_twin1", False)):
        (fake / "_specs" / f"{g}.json").write_text(json.dumps({"quality": {"resembles": ok}}))
    assert bench.usable_twins(fake) == (["a_twin1"], ["b_twin1"])
    assert bench.usable_twins(fake, all_twins=True) == (["a_twin1", "b_twin1"], [])


def test_twin_retrieval_with_several_twins_per_architecture():
    rng = np.random.default_rng(1)
    src = [f"nf_{i:03d}" for i in range(4)]
    names = src + [f"{g}_twin{k}" for g in src for k in (1, 2)]
    arch = {g: rng.normal(size=6) for g in src}
    x, gms = _grouped(rng, names, lambda g: arch[twin_group(g)])
    r = twin_retrieval(x, gms, {g: "digits" for g in names}, {g: "NF" for g in names})
    assert r["n_with_twin"] == 12 and r["twin_nn"] == 1.0 and r["twin_rank"] == 1
    assert r["twin_nn_chance"] == pytest.approx(2 / 11) and r["twin_rank_chance"] == pytest.approx(12 / 3)
    a = twin_agreement(x[:, :3], np.zeros((len(x), 2), int), gms, {g: "NF" for g in names})
    assert a["pairs"] == 8 and a["cont_l1"] < 0.05 < a["cont_l1_others"]
