"""Runs detect-secrets for `scan_secrets.py`, inside detect-secrets' own venv.

Reads a JSON request on stdin and writes a JSON answer on stdout; pinned to one CPU and one
process (``num_processors=1``) so its figure compares with Strongroom's single-core scan.

- ``{"mode": "throughput", "files": [...], "budget": seconds}``: scans the files in order
  until the budget is spent; answers ``{"files", "bytes", "seconds"}``.
- ``{"mode": "corpus", "files": [...]}``: answers ``{"hits": [[file, line], ...]}``.
"""

from __future__ import annotations

import json
import os
import sys
import time

from detect_secrets import SecretsCollection
from detect_secrets.settings import default_settings


def main() -> None:
    request = json.load(sys.stdin)
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    with default_settings():
        if request["mode"] == "throughput":
            scanned = size = 0
            start = time.perf_counter()
            for path in request["files"]:
                SecretsCollection().scan_file(path)
                scanned += 1
                size += os.path.getsize(path)
                if time.perf_counter() - start > request["budget"]:
                    break
            answer = {"files": scanned, "bytes": size, "seconds": time.perf_counter() - start}
        else:
            collection = SecretsCollection()
            collection.scan_files(*request["files"], num_processors=1)
            answer = {"hits": sorted({(name, secret.line_number) for name, secret in collection})}
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
