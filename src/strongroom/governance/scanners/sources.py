"""The files a scan reads: a directory tree, one file, or a zip/tar archive.

Symbolic links are never followed (inside a tree they are reported as skipped; inside an
archive they refuse the archive). Binary files (a NUL byte in the first bytes) and files
over ``ScanLimits.max_file_bytes`` are skipped with a reason. Archive members are read
into memory one at a time, each bounded by ``max_file_bytes``, so memory stays bounded.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from strongroom.errors import ScanError, UnsafeArchiveError
from strongroom.governance.scanners.findings import Skipped
from strongroom.governance.scanners.limits import ScanLimits

EXCLUDED_DIRS = frozenset({".git", ".hg", ".svn"})
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One text file to scan: its relative POSIX path, size, and a way to read it."""

    path: str
    size: int
    _opener: Callable[[], BinaryIO]

    @property
    def name(self) -> str:
        """The last component of the path."""
        return PurePosixPath(self.path).name

    def renamed(self, path: str) -> SourceFile:
        """The same file under another relative path."""
        return replace(self, path=path)

    def chunks(self, size: int) -> Iterator[bytes]:
        """The file's bytes in chunks of at most ``size``."""
        with self._opener() as handle:
            while chunk := handle.read(size):
                yield chunk

    def read(self, limit: int) -> bytes:
        """The whole file, which must be at most ``limit`` bytes (callers check ``size``)."""
        with self._opener() as handle:
            return handle.read(limit)


Item = SourceFile | Skipped


def iter_sources(root: Path, limits: ScanLimits) -> Iterator[Item]:
    """Every file under ``root`` (a directory, a file, or an archive), or why it was skipped.

    Raises `ScanError` if ``root`` does not exist or is a link, `UnsafeArchiveError` if it
    is an archive that breaks a bound.
    """
    try:
        info = root.lstat()
    except OSError as exc:
        raise ScanError(f"cannot read {root.name or root}: {exc.strerror}") from None
    if stat.S_ISLNK(info.st_mode):
        raise ScanError(f"{root.name} is a symbolic link; scan its target instead")
    if stat.S_ISDIR(info.st_mode):
        yield from _walk(root, limits)
    elif is_archive(root):
        yield from _archive(root, limits)
    elif stat.S_ISREG(info.st_mode):
        yield from _file(str(root), root.name, info.st_size, limits)
    else:
        raise ScanError(f"{root.name} is neither a file nor a directory")


def is_archive(path: Path) -> bool:
    """Whether ``path`` is read as an archive (by its suffix)."""
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def _walk(root: Path, limits: ScanLimits) -> Iterator[Item]:
    """Depth first, entries by name: a folder's files, then its subfolders in order."""
    stack: list[tuple[str, str]] = [(str(root), "")]
    while stack:
        directory, prefix = stack.pop()
        try:
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError as exc:
            yield Skipped(prefix or ".", f"unreadable directory: {exc.strerror}")
            continue
        subdirs = []
        for entry in entries:
            rel = f"{prefix}{entry.name}"
            try:
                if entry.is_symlink():
                    yield Skipped(rel, "symbolic link (not followed)")
                elif entry.is_dir(follow_symlinks=False):
                    if entry.name not in EXCLUDED_DIRS:
                        subdirs.append((entry.path, rel + "/"))
                elif entry.is_file(follow_symlinks=False):
                    size = entry.stat(follow_symlinks=False).st_size
                    yield from _file(entry.path, rel, size, limits)
                else:
                    yield Skipped(rel, "not a regular file")
            except OSError as exc:
                yield Skipped(rel, f"unreadable: {exc.strerror}")
        stack.extend(reversed(subdirs))  # popped in name order


def _file(path: str, rel: str, size: int, limits: ScanLimits) -> Iterator[Item]:
    if size > limits.max_file_bytes:
        yield Skipped(rel, f"larger than {limits.max_file_bytes} bytes")
        return
    # A file that fits in one chunk is read once and kept; a larger one is sniffed and
    # then streamed again by each scanner.
    small = size <= limits.chunk_bytes
    try:
        with _open_nofollow(path) as handle:
            head = handle.read(limits.chunk_bytes + 1 if small else limits.binary_sniff_bytes)
    except OSError as exc:
        yield Skipped(rel, f"unreadable: {exc.strerror}")
        return
    if b"\x00" in head[: limits.binary_sniff_bytes]:
        yield Skipped(rel, "binary")
    elif small and len(head) <= limits.chunk_bytes:
        yield SourceFile(rel, len(head), lambda: io.BytesIO(head))
    else:
        yield SourceFile(rel, size, lambda: _open_nofollow(path))


def _open_nofollow(path: str) -> BinaryIO:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    return os.fdopen(fd, "rb")


