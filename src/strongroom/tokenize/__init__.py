"""The tokenization vault: opaque, deterministic and format-preserving tokens for regulated
fields, bound to a region, with per-value erasure and crypto-shredding.

Plain Python services; the API and CLI call `TokenVault`. See ``docs/tokenization.md``.
"""

from strongroom.tokenize.policy import PolicySpec
from strongroom.tokenize.regions import Regions
from strongroom.tokenize.vault import PolicyInfo, Revealed, TokenVault

__all__ = ["PolicyInfo", "PolicySpec", "Regions", "Revealed", "TokenVault"]
