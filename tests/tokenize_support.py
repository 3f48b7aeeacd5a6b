"""Support for the tokenization tests (imported as ``tokenize_support``; not a conftest)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from strongroom.call import Call
from strongroom.node import Node
from strongroom.store.engine import Database


class MovableClock:
    """A wall clock that tests can move forward."""

    def __init__(self) -> None:
        self.offset_us = 0

    def now_us(self) -> int:
        return time.time_ns() // 1000 + self.offset_us


@dataclass
class Vaulted:
    node: Node
    clock: MovableClock
    eu_url: str
    main_url: str
    call: Call

    def eu_db(self) -> Database:
        return self.node.regions.database("eu")
