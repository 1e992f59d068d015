"""The sandbox: a DuckDB file with the schema's tables and rows, and a safe query runner.

    from schemadistill.sandbox import build_sandbox, Executor
    info = build_sandbox(schema, Path("runs/x/sandbox.duckdb"), rows=2000, seed=0)
    with Executor(Path("runs/x/sandbox.duckdb")) as ex:
        result = ex.run("SELECT count(*) FROM ecommerce.users")

Timing: ``python -m schemadistill.bench_sandbox``.
"""

from schemadistill.sandbox.build import SandboxInfo, build_sandbox, info_path
from schemadistill.sandbox.executor import ErrorKind, ExecError, ExecResult, Executor
from schemadistill.sandbox.synth import Synthesizer

__all__ = ["ErrorKind", "ExecError", "ExecResult", "Executor", "SandboxInfo", "Synthesizer",
           "build_sandbox", "info_path"]
