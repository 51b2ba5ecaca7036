"""What this machine can compute, and the dtype / XLA setting chosen here by measurement.

- :func:`this_machine`: processor, usable cores, CPU vector units (``/proc/cpuinfo`` flags), clock,
  accelerator.
- :meth:`Machine.peak_gflops`: the fp32 peak the vector units allow (an upper bound: it assumes two
  FMA pipes per core at the reported clock; a vCPU may be a hyperthread sibling, and AMD Zen 4
  cores run 512-bit FMAs as two 256-bit halves). :func:`matmul_gflops` measures the ceiling a large matrix
  product reaches on the backend, which is the roofline the networks are compared with.
- :func:`choose_speed_settings`: a preset with ``tune=True`` trains with the fastest of the
  candidate (dtype policy, XLA) settings measured on this machine. bfloat16 is a candidate only
  where there are bf16 units (AVX512_BF16 / AMX) or an accelerator: elsewhere it is emulated and
  slower. It must beat float32 by :data:`BF16_MARGIN` to be kept (it costs precision). The choice
  is cached per machine, backend and network shape in ``$REPARSE_CACHE_DIR`` (default
  ``~/.cache/reparse``), so it is measured once.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

#: bfloat16 must train at least this much faster than float32 to be chosen
BF16_MARGIN = 1.05
TUNING_FILE = "speed_settings.json"
TUNING_ROUNDS = 3   # interleaved measurements of every candidate; the median decides
#: preset fields that change the network's cost (the tuning cache key)
SHAPE_FIELDS = ("image_size", "fen_depth", "fen_width", "encoder_filters", "encoder_pool", "encoder", "feature_dim",
                "parser_dim", "batch_size", "fused_batch_norm")


@dataclass(frozen=True)
class Machine:
    """A host as far as speed is concerned."""

    processor: str
    cores: int
    flags: frozenset[str] = field(default_factory=frozenset)
    mhz: float | None = None
    accelerator: str | None = None

    @property
    def vector_units(self) -> list[str]:
        """The SIMD / matrix extensions that matter for convolutions, in the order of their width."""
        known = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16")
        return [f for f in known if f in self.flags]

    @property
    def has_bf16_units(self) -> bool:
        return self.accelerator is not None or bool({"avx512_bf16", "amx_bf16"} & self.flags)

    def fp32_flops_per_cycle(self) -> int:
        """Per core: 2 pipes x SIMD lanes x (2 with FMA: multiply and add)."""
        lanes = 16 if "avx512f" in self.flags else 8 if "avx" in self.flags else 4
        return 2 * lanes * (2 if "fma" in self.flags else 1)

    def peak_gflops(self) -> float | None:
        """fp32 GFLOP/s of all usable cores at the reported clock (None when the clock is unknown)."""
        if not self.mhz or self.accelerator:
            return None
        return self.cores * self.mhz / 1000 * self.fp32_flops_per_cycle()

    def describe(self) -> dict:
        return {"processor": self.processor, "cores": self.cores, "mhz": self.mhz, "vector_units": self.vector_units,
                "bf16_units": self.has_bf16_units, "accelerator": self.accelerator,
                "fp32_peak_gflops": None if self.peak_gflops() is None else round(self.peak_gflops(), 1)}


def parse_cpuinfo(text: str) -> tuple[str, frozenset[str], float | None]:
    """(model name, flags, MHz) of the first processor in a ``/proc/cpuinfo`` text."""
    name, flags, mhz = "", frozenset(), None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "model name" and not name:
            name = value
        elif key == "flags" and not flags:
            flags = frozenset(value.split())
        elif key == "cpu MHz" and mhz is None:
            mhz = float(value)
    return name, flags, mhz


def _max_mhz() -> float | None:
    p = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
    try:
        return int(p.read_text()) / 1000
    except (OSError, ValueError):
        return None


def accelerator_name() -> str | None:
    """The first GPU / TPU the Keras backend sees, else None."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            dev = jax.devices()[0]
            return None if dev.platform == "cpu" else f"{dev.platform}: {dev.device_kind}"
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            return f"gpu: {gpus[0].name}" if gpus else None
        if backend == "torch":
            import torch

            return f"gpu: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else None
    except Exception:  # noqa: BLE001 - no accelerator runtime is the same as no accelerator here
        return None
    return None


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def processor_name(cpuinfo: str | None = None) -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows: where figures were measured."""
    return parse_cpuinfo(_cpuinfo() if cpuinfo is None else cpuinfo)[0] or platform.processor() or platform.machine()


def this_machine(cpuinfo: str | None = None) -> Machine:
    """The host this process runs on."""
    cpuinfo = _cpuinfo() if cpuinfo is None else cpuinfo
    _, flags, mhz = parse_cpuinfo(cpuinfo)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return Machine(processor_name(cpuinfo), cores, flags, _max_mhz() or mhz, accelerator_name())


def matmul_gflops(n: int = 2048, dtype: str = "float32", seconds: float = 2.0) -> float:
    """GFLOP/s of ``n x n`` matrix products on the Keras backend (all cores): the reachable ceiling."""
    import time

    import keras
    import numpy as np

    a = keras.ops.convert_to_tensor(np.random.default_rng(0).standard_normal((n, n)), dtype=dtype)
    keras.ops.convert_to_numpy(keras.ops.matmul(a, a))  # warm up
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        out = keras.ops.matmul(a, a)
        keras.ops.convert_to_numpy(out[:1, :1])  # wait for asynchronous backends
        reps += 1
    return 2 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9


# -------------------------------------------------------------------------------------- tuning
def candidate_settings(machine: Machine, backend: str | None = None) -> list[tuple[str, bool]]:
    """(dtype policy, jit_compile) pairs worth measuring on ``machine`` (JAX: always compiled, since
    without ``jit`` it runs op by op, 6x slower on the ``cpu`` preset here)."""
    if backend is None:
        import keras

        backend = keras.backend.backend()
    out = [("float32", True)] if backend == "jax" else [("float32", True), ("float32", False)]
    if machine.has_bf16_units:
        out.append(("mixed_bfloat16", True))
        if backend != "jax":
            # TensorFlow's own (oneDNN) kernels run bf16 convolutions on AMX tiles; its XLA CPU path does not
            # (paper preset on a 2-core AMX Xeon: inference x2.6 over float32 without XLA, x1.0 with it)
            out.append(("mixed_bfloat16", False))
    return out


def pick_fastest(rates: dict[tuple[str, bool], float]) -> tuple[str, bool]:
    """The fastest setting; bfloat16 only when it beats the best float32 one by :data:`BF16_MARGIN`."""
    f32 = {k: v for k, v in rates.items() if k[0] == "float32"}
    best32 = max(f32, key=f32.get)
    other = {k: v for k, v in rates.items() if k[0] != "float32"}
    if other:
        best = max(other, key=other.get)
        if other[best] >= BF16_MARGIN * f32[best32]:
            return best
    return best32


def cache_dir() -> Path:
    return Path(os.environ.get("REPARSE_CACHE_DIR") or Path.home() / ".cache" / "reparse")


def _key(machine: Machine, preset) -> str:
    import keras

    shape = {f: getattr(preset, f) for f in SHAPE_FIELDS}
    # the candidates and rounds too: a choice cached before a setting became a candidate, or measured with fewer
    # rounds, is measured again
    text = json.dumps([machine.processor, machine.cores, machine.accelerator, keras.backend.backend(),
                       keras.__version__, shape, candidate_settings(machine), TUNING_ROUNDS], sort_keys=True,
                      default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def measure_parser_rate(preset, dtype_policy: str, jit_compile: bool) -> float:
    """Training images/s of the parsing model of ``preset`` under one setting."""
    from reparse_tf.training.throughput import compiled_parser, training_rate

    p = preset.with_overrides(dtype_policy=dtype_policy, jit_compile=jit_compile, run_eagerly=False)
    return training_rate(*compiled_parser(p), steps=2, min_seconds=1.0)


def busy_cores(interval: float = 0.5) -> float | None:
    """Cores busy with other work right now: the non-idle share of the CPU time in ``/proc/stat`` over ``interval``
    seconds, times the core count (the caller sleeps meanwhile, so it is other processes' work; a load average would
    still count the caller's own last minute). None where there is no ``/proc/stat``."""
    import time

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:9]]   # user .. steal; guest time is inside user
        return ticks[3] + ticks[4], sum(ticks)   # idle + iowait, all

    try:
        idle0, total0 = sample()
        time.sleep(interval)
        idle1, total1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    if total1 <= total0:
        return None
    return (1.0 - (idle1 - idle0) / (total1 - total0)) * (os.cpu_count() or 1)


