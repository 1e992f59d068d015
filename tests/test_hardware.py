"""schemadistill.hardware: the machine a figure was measured on, as reports name it."""

from __future__ import annotations

from schemadistill.hardware import describe, hardware, vector_extensions, vector_phrase

AVX512_HOST = "processor\t: 0\nmodel name\t: Intel Xeon\nflags\t\t: fpu sse avx avx2 avx512f avx512_vnni avx512_bf16\n"
AVX2_HOST = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse avx avx2 fma\n"
ARM_HOST = "processor\t: 0\nFeatures\t: fp asimd evtstrm sve\n"


def test_vector_extensions_read_the_flags_line() -> None:
    assert vector_extensions(AVX512_HOST) == ["avx2", "avx512f", "avx512_vnni", "avx512_bf16"]
    assert vector_extensions(AVX2_HOST) == ["avx2"]
    assert vector_extensions(ARM_HOST) == ["asimd", "sve"]
    assert vector_extensions("processor\t: 0\nflags\t: fpu sse\n") == []
    assert vector_extensions("processor\t: 0\n") is None  # not known, not absent


def test_hardware_of_this_machine_and_its_line() -> None:
    hw = hardware()
    assert hw["cpu"] and hw["logical_cores"] >= 1 and isinstance(hw["vector_extensions"], list | None)
    line = describe(hw)
    assert line.startswith(str(hw["cpu"])) and f"{hw['logical_cores']} logical cores" in line
    assert describe({"cpu": "AMD EPYC", "logical_cores": 2, "vector_extensions": ["avx2"]}) == \
        "AMD EPYC, 2 logical cores, vector extensions avx2"
    assert describe({"cpu": "Old", "vector_extensions": []}) == "Old, no AVX2 or wider vector extensions"
    assert describe({"cpu": "Apple M2", "vector_extensions": None}) == "Apple M2"
    assert describe({}) == "unknown CPU"


def test_vector_phrase_says_none_and_unknown_apart() -> None:
    assert vector_phrase({"vector_extensions": ["avx2", "avx512f"]}) == "vector extensions avx2, avx512f"
    assert vector_phrase({"vector_extensions": []}) == "no AVX2 or wider vector extensions"
    assert vector_phrase({"vector_extensions": None}) is None and vector_phrase({}) is None
