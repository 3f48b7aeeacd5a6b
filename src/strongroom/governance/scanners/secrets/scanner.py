"""The secret scanner: prefilter, then each hit line through its rules' patterns.

A file is read in chunks (`ScanLimits.chunk_bytes`), so memory stays constant whatever its
size. Each chunk is cut at a line end; the bytes after the cut (at least the widest rule
window) are carried into the next chunk, so a secret never straddles a cut unseen.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from strongroom.governance.scanners.findings import Finding, fingerprint, redact
from strongroom.governance.scanners.limits import ScanLimits
from strongroom.governance.scanners.secrets.allowlists import DEFAULT_ALLOWLISTS, Allowlist
from strongroom.governance.scanners.secrets.checksums import shannon_entropy
from strongroom.governance.scanners.secrets.prefilter import build_prefilter
from strongroom.governance.scanners.secrets.rules import RULES, Rule
from strongroom.governance.scanners.sources import SourceFile

_LINE_SPAN = 4096  # bytes either side of a hit examined on a very long (minified) line


@dataclass(frozen=True, slots=True)
class Candidate:
    """A rule's match that passed every check, before it becomes a `Finding`."""

    rule: Rule
    start: int
    end: int
    # The matched credential: kept out of reprs, so a logged candidate never shows it.
    secret: str = field(repr=False)


