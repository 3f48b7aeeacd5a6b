"""scan_path over trees and archives: links, binaries, bounds, bombs, streaming."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from strongroom.errors import ScanError, UnsafeArchiveError
from strongroom.governance.scanners import Finding, ScanLimits, ScanReport, scan_path

CANARY = "sk_live_nIHTLlYjG0cfJYQWtnjOzq84"


def rules(report: ScanReport) -> list[tuple[str, str, int]]:
    return [(f.file, f.rule_id, f.line) for f in report.findings]


def test_tree_findings_are_relative_posix_paths(tmp_path: Path) -> None:
    (tmp_path / "src" / "pay").mkdir(parents=True)
    (tmp_path / "src" / "pay" / "keys.py").write_text(f"\n\nKEY = '{CANARY}'\n")
    (tmp_path / "README.md").write_text("nothing here\n")
    report = scan_path(tmp_path, scanners=["secrets"])
    assert rules(report) == [("src/pay/keys.py", "stripe-live-key", 3)]
    assert report.files_scanned == 2
    assert report.bytes_scanned == sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    assert report.scanners == ["secrets"]
    assert CANARY not in str(report.to_dict())


def test_finding_interface(tmp_path: Path) -> None:
    (tmp_path / "a.env").write_text(f"STRIPE={CANARY}\n")
    (finding,) = scan_path(tmp_path, scanners=["secrets"]).findings
    assert isinstance(finding, Finding)
    with pytest.raises(AttributeError):
        finding.line = 3  # type: ignore[misc]
    assert set(finding.to_dict()) == {
        "scanner",
        "rule_id",
        "file",
        "line",
        "column",
        "severity",
        "confidence",
        "fingerprint",
        "message",
        "blocking",
    }


def test_symlinks_are_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(f"k={CANARY}\n")
    tree = tmp_path / "tree"
    tree.mkdir()
    os.symlink(outside / "secret.txt", tree / "link.txt")
    os.symlink(outside, tree / "linkdir")
    report = scan_path(tree)
    assert report.findings == []
    reasons = {e.file: e.reason for e in report.errors}
    assert reasons["link.txt"].startswith("symbolic link")
    assert reasons["linkdir"].startswith("symbolic link")
    with pytest.raises(ScanError, match="symbolic link"):
        scan_path(tree / "link.txt")


def test_binary_huge_and_invalid_utf8_files(tmp_path: Path) -> None:
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01" + CANARY.encode())
    (tmp_path / "big.txt").write_bytes(b"x" * 70_000 + CANARY.encode())
    (tmp_path / "latin.py").write_bytes(b"# caf\xe9\xff\nk = '" + CANARY.encode() + b"'\n")
    report = scan_path(tmp_path, limits=ScanLimits(max_file_bytes=65_536), scanners=["secrets"])
    assert rules(report) == [("latin.py", "stripe-live-key", 2)]
    reasons = {e.file: e.reason for e in report.errors}
    assert reasons == {"blob.bin": "binary", "big.txt": "larger than 65536 bytes"}


def test_missing_path_and_unknown_scanner(tmp_path: Path) -> None:
    with pytest.raises(ScanError, match="cannot read"):
        scan_path(tmp_path / "nope")
    with pytest.raises(ScanError, match="unknown scanner 'virus'"):
        scan_path(tmp_path, scanners=["virus"])


@pytest.mark.parametrize("offset", [0, 1, 37, 65_500, 65_530, 65_536 - 8, 131_000])
def test_secret_straddling_a_chunk_boundary_is_found(tmp_path: Path, offset: int) -> None:
    limits = ScanLimits(chunk_bytes=65_536)
    filler = ("# filler line of code\n" * 10_000)[:offset]
    (tmp_path / "f.py").write_text(filler + f"k = '{CANARY}'\n" + "# more\n" * 20_000)
    report = scan_path(tmp_path / "f.py", limits=limits, scanners=["secrets"])
    assert rules(report) == [("f.py", "stripe-live-key", filler.count("\n") + 1)]


def test_pem_key_across_chunks(tmp_path: Path) -> None:
    body = "\n".join(["MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun"] * 20)
    pem = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n"
    filler = "x = 1\n" * 10_900  # puts the header just before the first cut
    (tmp_path / "k.pem").write_text(filler + pem)
    report = scan_path(tmp_path, limits=ScanLimits(chunk_bytes=65_536), scanners=["secrets"])
    assert rules(report) == [("k.pem", "private-key", 10_901)]


def test_long_minified_line(tmp_path: Path) -> None:
    line = "var a=1;" * 200_000 + f'var k="{CANARY}";' + "var b=2;" * 200_000
    (tmp_path / "app.min.js").write_text(line)
    report = scan_path(tmp_path, limits=ScanLimits(chunk_bytes=65_536), scanners=["secrets"])
    assert [(f.rule_id, f.line, f.column) for f in report.findings] == [
        ("stripe-live-key", 1, 1_600_008)
    ]


def _zip(path: Path, members: dict[str, bytes], symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = 0o120777 << 16
            archive.writestr(info, "/etc/passwd")
    return path


def test_zip_archive_is_scanned_in_memory(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "app.zip", {"app/main.py": f"K='{CANARY}'\n".encode(), "app/": b""})
    report = scan_path(archive, scanners=["secrets"])
    assert rules(report) == [("app/main.py", "stripe-live-key", 1)]


@pytest.mark.parametrize(
    ("name", "message"),
    [("../evil.py", "path traversal"), ("/etc/cron.d/x", "absolute"), ("a\\..\\b", "backslash")],
)
def test_zip_traversal_is_refused(tmp_path: Path, name: str, message: str) -> None:
    archive = _zip(tmp_path / "bad.zip", {"ok.py": b"x=1\n", name: b"x=1\n"})
    with pytest.raises(UnsafeArchiveError, match=message):
        scan_path(archive)


def test_zip_symlink_is_refused(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "link.zip", {"ok.py": b"x=1\n"}, symlink="passwd")
    with pytest.raises(UnsafeArchiveError, match="symbolic link"):
        scan_path(archive)


def test_zip_bomb_is_refused_before_reading(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "bomb.zip", {"zeros.txt": b"0" * 20_000_000})
    with pytest.raises(UnsafeArchiveError, match="compression bomb"):
        scan_path(archive)
    big = _zip(tmp_path / "big.zip", {f"f{i}.txt": os.urandom(600_000) for i in range(4)})
    with pytest.raises(UnsafeArchiveError, match="expands past"):
        scan_path(big, limits=ScanLimits(archive_max_total_bytes=2_000_000))
    many = _zip(tmp_path / "many.zip", {f"f{i}.txt": b"x" for i in range(30)})
    with pytest.raises(UnsafeArchiveError, match="more than 20"):
        scan_path(many, limits=ScanLimits(archive_max_members=20))


def test_corrupt_zip(tmp_path: Path) -> None:
    (tmp_path / "junk.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(UnsafeArchiveError, match="not a readable zip"):
        scan_path(tmp_path / "junk.zip")


def _tar(path: Path, members: list[tarfile.TarInfo], data: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for info in members:
            payload = data.get(info.name)
            if payload is not None:
                info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return path


def test_tar_archive_and_its_refusals(tmp_path: Path) -> None:
    good = _tar(tmp_path / "ok.tgz", [tarfile.TarInfo("src/k.py")], {"src/k.py": CANARY.encode()})
    assert rules(scan_path(good, scanners=["secrets"])) == [("src/k.py", "stripe-live-key", 1)]

    link = tarfile.TarInfo("etc")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc"
    bad = _tar(tmp_path / "link.tar.gz", [link], {})
    with pytest.raises(UnsafeArchiveError, match="is a link"):
        scan_path(bad)

    up = _tar(tmp_path / "up.tgz", [tarfile.TarInfo("../../x.py")], {"../../x.py": b"x"})
    with pytest.raises(UnsafeArchiveError, match="path traversal"):
        scan_path(up)

    bomb = _tar(tmp_path / "bomb.tgz", [tarfile.TarInfo("z")], {"z": b"\0" * 5_000_000})
    with pytest.raises(UnsafeArchiveError, match="compression bomb"):
        scan_path(bomb)
