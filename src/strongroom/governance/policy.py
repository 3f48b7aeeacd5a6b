"""The policy gate: a Rego bundle decides on {manifest, findings, context}, failing closed.

Modules follow the Conftest convention: each package may define ``deny`` (blocking) and
``warn`` (advisory) sets of messages, and Strongroom adds ``review`` (reasons a human
reviewer must approve). A message is a string, or an object ``{"msg": text, "path":
[...]}`` whose path names the manifest field it is about.

Evaluation runs in a child process (`strongroom.governance._rego_worker`) under a
wall-clock deadline, a CPU limit and a resident-memory ceiling the parent enforces by
watching the child and killing it. Every way it can go wrong
(a module that does not compile, an evaluation error, a timeout, a crash, an answer of
the wrong shape, a missing input) yields a `Decision` that denies: never a pass.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strongroom.errors import PolicyError

MAX_MODULES = 256
MAX_BUNDLE_BYTES = 2 * 1024 * 1024
MAX_MESSAGES = 500
MAX_MESSAGE_CHARS = 1000
REQUIRED_INPUT = ("manifest", "findings", "context")
_PACKAGE_RE = re.compile(
    r"^\s*package\s+([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*$", re.M
)
_TEST_RE = re.compile(r"^(test_[A-Za-z0-9_]+)\b", re.M)


@dataclass(frozen=True)
class Bundle:
    """Rego modules (name -> source) and the base document they read as ``data``."""

    modules: Mapping[str, str]
    data: Mapping[str, Any] = field(default_factory=dict)

    def without_tests(self) -> Bundle:
        """The bundle minus its ``*_test.rego`` modules (they only hold unit tests)."""
        kept = {n: s for n, s in self.modules.items() if not n.endswith("_test.rego")}
        return Bundle(kept, self.data)

    def packages(self) -> list[str]:
        """Every package the modules declare, in first-seen order."""
        seen: list[str] = []
        for source in self.modules.values():
            match = _PACKAGE_RE.search(source)
            if match and match.group(1) not in seen:
                seen.append(match.group(1))
        return seen

    def tests(self) -> dict[str, list[str]]:
        """``test_*`` rules per package, as ``opa test`` would find them."""
        found: dict[str, list[str]] = {}
        for source in self.modules.values():
            match = _PACKAGE_RE.search(source)
            if not match:
                continue
            names = found.setdefault(match.group(1), [])
            names.extend(n for n in _TEST_RE.findall(source) if n not in names)
        return {p: n for p, n in found.items() if n}


def load_bundle(directories: Iterable[Path]) -> Bundle:
    """Read ``*.rego`` and ``data.json`` from each directory, later ones on top.

    A later ``data.json`` is merged into the earlier data (objects merge key by key,
    anything else is replaced), so an organisation overrides the default configuration
    without copying it. `PolicyError` if a directory is missing, a file is unreadable,
    a data file is not a JSON object, or the bundle exceeds its bounds.
    """
    modules: dict[str, str] = {}
    data: dict[str, Any] = {}
    total = 0
    for index, directory in enumerate(directories):
        if not directory.is_dir():
            raise PolicyError(f"policy directory {directory} does not exist")
        for path in sorted(directory.rglob("*.rego")):
            text = _read(path)
            total += len(text)
            modules[f"{index}/{path.relative_to(directory).as_posix()}"] = text
        data_file = directory / "data.json"
        if data_file.is_file():
            text = _read(data_file)
            total += len(text)
            try:
                loaded = json.loads(text)
            except ValueError:
                raise PolicyError(f"{data_file} is not valid JSON") from None
            if not isinstance(loaded, dict):
                raise PolicyError(f"{data_file} must hold a JSON object")
            data = _merge(data, loaded)
    if len(modules) > MAX_MODULES or total > MAX_BUNDLE_BYTES:
        raise PolicyError(f"a policy bundle holds at most {MAX_MODULES} modules and 2 MiB")
    if not modules:
        raise PolicyError("the policy bundle has no modules: refusing to decide without one")
    return Bundle(modules, data)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise PolicyError(f"cannot read policy file {path.name}") from None


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


@dataclass(frozen=True)
class Message:
    """One deny/warn message, with the manifest field it is about when the policy says."""

    msg: str
    path: tuple[str | int, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"msg": self.msg, "path": list(self.path)}


@dataclass(frozen=True)
class Decision:
    """The policy's answer. ``failed`` marks a deny that came from the gate breaking."""

    deny: tuple[Message, ...]
    warn: tuple[Message, ...] = ()
    review: tuple[str, ...] = ()
    failed: bool = False

    @property
    def allowed(self) -> bool:
        return not self.deny

    @classmethod
    def broken(cls, reason: str) -> Decision:
        return cls((Message(f"policy evaluation failed: {reason}"),), failed=True)


@dataclass(frozen=True)
class Limits:
    """Bounds on one evaluation; defaults double as denial-of-service bounds."""

    timeout_seconds: float = 10.0
    memory_bytes: int = 1024 * 1024 * 1024


@dataclass(frozen=True)
class TestResult:
    package: str
    name: str
    passed: bool
    error: str | None = None


def evaluate(bundle: Bundle, document: Mapping[str, Any], limits: Limits | None = None) -> Decision:
    """Decide on ``document`` ({manifest, findings, context}); never raises, never passes
    on failure."""
    missing = [k for k in REQUIRED_INPUT if document.get(k) is None]
    if missing:
        return Decision(tuple(Message(f"the policy input has no {k}") for k in missing))
    runnable = bundle.without_tests()
    try:
        answer = _run_worker(
            {"mode": "evaluate", "packages": runnable.packages(), "input": dict(document)},
            runnable,
            limits or Limits(),
        )
        return _decision(answer)
    except PolicyError as exc:
        return Decision.broken(exc.detail)


