"""Speed tooling: FLOPs counted from the layers, the machine's vector units, the dtype / XLA choice."""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import pytest

from reparse_tf.model.fen import DnCNN
from reparse_tf.training import hardware
from reparse_tf.training.hardware import Machine, candidate_settings, choose_speed_settings, parse_cpuinfo, pick_fastest
from reparse_tf.training.presets import get_preset
from reparse_tf.training.throughput import count_flops, images_per_second

CPUINFO = """processor\t: 0
model name\t: AMD EPYC 9R14
cpu MHz\t\t: 2600.000
flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512_bf16
processor\t: 1
model name\t: AMD EPYC 9R14
cpu MHz\t\t: 3100.000
flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512_bf16
"""


def test_flops_of_convolutions_and_dense_layers_are_counted_through_nested_layers():
    originals = (keras.layers.Dense.__dict__.get("call"), keras.layers.Conv2D.__dict__.get("call"))
    image = keras.Input((8, 8, 3), dtype="uint8")
    x = keras.layers.Rescaling(1 / 255)(image)
    x = DnCNN(depth=3, width=4, channels=3, image_size=8)(x)      # a nested model of ConvBNAct layers
    x = keras.layers.Conv2D(5, 3, strides=2, padding="same")(x)   # 4 x 4 x 5 out
    y = keras.layers.Dense(7)(keras.layers.Flatten()(x))
    flops = count_flops(keras.Model(image, y))
    dncnn = 2 * 64 * 9 * (3 * 4 + 4 * 4 + 4 * 3)   # 3 convolutions 3 -> 4 -> 4 -> 3 at 8 x 8
    stride2 = 2 * 16 * 9 * 3 * 5
    dense = 2 * 80 * 7
    assert flops["forward"] == dncnn + stride2 + dense
    assert flops["train"] == 3 * flops["forward"]
    assert flops["layers"] == 5
    # the patched layer classes are restored
    assert (keras.layers.Dense.__dict__.get("call"), keras.layers.Conv2D.__dict__.get("call")) == originals


def test_cpuinfo_gives_vector_units_and_a_peak():
    name, flags, mhz = parse_cpuinfo(CPUINFO)
    assert name == "AMD EPYC 9R14" and mhz == 2600.0 and {"avx2", "fma", "avx512_bf16"} <= flags
    m = Machine(name, 2, flags, mhz)
    assert m.vector_units == ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16"]
    assert m.has_bf16_units
    assert m.peak_gflops() == pytest.approx(2 * 2.6 * 64)   # 2 pipes x 16 lanes x FMA
    avx2 = Machine("x", 2, frozenset({"avx", "avx2", "fma"}), 2000.0)
    assert avx2.peak_gflops() == pytest.approx(2 * 2.0 * 32) and not avx2.has_bf16_units
    assert Machine("x", 2, frozenset(), None).peak_gflops() is None


def test_bfloat16_is_measured_only_where_there_are_bf16_units():
    avx2 = Machine("x", 2, frozenset({"avx2", "fma"}), 2000.0)
    assert candidate_settings(avx2, "tensorflow") == [("float32", True), ("float32", False)]
    assert candidate_settings(avx2, "jax") == [("float32", True)]
    bf16 = Machine("x", 2, frozenset({"avx2", "avx512_bf16"}), 2000.0)
    assert ("mixed_bfloat16", True) in candidate_settings(bf16)
    assert ("mixed_bfloat16", False) in candidate_settings(bf16, "tensorflow")  # oneDNN's AMX kernels
    assert ("mixed_bfloat16", False) not in candidate_settings(bf16, "jax")
    assert ("mixed_bfloat16", True) in candidate_settings(Machine("x", 1, accelerator="gpu: H200"))


def test_the_fastest_setting_wins_and_bfloat16_needs_a_margin():
    assert pick_fastest({("float32", True): 10.0, ("float32", False): 12.0}) == ("float32", False)
    assert pick_fastest({("float32", True): 10.0, ("mixed_bfloat16", True): 10.4}) == ("float32", True)
    assert pick_fastest({("float32", True): 10.0, ("mixed_bfloat16", True): 11.0}) == ("mixed_bfloat16", True)


def test_speed_settings_are_measured_once_per_machine_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("REPARSE_CACHE_DIR", str(tmp_path))
    machine = Machine("test cpu", 2, frozenset({"avx2", "fma", "avx512_bf16"}), 2000.0)
    calls = []

    def measure(preset, dtype, jit):
        calls.append((dtype, jit))
        return {("float32", True): 50.0, ("float32", False): 40.0, ("mixed_bfloat16", True): 80.0,
                ("mixed_bfloat16", False): 70.0}[(dtype, jit)]

    preset = get_preset("cpu")
    assert preset.tune
    idle = {"load": lambda: 0.0, "rounds": 1}
    first = choose_speed_settings(preset, machine, measure, **idle)
    assert (first["dtype_policy"], first["jit_compile"], first["cached"]) == ("mixed_bfloat16", True, False)
    assert len(calls) == 4
    again = choose_speed_settings(preset, machine, measure, **idle)
    assert again["cached"] and again["dtype_policy"] == "mixed_bfloat16" and len(calls) == 4
    saved = json.loads((tmp_path / hardware.TUNING_FILE).read_text())
    assert list(saved.values())[0]["rates"]["mixed_bfloat16/xla"] == 80.0
    # another network shape is another measurement
    choose_speed_settings(preset.with_overrides(fen_width=32), machine, measure, **idle)
    assert len(calls) == 8
    # a preset without tune keeps its own fields and measures nothing
    fixed = choose_speed_settings(get_preset("tiny"), machine, measure, **idle)
    assert (fixed["dtype_policy"], fixed["measured"], len(calls)) == ("float32", False, 8)
    tuned = hardware.tuned(preset.with_overrides(fen_width=32), log=None, machine=machine, measure=measure)
    assert len(calls) == 8   # cached
    assert (tuned.dtype_policy, tuned.jit_compile, tuned.tune) == ("mixed_bfloat16", True, False)


