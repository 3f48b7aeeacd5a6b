"""Data-residency regions: each names the database that holds its keys and values.

A region without a database URL (or with the main database's URL) uses the main database,
so its writes share the audit event's transaction. A region with its own URL gets its own
engine, migrated at start; its writes commit just before the audit event.
"""

from __future__ import annotations

from strongroom.config import Settings
from strongroom.errors import WrongRegionError
from strongroom.store import migrate
from strongroom.store.engine import Database


class Regions:
    """The configured regions of one server and their databases."""

    def __init__(self, settings: Settings, main: Database) -> None:
        self.main = main
        self._databases: dict[str, Database] = {}
        opened: dict[str, Database] = {}
        for name, region in settings.token_regions.items():
            url = region.database_url
            if url is None or url == settings.resolved_database_url:
                self._databases[name] = main
                continue
            if url not in opened:
                database = Database.from_url(url)
                migrate.upgrade(database.engine)
                opened[url] = database
            self._databases[name] = opened[url]
        self._own = list(opened.values())

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._databases)

    def database(self, region: str) -> Database:
        """The region's database; `WrongRegionError` if this server does not serve it."""
        try:
            return self._databases[region]
        except KeyError:
            raise WrongRegionError("this server does not serve that region") from None

    def all(self) -> list[tuple[str, Database]]:
        return sorted(self._databases.items())

    def close(self) -> None:
        for database in self._own:
            database.dispose()