def run_tests(bundle: Bundle, limits: Limits | None = None) -> list[TestResult]:
    """Evaluate every ``test_*`` rule; `PolicyError` if the bundle cannot be run at all.

    The default deadline grows with the number of tests (2 s each, 10 s at least).
    """
    tests = bundle.tests()
    count = sum(len(names) for names in tests.values())
    limits = limits or Limits(timeout_seconds=max(10.0, 2.0 * count))
    answer = _run_worker({"mode": "test", "tests": tests, "input": {}}, bundle, limits)
    if not isinstance(answer, list):
        raise PolicyError("the policy worker answered in the wrong shape")
    return [
        TestResult(str(r["package"]), str(r["name"]), bool(r["passed"]), r["error"]) for r in answer
    ]


def _run_worker(job: dict[str, Any], bundle: Bundle, limits: Limits) -> Any:
    cpu = max(1, int(limits.timeout_seconds + 0.999))
    payload = {
        **job,
        "modules": dict(bundle.modules),
        "data": dict(bundle.data),
        "cpu_seconds": cpu,
    }
    try:
        body = json.dumps(payload).encode()
    except (TypeError, ValueError):
        raise PolicyError("the policy input is not JSON") from None
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "strongroom.governance._rego_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
    except OSError:
        raise PolicyError("the policy worker could not start") from None
    watchdog = _Watchdog(child, limits.memory_bytes)
    watchdog.start()
    try:
        stdout, stderr = child.communicate(body, timeout=limits.timeout_seconds)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise PolicyError(f"the policy ran longer than {limits.timeout_seconds:g}s") from None
    finally:
        watchdog.stop()
    if watchdog.tripped:
        raise PolicyError(f"the policy used more than {limits.memory_bytes // 2**20} MiB")
    if child.returncode != 0:
        raise PolicyError(f"the policy worker died (exit status {child.returncode})")
    try:
        reply = json.loads(stdout)
    except ValueError:
        raise PolicyError("the policy worker gave no answer") from None
    if not isinstance(reply, dict) or reply.get("ok") is not True:
        error = reply.get("error") if isinstance(reply, dict) else None
        detail = _compile_detail(stderr) or str(error or "unknown error")
        raise PolicyError(detail[:MAX_MESSAGE_CHARS])
    return reply.get("results")


class _Watchdog(threading.Thread):
    """Kills the worker when its resident memory passes the ceiling (Linux /proc)."""

    def __init__(self, child: subprocess.Popen[bytes], ceiling: int) -> None:
        super().__init__(name="strongroom-policy-watchdog", daemon=True)
        self._child = child
        self._ceiling = ceiling
        self._done = threading.Event()
        self.tripped = False

    def run(self) -> None:
        statm = Path(f"/proc/{self._child.pid}/statm")
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._done.wait(0.02):
            try:
                resident = int(statm.read_text().split()[1]) * page
            except (OSError, ValueError, IndexError):
                return
            if resident > self._ceiling:
                self.tripped = True
                self._child.kill()
                return

    def stop(self) -> None:
        self._done.set()
        self.join()


def _compile_detail(stderr: bytes) -> str:
    """The engine's own report of a module that does not compile (file:line and why)."""
    text = stderr.decode("utf-8", "replace")
    if "Errors:" not in text:
        return ""
    text = text[text.index("Errors:") :]
    lines = [ln.strip() for ln in text.splitlines()[1:] if ln.strip() and set(ln.strip()) != {"-"}]
    return "; ".join(lines[:6])


def _decision(answer: Any) -> Decision:
    if not isinstance(answer, dict):
        raise PolicyError("the policy worker answered in the wrong shape")
    deny = _messages(answer.get("deny"))
    warn = _messages(answer.get("warn"))
    review = answer.get("review") or []
    if not isinstance(review, list) or not all(isinstance(r, str) for r in review):
        raise PolicyError("review must be a set of strings")
    return Decision(deny, warn, tuple(sorted(set(review)))[:MAX_MESSAGES])


def _messages(values: Any) -> tuple[Message, ...]:
    if values is None:
        return ()
    if not isinstance(values, list):
        raise PolicyError("deny and warn must be sets")
    out: list[Message] = []
    for value in values[:MAX_MESSAGES]:
        if isinstance(value, str):
            out.append(Message(value[:MAX_MESSAGE_CHARS]))
        elif isinstance(value, dict) and isinstance(value.get("msg"), str):
            path = value.get("path") or []
            if not isinstance(path, list) or not all(isinstance(p, str | int) for p in path):
                raise PolicyError("a message path must be a list of keys and indexes")
            out.append(Message(value["msg"][:MAX_MESSAGE_CHARS], tuple(path)))
        else:
            raise PolicyError("a deny or warn message must be a string or {msg, path}")
    unique = {(m.msg, m.path): m for m in out}
    return tuple(sorted(unique.values(), key=lambda m: (m.msg, str(m.path))))


def default_directories(extra: Sequence[Path] = ()) -> list[Path]:
    """The bundled default policy directory, then any organisation directories."""
    return [_default_dir(), *extra]


def _default_dir() -> Path:
    here = Path(__file__).resolve()
    for candidate in (here.parent / "policies", here.parents[3] / "policies"):
        if (candidate / "main.rego").is_file():
            return candidate
    raise PolicyError("the default policy bundle (policies/) cannot be found")
