"""The secret scanner against detect-secrets: single-core throughput, recall and precision.

Throughput: both scan the text files of a large real tree (default: the project venv's
site-packages). Strongroom runs `scan_path(tree, scanners=["secrets"])` in this process,
pinned to one CPU, the walk included; best of three (the first warms the page cache).
MB/s counts the bytes of the text files read (binaries are skipped by both). detect-secrets
(`pip install detect-secrets` into `bench/.work/detect-secrets-venv`, by `run.sh`) runs in
its own process, pinned to one CPU with one worker, over the same files in the same order,
until a time budget is spent (it is roughly a thousand times slower: the whole tree would
take many minutes); its MB/s is over the bytes it reached.

Recall and precision: on the labelled corpus `bench/corpus/secrets/` (fake credentials of
every rule's provider and hard negatives, written by its `generate.py`), counting
(file, line) pairs: a reported line is a true positive if the labels name it.

Prints one table and writes `bench/.work/scan_secrets.json`. The issue's targets (>= 50
MB/s on one core, >= 0.95 recall and precision, better than detect-secrets on all three) are
judged, not enforced: the exit code is 1 only when a step fails.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import Any

import common
from common import BENCH_DIR, WORK_DIR, BenchError
from rich.console import Console
from rich.table import Table

from strongroom import __version__
from strongroom.governance.scanners import ScanLimits, SourceFile, scan_path
from strongroom.governance.scanners.secrets import SecretsScanner
from strongroom.governance.scanners.sources import iter_sources

CORPUS = BENCH_DIR / "corpus" / "secrets"
DS_PYTHON = WORK_DIR / "detect-secrets-venv" / "bin" / "python"
RUNNER = BENCH_DIR / "detect_secrets_runner.py"


def default_tree() -> Path:
    return Path(sysconfig.get_paths()["purelib"])


def pin_one_cpu() -> int:
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def text_files(tree: Path) -> list[str]:
    """The files Strongroom reads in ``tree`` (text, under the size ceiling), in walk order."""
    return [
        str(tree / item.path)
        for item in iter_sources(tree, ScanLimits())
        if isinstance(item, SourceFile)
    ]


def strongroom_throughput(tree: Path, runs: int) -> dict[str, Any]:
    best = float("inf")
    report = None
    for _ in range(runs):
        start = time.perf_counter()
        report = scan_path(tree, scanners=["secrets"])
        best = min(best, time.perf_counter() - start)
    assert report is not None
    return {
        "files": report.files_scanned,
        "bytes": report.bytes_scanned,
        "seconds": best,
        "mb_per_s": report.bytes_scanned / 1e6 / best,
        "findings": len(report.findings),
    }


def labels() -> set[tuple[str, int]]:
    data = json.loads((CORPUS / "labels.json").read_text(encoding="utf-8"))
    return {(name, line) for name, lines in data.items() for line in lines}


def score(found: set[tuple[str, int]], truth: set[tuple[str, int]]) -> dict[str, Any]:
    tp = len(found & truth)
    return {
        "tp": tp,
        "fp": len(found - truth),
        "fn": len(truth - found),
        "recall": tp / len(truth),
        "precision": tp / len(found) if found else 0.0,
    }


def strongroom_corpus() -> set[tuple[str, int]]:
    report = scan_path(CORPUS / "files", scanners=["secrets"])
    return {(f.file, f.line) for f in report.findings}


def detect_secrets(request: dict[str, Any], timeout: float) -> dict[str, Any]:
    if not DS_PYTHON.exists():
        raise BenchError(f"no detect-secrets venv at {common.display_path(DS_PYTHON)}: run run.sh")
    result = subprocess.run(
        [str(DS_PYTHON), str(RUNNER)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(f"detect-secrets failed: {result.stderr.strip()[-300:]}")
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def detect_secrets_version() -> str:
    result = subprocess.run(
        [str(DS_PYTHON), "-m", "detect_secrets", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.stdout.strip() or "?"


def run(args: argparse.Namespace, console: Console) -> int:
    load = common.load_average()
    facts_cores = len(os.sched_getaffinity(0))
    cpu = pin_one_cpu()
    tree = args.tree.resolve()
    if not tree.is_dir():
        raise BenchError(f"no tree at {tree}")
    truth = labels()
    ours = strongroom_throughput(tree, args.runs)
    ours.update(score(strongroom_corpus(), truth))
    ours["engine"] = SecretsScanner().engine
    files = text_files(tree)
    ds = detect_secrets(
        {"mode": "throughput", "files": files, "budget": args.ds_budget}, args.ds_budget + 300
    )
    ds["mb_per_s"] = ds["bytes"] / 1e6 / ds["seconds"]
    corpus_files = sorted(str(p) for p in (CORPUS / "files").iterdir())
    hits = detect_secrets({"mode": "corpus", "files": corpus_files}, 600)["hits"]
    ds.update(score({(Path(name).name, line) for name, line in hits}, truth))
    ds_version = detect_secrets_version()

    table = Table(title=f"Secret scanning: {common.display_path(tree)} and the labelled corpus")
    for column in ("scanner", "MB/s (1 core)", "bytes timed", "recall", "precision", "TP/FP/FN"):
        table.add_column(column, justify="left" if column == "scanner" else "right")
    rows = [
        (f"Strongroom {__version__} ({ours['engine']})", ours),
        (f"detect-secrets {ds_version}", ds),
    ]
    for name, row in rows:
        table.add_row(
            name,
            f"{row['mb_per_s']:.1f}",
            f"{row['bytes'] / 1e6:.1f} MB",
            f"{row['recall']:.3f}",
            f"{row['precision']:.3f}",
            f"{row['tp']}/{row['fp']}/{row['fn']}",
        )
    console.print(table)
    facts = common.machine_facts(load, strongroom=__version__, detect_secrets=ds_version)
    facts["nproc"] = str(facts_cores)
    common.print_machine(console, facts, [f"pinned to CPU {cpu}", f"detect-secrets {ds_version}"])
    common.print_lines(
        console,
        "Note",
        [
            f"Strongroom: whole tree ({ours['files']} text files), best of {args.runs} runs, "
            "walk included.",
            f"detect-secrets: the same files in the same order for {args.ds_budget:.0f} s "
            f"({ds['files']} files reached), one process, one CPU.",
            f"Corpus: {len(truth)} labelled secret lines in "
            f"{len(corpus_files)} files; scored by (file, line).",
        ],
    )
    better = (
        ours["mb_per_s"] > ds["mb_per_s"]
        and ours["recall"] > ds["recall"]
        and ours["precision"] > ds["precision"]
    )
    verdicts = [
        f"throughput >= 50 MB/s on one core: {'met' if ours['mb_per_s'] >= 50 else 'MISSED'}",
        f"recall >= 0.95: {'met' if ours['recall'] >= 0.95 else 'MISSED'}",
        f"precision >= 0.95: {'met' if ours['precision'] >= 0.95 else 'MISSED'}",
        f"better than detect-secrets on all three: {'met' if better else 'MISSED'}",
    ]
    common.print_lines(console, "Target", verdicts)
    common.write_json(
        args.json, {"machine": facts, "strongroom": ours, "detect_secrets": ds, "targets": verdicts}
    )
    console.print(f"Results: {common.display_path(args.json)}")
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tree", type=Path, default=default_tree(), help="Tree to time.")
    parser.add_argument("--runs", type=int, default=3, help="Strongroom runs (best is kept).")
    parser.add_argument(
        "--ds-budget", type=float, default=30.0, help="Seconds detect-secrets may scan the tree."
    )
    parser.add_argument("--json", type=Path, default=WORK_DIR / "scan_secrets.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return common.main(run, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
