"""The dependency scanner, the OSV store and the manifest parsers."""

from strongroom.governance.scanners.deps.osv import AdvisoryStore, ImportSummary, import_export
from strongroom.governance.scanners.deps.scanner import DepsScanner

__all__ = ["AdvisoryStore", "DepsScanner", "ImportSummary", "import_export"]
