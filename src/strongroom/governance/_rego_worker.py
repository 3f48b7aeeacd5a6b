"""The Rego evaluation worker: runs in a child process, reads one job, writes one answer.

The policy gate never evaluates Rego in the server's own process: the rego-cpp engine
behind ``regopy`` can loop, exhaust memory or crash on a hostile module, and a crash or
overrun here only kills this child (the parent then denies). The job arrives as JSON on
stdin, the answer leaves as JSON on stdout; nothing else is written to stdout.

Job: ``{"mode": "evaluate" | "test", "modules": {name: source}, "data": {...},
"input": {...}, "packages": [...], "tests": {package: [rule names]},
"cpu_seconds": int}``.
Answer: ``{"ok": true, "results": ...}`` or ``{"ok": false, "error": text}``.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from typing import Any

RULE_SETS = ("deny", "warn", "review")


def _limit(cpu_seconds: int) -> None:
    # Memory is watched by the parent: rego-cpp's allocator reserves far more address
    # space than it touches, so RLIMIT_AS / RLIMIT_DATA would refuse even tiny policies.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))


def _output(rego: Any, text: str) -> Any:
    try:
        return rego.query(text)
    except ValueError:
        # regopy parses the engine's JSON; rego-cpp can emit text that is not JSON.
        raise RuntimeError(
            "(the engine's answer is not valid JSON; see docs/governance.md)"
        ) from None


def _query(rego: Any, text: str) -> list[Any]:
    """The expressions of a query's first result; RuntimeError if evaluation failed."""
    from regopy.rego_shared import rego_get_error, rego_output_ok  # noqa: PLC0415

    output = _output(rego, text)
    # Never str() an output that is not ok: regopy can crash formatting it.
    if not rego_output_ok(output._impl):
        raise RuntimeError(str(rego_get_error(rego._impl))[:2000])
    if not output.results:
        return []
    return list(output.results[0].expressions)


def _bindings(rego: Any, text: str) -> dict[str, Any]:
    from regopy.rego_shared import rego_get_error, rego_output_ok  # noqa: PLC0415

    output = _output(rego, text)
    if not rego_output_ok(output._impl):
        raise RuntimeError(f"({str(rego_get_error(rego._impl))[:2000]})")
    if not output.results:
        return {}
    return dict(output.results[0].bindings)


def _run(job: dict[str, Any]) -> Any:
    import regopy  # noqa: PLC0415

    rego = regopy.Interpreter()
    rego.add_data_json(json.dumps(job.get("data") or {}))
    for name, source in job["modules"].items():
        try:
            rego.add_module(name, source)
        except regopy.RegoError:
            raise RuntimeError(f"module {name} does not compile") from None
    rego.set_input_term(json.dumps(job.get("input")))
    if job["mode"] == "test":
        results = []
        for package, names in job["tests"].items():
            for name in names:
                try:
                    passed = _query(rego, f"data.{package}.{name}") == [True]
                    error = None
                except RuntimeError as exc:
                    passed, error = False, str(exc)
                results.append({"package": package, "name": name, "passed": passed, "error": error})
        return results
    answer: dict[str, list[Any]] = {name: [] for name in RULE_SETS}
    for package in job["packages"]:
        for name in RULE_SETS:
            try:
                found = _bindings(rego, f"x := [m | some m in data.{package}.{name}]")
            except RuntimeError as exc:
                raise RuntimeError(f"evaluating data.{package}.{name} failed {exc}") from None
            values = found.get("x", [])
            if not isinstance(values, list):
                raise RuntimeError(f"data.{package}.{name} is not a set")
            answer[name].extend(values)
    return answer


def main() -> None:
    # The engine prints compile errors on stdout; keep stdout for the answer alone.
    answer_fd = os.dup(1)
    os.dup2(2, 1)
    job = json.loads(sys.stdin.buffer.read())
    _limit(int(job["cpu_seconds"]))
    try:
        reply = {"ok": True, "results": _run(job)}
    except (RuntimeError, MemoryError, RecursionError, ValueError, KeyError) as exc:
        reply = {"ok": False, "error": str(exc)[:2000]}
    sys.stdout.flush()
    with os.fdopen(answer_fd, "w", encoding="utf-8") as out:
        out.write(json.dumps(reply))


if __name__ == "__main__":
    main()
