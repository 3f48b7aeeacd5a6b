"""The bounds of one scan. Every default doubles as a denial-of-service bound."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ScanLimits:
    """How much one scan may read.

    - ``max_file_bytes``: a larger file is skipped (reported in ``ScanReport.errors``).
    - ``max_files`` / ``max_total_bytes``: the scan stops with an error past these.
    - ``archive_*``: an archive breaking any of them is refused as a whole
      (`UnsafeArchiveError`): more members, a larger uncompressed total, or a member whose
      uncompressed size is more than ``archive_max_ratio`` times its compressed size.
    - ``chunk_bytes``: files are read in chunks of this size, so memory stays constant.
    """

    max_file_bytes: int = 8 * MiB
    max_files: int = 500_000
    max_total_bytes: int = 16 * 1024 * MiB
    archive_max_members: int = 20_000
    archive_max_total_bytes: int = 512 * MiB
    archive_max_ratio: int = 100
    chunk_bytes: int = 1 * MiB
    binary_sniff_bytes: int = 8192

    def __post_init__(self) -> None:
        for name in (
            "max_file_bytes",
            "max_files",
            "max_total_bytes",
            "archive_max_members",
            "archive_max_total_bytes",
            "archive_max_ratio",
            "binary_sniff_bytes",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"ScanLimits.{name} must be positive")
        if self.chunk_bytes < 64 * 1024:
            raise ValueError("ScanLimits.chunk_bytes must be at least 64 KiB")
