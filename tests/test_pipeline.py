"""The pipeline: compiles for Kubeflow, runs locally end to end (stand-ins, then the real tiny preset)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from reparse_tf.pipeline.configs import PipelineConfig

STANDINS = Path(__file__).parent / "standins"
STEPS = ("zoo", "ingest", "cluster-ground-truth", "trainer", "evaluator", "pusher")


@pytest.fixture
def standins(monkeypatch):
    """Components call tests/standins/pipeline_standins.py instead of the library (in their subprocesses too)."""
    monkeypatch.setenv("PYTHONPATH", str(STANDINS))
    monkeypatch.setenv("REPARSE_COMPONENT_STANDINS", "pipeline_standins")


def test_compiles_to_kfp_yaml_with_every_component_and_the_dag(tmp_path):
    from reparse_tf.pipeline.kubeflow_runner import compile_pipeline

    spec = yaml.safe_load(compile_pipeline(tmp_path / "reparse_pipeline.yaml",
                                           PipelineConfig(beam_args=["--runner=FlinkRunner"])).read_text())
    assert {f"comp-{s}" for s in STEPS} <= set(spec["components"])
    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks) == set(STEPS)
    assert tasks["trainer"]["dependentTasks"] == ["cluster-ground-truth", "ingest"]
    assert tasks["pusher"]["inputs"]["artifacts"]["blessing"]["taskOutputArtifact"]["producerTask"] == "evaluator"
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert params["beam_args"]["defaultValue"] == ["--runner=FlinkRunner"]
    assert params["thresholds"]["defaultValue"] == list(PipelineConfig().thresholds)


def test_compile_image_names_the_container_of_every_component(tmp_path, capsys):
    from reparse_tf.cli import main

    out = tmp_path / "p.yaml"
    assert main(["pipeline", "compile", "--out", str(out), "--image", "registry.example/reparse:9"]) == 0
    executors = yaml.safe_load(out.read_text())["deploymentSpec"]["executors"]
    assert len(executors) == len(STEPS)
    assert {e["container"]["image"] for e in executors.values()} == {"registry.example/reparse:9"}
    # the Dockerfile that builds that image installs this package, nothing at run time
    dockerfile = (Path(__file__).resolve().parents[1] / "Dockerfile").read_text()
    assert "pip install" in dockerfile and "python:3.11" in dockerfile


def test_local_run_wires_artifacts_from_data_root(standins, tmp_path):
    from reparse_tf.data.synthetic import make_synthetic_layout
    from reparse_tf.pipeline.local_runner import run_local

    make_synthetic_layout(tmp_path / "data", n_gms=4, images_per_gm=2, size=16)
    run = run_local(PipelineConfig(data_root=str(tmp_path / "data"), fold=1), tmp_path / "out")
    assert run.pushed["pushed"] and (tmp_path / "out/serving/reparse/1/saved_model.pb").is_file()
    card = json.loads((tmp_path / "out/serving/reparse/1/assets.extra/model_card.json").read_text())
    assert card["task"] == "parse" and card["fold"] == 1  # the evaluator's card travels to the pushed model
    log = (tmp_path / "out" / "pipeline.log").read_text()  # the orchestrator's output went to the log
    assert "Executing task" in log and "[reparse:pusher]" in log
    assert (run.links["report"] / "evaluation.json").is_file()
    assert (run.links["model"] / "parser_meta.json").is_file()
    assert (run.artifacts["examples"] / "manifest.json").is_file()
    assert (run.artifacts["pushed_model"] / "reparse" / "1").is_dir()


def test_classifier_task_compiles_without_cluster_ground_truth(tmp_path):
    from reparse_tf.pipeline.kubeflow_runner import compile_pipeline

    spec = yaml.safe_load(compile_pipeline(tmp_path / "p.yaml", PipelineConfig(task="attribute")).read_text())
    tasks = spec["root"]["dag"]["tasks"]
    assert set(tasks) == {"zoo", "ingest", "classifier-trainer", "evaluator", "pusher"}
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert params["task"]["defaultValue"] == "attribute" and "parser" not in params
    assert params["thresholds"]["defaultValue"] == ["method.balanced_accuracy >= 0.5"]
    with pytest.raises(ValueError, match="task must be one of"):
        PipelineConfig(task="segment")


def test_detect_task_runs_locally_and_is_gated_by_its_threshold(standins, monkeypatch, tmp_path):
    from reparse_tf.pipeline.local_runner import run_local

    run = run_local(PipelineConfig(task="detect", fold=1), tmp_path / "a")
    assert run.pushed["pushed"] and (run.links["model"] / "task_meta.json").is_file()
    assert json.loads((run.links["report"] / "detect.json").read_text())["task"] == "detect"
    monkeypatch.setenv("REPARSE_STANDIN_AUC", "0.55")
    run = run_local(PipelineConfig(task="detect"), tmp_path / "b")
    assert not run.pushed["pushed"] and "method.auc >= 0.6" in run.pushed["reason"]


def test_unblessed_model_is_not_pushed_unless_forced(standins, monkeypatch, tmp_path):
    from reparse_tf.pipeline.local_runner import run_local

    monkeypatch.setenv("REPARSE_STANDIN_ACCURACY", "0.05")
    run = run_local(PipelineConfig(), tmp_path / "a")
    assert not run.pushed["pushed"] and "discrete.accuracy >= 0.2" in run.pushed["reason"]
    assert not (tmp_path / "a" / "serving").exists()
    forced = run_local(PipelineConfig(force_push=True), tmp_path / "b")
    assert forced.pushed["pushed"] and forced.pushed["forced"]


def test_failing_component_names_step_and_reason(standins, monkeypatch, tmp_path):
    from reparse_tf.pipeline.local_runner import PipelineFailed, run_local

    monkeypatch.setenv("REPARSE_STANDIN_FAIL", "run_cluster_ground_truth")
    with pytest.raises(PipelineFailed, match=r"cluster-ground-truth.*stand-in run_cluster_ground_truth was told"):
        run_local(PipelineConfig(), tmp_path)


def test_cli_runs_real_tiny_pipeline_end_to_end(tiny_zoo, tmp_path, capfd):
    """The real library on the tiny presets, once (on the session's tiny zoo, imported as --data):
    ingest -> cluster GT -> train -> evaluate (+ TFMA) -> a SavedModel in TF Serving layout."""
    from reparse_tf.cli import main

    code = main(["pipeline", "run", "--data", str(tiny_zoo), "--preset", "tiny", "--epochs", "1",
                 "--force", "--out", str(tmp_path)])
    out = capfd.readouterr().out
    assert code == 0, out[-3000:]
    # the terminal: one line per step with its time; the orchestrator's output is in the log only
    for step in ("ingest", "cluster-ground-truth", "trainer", "evaluator", "pusher"):
        assert re.search(rf"\[reparse pipeline\] {step}\s+done in\s+[\d.]+ s", out), (step, out[-2000:])
    assert "Executing task" not in out and "Executing task" in (tmp_path / "pipeline.log").read_text()
    version = tmp_path / "serving" / "reparse" / "1"
    assert (version / "saved_model.pb").is_file() and (version / "assets.extra" / "parser_meta.json").is_file()
    assert (tmp_path / "report" / "evaluation.json").is_file() and (tmp_path / "report" / "report.html").is_file()
    evaluation = json.loads((tmp_path / "report" / "evaluation.json").read_text())
    slices = {s["slice"] for s in evaluation["tfma"]["slices"]}
    types = {g["gm_type"] for g in evaluation["per_gm"].values()}
    assert types and {f"gm_type={t}" for t in types} <= slices  # TFMA slices for every test GM type and GM
    assert {f"gm={g}" for g in evaluation["per_gm"]} <= slices
    # the report and the pushed model card carry the baselines of the same split, and no empty fields
    assert set(evaluation["baselines"]) == {"constant", "label_copy", "family_oracle"}
    report = (tmp_path / "report" / "report.html").read_text()
    assert "None" not in report and "(none)" not in report and "Constant (training mean" in report
    card = json.loads((version / "assets.extra" / "model_card.json").read_text())
    assert card["task"] == "parse" and card["test_gms"] == sorted(evaluation["per_gm"])
    assert card["metrics"]["continuous_l1"] == evaluation["summary"]["continuous_l1"]
    assert card["baselines"]["family_oracle"]["uses_true_family"] is True
    assert "artifact model" in out


def test_defaults_build_trains_measures_and_installs(tiny_zoo, tmp_path, monkeypatch, capfd):
    """`reparse defaults build` on the tiny presets: a pipeline run, the same-source thresholds, the card, the
    package copy that `reparse parse` then uses without --model."""
    from reparse_tf.cli import main
    from reparse_tf.evaluation.same_source import THRESHOLDS_FILE
    from reparse_tf.serving import default_models
    from reparse_tf.serving.model_card import CARD_FILE

    monkeypatch.setattr(default_models, "PACKAGED_DIR", tmp_path / "pkg")
    code = main(["defaults", "build", "--out", str(tmp_path / "w"), "--data", str(tiny_zoo), "--zoo-preset", "tiny",
                 "--preset", "tiny", "--epochs", "1", "--no-tfma", "--tasks", "parse,set,spectral", "--install"])
    assert code == 0, capfd.readouterr().out[-3000:]
    dest = default_models.packaged_dir("parse")
    card = json.loads((dest / CARD_FILE).read_text())
    evaluation = json.loads((tmp_path / "w" / "parse" / "report" / "evaluation.json").read_text())
    assert card["metrics"]["continuous_l1"] == evaluation["summary"]["continuous_l1"] and card["fold"] == 0
    assert card["built_with"].startswith("reparse defaults build --data ") and "--tasks parse" in card["built_with"]
    # the parse model gets the best configuration measured (the spectral encoder and a linear readout)
    meta = json.loads((dest / "parser_meta.json").read_text())
    assert card["preset"] == "tiny:encoder=spectral,readout=linear" and meta["preset"]["encoder"] == "spectral"
    assert meta["readout"]
    # the tiny preset carves no validation GMs, so no thresholds ship (the cpu preset's do)
    assert "validation GMs" in card["same_source"]["skipped"] and not (dest / THRESHOLDS_FILE).exists()
    assert not (default_models.packaged_dir("detect") / "model.keras").exists()  # only the tasks asked for
    capfd.readouterr()
    assert main(["parse", str(tiny_zoo / "gan_000"), "--json"]) == 0
    assert json.loads(capfd.readouterr().out)["model"] == str(dest)
    # task set: the set parser, fitted on the same fold's GMs (the RED layout ingested for it), ships beside it
    set_card = json.loads((dest / "set_parser.json").read_text())["card"]
    assert set_card["fold"] == 0 and set_card["fit_gms"] == sorted(meta["train_gms"])
    assert main(["parse", str(tiny_zoo / "gan_000"), "--set", "--json"]) == 0
    (rec,) = json.loads(capfd.readouterr().out)["results"]
    assert (rec["n_images"], rec["n_sets"]) == (32, 3)
    # task spectral: the spectral parser, on the same GMs, answers per image; `defaults list` shows both companions
    spectral_card = json.loads((dest / "spectral_parser.json").read_text())["card"]
    assert spectral_card["fit_gms"] == sorted(meta["train_gms"])
    assert main(["parse", str(tiny_zoo / "gan_000"), "--spectral", "--json"]) == 0
    assert len(json.loads(capfd.readouterr().out)["results"]) == 32
    assert main(["defaults", "list"]) == 0
    listed = capfd.readouterr().out
    assert "parse --set" in listed and "parse --spectral" in listed