class SecretsScanner:
    """Finds credentials with the `RULES` (or the given ones) and the allowlists.

    An instance holds a hyperscan scratch space: use one per thread (`scan_path` builds
    its own for every call).
    """

    name = "secrets"

    def __init__(
        self,
        rules: Sequence[Rule] = RULES,
        allowlists: Sequence[Allowlist] = DEFAULT_ALLOWLISTS,
        limits: ScanLimits | None = None,
        engine: str | None = None,
    ) -> None:
        self.rules = tuple(rules)
        self.allowlists = tuple(allowlists)
        self.limits = limits or ScanLimits()
        expressions: list[bytes] = []
        self._owners: list[tuple[int, ...]] = []
        index: dict[tuple[bytes, bool], list[int]] = {}
        for number, rule in enumerate(self.rules):
            for keyword in rule.keywords:
                literal = not rule.keywords_are_regex
                expr = re.escape(keyword.encode()) if literal else keyword.encode()
                index.setdefault((expr, literal), []).append(number)
        literals: list[bool] = []
        for (expr, literal), owners in index.items():
            expressions.append(expr)
            literals.append(literal)
            self._owners.append(tuple(owners))
        self._prefilter = build_prefilter(expressions, literals, engine)
        self._window = max([rule.window for rule in self.rules] + [_LINE_SPAN])

    @property
    def engine(self) -> str:
        """The prefilter engine in use: ``"hyperscan"`` or ``"re"``."""
        return self._prefilter.engine

    def scan(self, file: SourceFile) -> Iterator[Finding]:
        """Every secret in ``file``, in order of position."""
        carry = b""
        line_base = 1
        column_base = 0  # bytes of the current line already passed in earlier chunks
        for chunk in _chunks_with_eof(file, self.limits.chunk_bytes):
            data, eof = chunk
            buffer = carry + data
            cut = len(buffer) if eof else _cut(buffer, self._window)
            for candidate, line, column in self._scan_buffer(buffer, cut):
                shift = column_base if line == 0 else 0
                yield self._finding(file.path, candidate, line_base + line, column + shift)
            if not eof:
                newlines = buffer.count(b"\n", 0, cut)
                line_base += newlines
                column_base = (
                    column_base + cut if newlines == 0 else cut - buffer.rfind(b"\n", 0, cut) - 1
                )
                carry = buffer[cut:]

    def scan_text(self, text: str, path: str = "<text>") -> list[Finding]:
        """Every secret in ``text`` (used by tests and by rule examples)."""
        data = text.encode("utf-8")
        return [
            self._finding(path, candidate, 1 + line, column)
            for candidate, line, column in self._scan_buffer(data, len(data))
        ]

    def _scan_buffer(self, buffer: bytes, cut: int) -> Iterator[tuple[Candidate, int, int]]:
        seen: set[tuple[int, int]] = set()
        found: dict[int, list[Candidate]] = {}
        for keyword, end in self._prefilter.hits(buffer[: cut + self._window]):
            start_guess = max(0, end - 1)
            line_start = buffer.rfind(b"\n", 0, start_guess) + 1
            if line_start >= cut:
                break
            for number in self._owners[keyword]:
                key = (line_start, number)
                if key in seen:
                    continue
                seen.add(key)
                rule = self.rules[number]
                lo = max(line_start, end - _LINE_SPAN)
                if rule.window:
                    hi = min(len(buffer), line_start + rule.window)
                else:
                    line_end = buffer.find(b"\n", end)
                    hi = len(buffer) if line_end < 0 else line_end
                    hi = min(hi, end + _LINE_SPAN)
                for candidate in self._matches(rule, buffer, lo, hi):
                    found.setdefault(line_start, []).append(candidate)
        line_number = 0
        counted = 0
        emitted: set[tuple[str, int]] = set()
        for line_start in sorted(found):
            line_number += buffer.count(b"\n", counted, line_start)
            counted = line_start
            for candidate in _resolve(found[line_start]):
                if (candidate.rule.id, candidate.start) in emitted:
                    continue
                emitted.add((candidate.rule.id, candidate.start))
                yield candidate, line_number, candidate.start - line_start + 1

    def _matches(self, rule: Rule, buffer: bytes, lo: int, hi: int) -> Iterator[Candidate]:
        for match in rule.pattern.finditer(buffer, lo, hi):
            group = "secret" if match.group("secret") is not None else "env"
            raw = match.group(group)
            if raw is None:
                continue
            secret = raw.decode("utf-8", "replace")
            if len(secret) < rule.min_length or shannon_entropy(secret) < rule.entropy:
                continue
            if rule.validator is not None and not rule.validator(secret):
                continue
            line_start = buffer.rfind(b"\n", 0, match.start()) + 1
            line_end = buffer.find(b"\n", match.start())
            line = buffer[line_start : line_end if line_end >= 0 else len(buffer)]
            groups = match.groupdict()
            key = groups.get("key") or groups.get("envkey")
            key_text = key.decode("utf-8", "replace") if key is not None else None
            if self._allowed(rule, secret, line.decode("utf-8", "replace"), key_text):
                continue
            yield Candidate(rule, match.start(group), match.end(group), secret)

    def _allowed(self, rule: Rule, secret: str, line: str, key: str | None) -> bool:
        return any(
            allow.matches(secret, line, key)
            for allow in self.allowlists
            if rule.generic or not allow.generic_only
        )

    def _finding(self, path: str, candidate: Candidate, line: int, column: int) -> Finding:
        rule = candidate.rule
        return Finding(
            scanner=self.name,
            rule_id=rule.id,
            file=path,
            line=line,
            column=column,
            severity=rule.severity,
            confidence=rule.confidence,
            fingerprint=fingerprint(self.name, rule.id, path, candidate.secret),
            message=f"{rule.description}: {redact(candidate.secret)}",
            blocking=rule.severity in ("critical", "high") and rule.confidence != "low",
        )


def _resolve(candidates: list[Candidate]) -> list[Candidate]:
    """Drop generic candidates overlapping a provider rule's candidate on the same line."""
    specific = [c for c in candidates if not c.rule.generic]
    kept = list(specific)
    for candidate in candidates:
        if candidate.rule.generic and not any(
            c.start < candidate.end and candidate.start < c.end for c in specific
        ):
            kept.append(candidate)
    kept.sort(key=lambda c: (c.start, c.rule.id))
    return kept


def _cut(buffer: bytes, window: int) -> int:
    """Where to stop this chunk: the last line end at least ``window`` bytes before its end."""
    limit = len(buffer) - window
    if limit <= 0:
        return 0
    newline = buffer.rfind(b"\n", 0, limit)
    return newline + 1 if newline >= 0 else limit


def _chunks_with_eof(file: SourceFile, size: int) -> Iterator[tuple[bytes, bool]]:
    previous: bytes | None = None
    for chunk in file.chunks(size):
        if previous is not None:
            yield previous, False
        previous = chunk
    yield previous or b"", True
