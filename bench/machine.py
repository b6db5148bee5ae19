"""What machine, and how busy, a speed figure was measured on.

The guard's speed is the speed of tesseract's LSTM and of ONNX Runtime's
int8 products, which turn on the processor's vector instructions (AVX2, and
VNNI for int8 where the processor has it), and on a shared VM it moves with
the neighbours: on this project's 2-core AMD EPYC VM the same code took 23 ms
a TYPO image one day and 29 to 32 ms on others. A figure printed without its
machine and its load cannot be compared, so ``mmguard perf-guard`` prints
this line above its rows.
"""

from __future__ import annotations

import os

#: The vector instructions the guard's speed turns on.
SIMD_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")


def describe_cpu(cpuinfo: str, cores: int, load: tuple[float, float, float] | None = None) -> str:
    """One line naming the processor, which of ``SIMD_FLAGS`` it has, and the load average, from ``/proc/cpuinfo``'s text."""
    model, flags = "unknown processor", set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and model == "unknown processor":
            model = value.strip()
        elif key.strip() == "flags" and not flags:
            flags = set(value.split())
    has = [f for f in SIMD_FLAGS if f in flags]
    lacks = [f for f in SIMD_FLAGS if f not in flags]
    line = f"cpu: {model}, {cores} core{'s' if cores != 1 else ''}; has {', '.join(has) or 'none of ' + '/'.join(SIMD_FLAGS)}"
    line += f"; lacks {', '.join(lacks)}" if has and lacks else ""
    return line + (f"; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}" if load is not None else "")


def this_cpu() -> str:
    """``describe_cpu`` of this machine now; where ``/proc/cpuinfo`` is missing (not Linux), the processor is unknown."""
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        text = ""
    return describe_cpu(text, os.cpu_count() or 1, os.getloadavg() if hasattr(os, "getloadavg") else None)