def test_speed_settings_take_the_median_of_interleaved_rounds_and_a_busy_machine_is_not_cached(tmp_path,
                                                                                                  monkeypatch):
    monkeypatch.setenv("REPARSE_CACHE_DIR", str(tmp_path))
    machine = Machine("test cpu", 2, frozenset({"avx2", "fma"}), 2000.0)
    calls = []

    def measure(preset, dtype, jit):   # XLA off is faster, except in one round disturbed by load
        calls.append((dtype, jit))
        disturbed = len(calls) == 2
        return (10.0 if disturbed else 30.0) if not jit else 20.0

    choice = choose_speed_settings(get_preset("cpu"), machine, measure, rounds=3, load=lambda: 0.2)
    assert calls == [("float32", True), ("float32", False)] * 3   # interleaved
    assert (choice["dtype_policy"], choice["jit_compile"], choice["rates"]["float32/no-xla"]) == ("float32", False,
                                                                                                  30.0)
    assert choose_speed_settings(get_preset("cpu"), machine, measure, rounds=3)["cached"]
    # measured on a busy machine: used, not cached
    busy = choose_speed_settings(get_preset("cpu").with_overrides(fen_width=32), machine, measure, rounds=1,
                                 load=lambda: 1.5)
    assert busy["measured"] and not busy["cached"] and busy["busy_cores_before"] == 1.5
    again = choose_speed_settings(get_preset("cpu").with_overrides(fen_width=32), machine, measure, rounds=1,
                                  load=lambda: 0.1)
    assert not again["cached"]   # measured again


def test_busy_cores_sees_other_work():
    import threading
    import time

    idle = hardware.busy_cores(0.3)
    if idle is None:
        pytest.skip("no /proc/stat")
    stop = time.perf_counter() + 1.0

    def spin():
        while time.perf_counter() < stop:
            pass

    worker = threading.Thread(target=spin)
    worker.start()
    busy = hardware.busy_cores(0.3)
    worker.join()
    assert 0.0 <= idle <= (os.cpu_count() or 1) and busy >= 0.5


def test_images_per_second_counts_every_call_after_the_warm_up():
    calls = []
    rate = images_per_second(lambda: calls.append(1), batch=4, steps=5, min_seconds=0.0)
    assert len(calls) == 6 and rate > 0
    assert np.isfinite(rate)


def test_an_unwritable_cache_still_gives_a_choice(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("REPARSE_CACHE_DIR", str(blocker / "sub"))
    machine = Machine("test cpu", 2, frozenset({"avx2", "fma"}), 2000.0)
    choice = choose_speed_settings(get_preset("cpu"), machine, lambda p, d, j: 2.0 if j else 1.0)
    assert (choice["dtype_policy"], choice["jit_compile"], choice["cached"]) == ("float32", True, False)


def test_cpu_preset_speed_script_times_every_setting_against_the_old_one(tmp_path, monkeypatch, benchmark_script):
    bench = benchmark_script("cpu_preset_speed")
    monkeypatch.setattr(bench, "SETTINGS", bench.SETTINGS[:2])   # the baseline and one other: the logic, quickly
    out = tmp_path / "speed.json"
    assert bench.main(["--preset", "tiny", "--repeats", "1", "--min-seconds", "0", "--json", str(out)]) == 0
    settings = json.loads(out.read_text())["settings"]
    assert set(settings) == {label for label, *_ in bench.SETTINGS}
    assert settings[bench.OLD]["ratio_to_old_median"] == 1.0
    assert all(v["median_images_per_s"] > 0 for v in settings.values())


def test_step_profile_groups_the_profiler_trace_by_what_the_ops_belong_to(benchmark_script):
    from reparse_tf.training.throughput import compiled_parser

    bench = benchmark_script("step_profile")
    assert bench.op_group("gradient_tape/reparse_fen_two_1/fen_1/block1_1/bn_1/moments/Tile") == "backward batch norm"
    assert bench.op_group("reparse_fen_two_1/fen_1/block1_1/conv_1/convolution") == "forward convolution"
    assert bench.op_group("reparse_fen_two_1/fingerprint_constraints_1/FFT2D") == "forward FFT constraints J_f"
    assert bench.op_group("adam/Sqrt_12") == "forward optimizer"
    assert bench.op_group("AddN_3") == "forward other"
    trace = bench.trace_breakdown(*compiled_parser(get_preset("tiny").with_overrides(run_eagerly=False)), steps=2)
    groups = trace["groups_ms_per_step"]
    assert {"forward convolution", "backward convolution", "forward batch norm", "backward batch norm"} <= set(groups)
    assert trace["op_ms_per_step"] > 0 and abs(sum(trace["shares"].values()) - 1) < 1e-9