def choose_speed_settings(preset, machine: Machine | None = None,
                          measure: Callable[..., float] = measure_parser_rate, use_cache: bool = True,
                          rounds: int = TUNING_ROUNDS, load: Callable[[], float | None] = busy_cores) -> dict:
    """``{"dtype_policy", "jit_compile", "rates", "machine", "cached"}`` for ``preset`` on this machine.

    Every candidate is measured in ``rounds`` interleaved rounds and ranked by its median, so a burst of load
    during one measurement does not decide. A machine already busy (other work on half its cores or more) gives
    rates that say more about its other jobs than about the setting: the choice is used but not cached, and is
    measured again next time. Presets without ``tune`` keep their own fields (nothing measured)."""
    machine = machine or this_machine()
    if not getattr(preset, "tune", False):
        return {"dtype_policy": preset.dtype_policy, "jit_compile": preset.jit_compile, "rates": {},
                "machine": machine.describe(), "cached": False, "measured": False}
    path = cache_dir() / TUNING_FILE
    key = _key(machine, preset)
    table = {}
    if use_cache and path.is_file():
        try:
            table = json.loads(path.read_text())
        except (OSError, ValueError):
            table = {}
        if key in table:
            return {**table[key], "cached": True}
    before = load()
    runs: dict[tuple[str, bool], list[float]] = {s: [] for s in candidate_settings(machine)}
    for _ in range(max(int(rounds), 1)):
        for s in runs:
            runs[s].append(measure(preset, *s))
    rates = {s: statistics.median(r) for s, r in runs.items()}
    dtype, jit = pick_fastest(rates)
    entry = {"dtype_policy": dtype, "jit_compile": jit, "measured": True, "machine": machine.describe(),
             "rates": {f"{d}/{'xla' if j else 'no-xla'}": round(r, 1) for (d, j), r in rates.items()},
             "rounds": max(int(rounds), 1), "busy_cores_before": before}
    if before is not None and before >= machine.cores / 2:
        print(f"[reparse] note: the machine was busy while the speed settings were measured ({before:.1f} of "
              f"{machine.cores} cores): using them this time, measuring again next time")
    elif use_cache:
        from reparse_tf.serving.artifacts import write_json

        table[key] = entry
        try:
            write_json(path, table, indent=1)
        except OSError as e:   # a read-only home: train anyway, measure again next time
            print(f"[reparse] note: could not cache the speed settings in {path}: {e}")
    return {**entry, "cached": False}


def tuned(preset, log: Callable[[str], None] | None = print, machine: Machine | None = None,
          measure: Callable[..., float] = measure_parser_rate):
    """``preset`` with the dtype policy and XLA setting chosen on this machine (unchanged without ``tune``)."""
    if not getattr(preset, "tune", False):
        return preset
    choice = choose_speed_settings(preset, machine, measure)
    if log is not None:
        how = "cached" if choice["cached"] else "measured"
        rates = ", ".join(f"{k} {v} img/s" for k, v in choice["rates"].items())
        log(f"[reparse] speed settings ({how} on this machine: {rates}): {choice['dtype_policy']}, "
            f"XLA {'on' if choice['jit_compile'] else 'off'}")
    return preset.with_overrides(dtype_policy=choice["dtype_policy"], jit_compile=choice["jit_compile"],
                                 tune=False)
