"""The rows a merge takes and the users it names: plain types, with nothing to import.

Kept apart from ingest (which needs psycopg) so the parse worker processes start
without importing the database driver (a tenth of a second each).
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

__all__ = ["Retweet", "Row", "User"]


class Retweet(NamedTuple):
    """One retweet with what its source says about it (see sql/migrations/0003).

    Ids are positive 64-bit integers. retweet_id and retweeted_at are None when
    the source does not give them (the retweeted_by endpoint, a CSV without those
    columns); author_from_mention is True when the author was read from the
    retweet's `RT @name:` mention because the original was missing.
    """

    tweet_id: int
    retweeter_id: int
    author_id: int
    retweet_id: int | None = None
    retweeted_at: datetime | None = None
    author_from_mention: bool = False


# A row to merge: a Retweet, or a plain (tweet_id, retweeter_id, author_id) triple,
# the details then unknown.
Row = Retweet | tuple[int, int, int]
# (id, username, name)
User = tuple[int, str | None, str | None]
