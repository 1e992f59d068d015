"""The machine a figure was measured on: CPU, cores, memory, vector extensions, GPU.

Training throughput and latency move with the CPU's vector units as much as with its cores: the
same 20-minute budget trained the scratch student at ~5,700 tokens/s on an AVX-512 machine and at
~3,400 on an AVX2-only one (docs/DESIGN.md, session 28), and accuracy follows the steps. Reports
name the machine so a number is read beside what bought it.
"""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path
from typing import Any

# The vector extensions that decide how fast fp32/bf16 matrix kernels run, in /proc/cpuinfo's
# names (x86 "flags", Arm "Features"); the rest of the list says nothing about these workloads.
VECTOR_EXTENSIONS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "asimd", "sve")


def _cpuinfo() -> str | None:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return None


def vector_extensions(cpuinfo: str) -> list[str] | None:
    """Which of :data:`VECTOR_EXTENSIONS` a /proc/cpuinfo text lists; None where it has no flags line."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            have = set(value.split())
            return [f for f in VECTOR_EXTENSIONS if f in have]
    return None


def hardware() -> dict[str, Any]:
    """CPU model, cores, memory, OS, Python, vector extensions and (nvidia-smi) the GPU."""
    import psutil

    cpu, cpuinfo = platform.processor() or platform.machine(), _cpuinfo() or ""
    for line in cpuinfo.splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    info: dict[str, Any] = {"cpu": cpu, "logical_cores": psutil.cpu_count(), "physical_cores":
                            psutil.cpu_count(logical=False), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
                            "vector_extensions": vector_extensions(cpuinfo), "os": platform.platform(),
                            "python": platform.python_version()}
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20, check=True).stdout.strip()
        if out:
            name, driver, mem = (x.strip() for x in out.splitlines()[0].split(","))
            info.update(gpu=name, gpu_driver=driver, gpu_memory=mem)
    except (OSError, subprocess.SubprocessError, ValueError):
        pass
    return info


def vector_phrase(info: dict[str, Any]) -> str | None:
    """ "vector extensions avx2, avx512f", or that there are none of them; None where unknown."""
    ext = info.get("vector_extensions")
    if not isinstance(ext, list):
        return None
    return f"vector extensions {', '.join(ext)}" if ext else "no AVX2 or wider vector extensions"


def describe(info: dict[str, Any]) -> str:
    """One line for a report: "AMD EPYC, 2 logical cores, vector extensions avx2" (+ the GPU)."""
    parts = [str(info.get("cpu") or "unknown CPU")]
    if info.get("logical_cores"):
        parts.append(f"{info['logical_cores']} logical cores")
    if (vectors := vector_phrase(info)) is not None:
        parts.append(vectors)
    if info.get("gpu"):
        parts.append(f"GPU {info['gpu']}")
    return ", ".join(parts)