def memory_source(rel: str, data: bytes, limits: ScanLimits) -> Item:
    """A file held in memory (an archive member, a staged blob), or why it is skipped."""
    if b"\x00" in data[: limits.binary_sniff_bytes]:
        return Skipped(rel, "binary")
    return SourceFile(rel, len(data), lambda: io.BytesIO(data))


def checked_member_name(name: str) -> str:
    """``name`` as a safe relative POSIX path; `UnsafeArchiveError` for traversal."""
    if "\\" in name or "\x00" in name:
        raise UnsafeArchiveError(f"archive member {name!r} has a backslash or NUL in its name")
    path = PurePosixPath(name)
    if path.is_absolute() or (path.parts and path.parts[0].endswith(":")):
        raise UnsafeArchiveError(f"archive member {name!r} has an absolute path")
    if ".." in path.parts:
        raise UnsafeArchiveError(f"archive member {name!r} escapes the archive (path traversal)")
    return str(path)


def _archive(path: Path, limits: ScanLimits) -> Iterator[Item]:
    if path.name.lower().endswith(".zip"):
        yield from _zip(path, limits)
    else:
        yield from _tar(path, limits)


def _zip(path: Path, limits: ScanLimits) -> Iterator[Item]:
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise UnsafeArchiveError(f"{path.name} is not a readable zip archive: {exc}") from None
    with archive:
        members = archive.infolist()
        if len(members) > limits.archive_max_members:
            raise UnsafeArchiveError(
                f"{path.name} has {len(members)} members, more than {limits.archive_max_members}"
            )
        total = 0
        for member in members:
            name = checked_member_name(member.filename)
            mode = member.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise UnsafeArchiveError(f"archive member {name!r} is a symbolic link")
            total += member.file_size
            _check_bomb(path.name, name, member.file_size, member.compress_size, total, limits)
        for member in members:
            if member.is_dir():
                continue
            name = checked_member_name(member.filename)
            if member.file_size > limits.max_file_bytes:
                yield Skipped(name, f"larger than {limits.max_file_bytes} bytes")
                continue
            try:
                with archive.open(member) as handle:
                    data = handle.read(member.file_size + 1)
            except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
                raise UnsafeArchiveError(f"archive member {name!r} is corrupt: {exc}") from None
            if len(data) > member.file_size:
                raise UnsafeArchiveError(f"archive member {name!r} is larger than it declares")
            yield memory_source(name, data, limits)


def _check_bomb(
    archive: str, name: str, size: int, compressed: int, total: int, limits: ScanLimits
) -> None:
    if total > limits.archive_max_total_bytes:
        raise UnsafeArchiveError(
            f"{archive} expands past {limits.archive_max_total_bytes} bytes (at {name!r})"
        )
    if size > 1024 * 1024 and size > limits.archive_max_ratio * max(compressed, 1):
        raise UnsafeArchiveError(
            f"archive member {name!r} expands more than {limits.archive_max_ratio}:1 "
            "(a compression bomb)"
        )


def _tar(path: Path, limits: ScanLimits) -> Iterator[Item]:
    try:
        archive = tarfile.open(path, mode="r|*")  # noqa: SIM115 - closed by the with below
    except (OSError, tarfile.TarError) as exc:
        raise UnsafeArchiveError(f"{path.name} is not a readable tar archive: {exc}") from None
    compressed = max(path.stat().st_size, 1)
    total = 0
    count = 0
    with archive:
        try:
            for member in archive:
                count += 1
                if count > limits.archive_max_members:
                    raise UnsafeArchiveError(
                        f"{path.name} has more than {limits.archive_max_members} members"
                    )
                name = checked_member_name(member.name)
                if member.issym() or member.islnk():
                    raise UnsafeArchiveError(f"archive member {name!r} is a link")
                if member.isdir():
                    continue
                if not member.isfile():
                    raise UnsafeArchiveError(f"archive member {name!r} is a device or fifo")
                total += member.size
                if total > limits.archive_max_total_bytes:
                    raise UnsafeArchiveError(
                        f"{path.name} expands past {limits.archive_max_total_bytes} bytes"
                    )
                if total > 1024 * 1024 and total > limits.archive_max_ratio * compressed:
                    raise UnsafeArchiveError(
                        f"{path.name} expands more than {limits.archive_max_ratio}:1 "
                        "(a compression bomb)"
                    )
                if member.size > limits.max_file_bytes:
                    yield Skipped(name, f"larger than {limits.max_file_bytes} bytes")
                    continue
                handle = archive.extractfile(member)
                if handle is None:
                    continue
                with handle:
                    yield memory_source(name, handle.read(member.size), limits)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise UnsafeArchiveError(f"{path.name} is corrupt: {exc}") from None
