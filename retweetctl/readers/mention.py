"""Who wrote the tweet a retweet points to, when the original is not in the page (issue 15).

X writes a retweet's text as `RT @name: …`, and the retweet's first mention,
starting at offset 3, is that account: with its id in current API responses
(and in `twarc2 flatten` output, which inlines the mentioned user), or only a
username in older ones, which the same page's `includes.users` resolves
(twarc2 asks for the `entities.mentions.username` expansion by default).
The original may have been deleted, withheld or its author suspended: the
retweet is still evidence of who retweeted whom.
"""

from __future__ import annotations

from collections.abc import Callable

from retweetctl.ids import parse_id_text
from retweetctl.rows import User

__all__ = ["RT_MENTION_START", "RT_PREFIX", "author_from_mention", "no_users", "users_by_name"]

RT_PREFIX = "RT @"
# Offset of the name in "RT @name": the mention's start, as X counts it.
RT_MENTION_START = 3


def author_from_mention(
    text: object,
    start: object,
    mention_id: object,
    username: object,
    resolve: Callable[[str], int | None],
) -> int | None:
    """The author named by a retweet's first mention, or None.

    Only if the text begins `RT @`, the mention starts at offset 3, and either
    its id is a valid id or its username resolves (resolve: lower-cased
    username -> id, from the same page's includes.users).
    """
    if type(text) is not str or not text.startswith(RT_PREFIX):
        return None
    if type(start) is not int or start != RT_MENTION_START:
        return None
    if mention_id is not None:
        return parse_id_text(mention_id) if type(mention_id) is str else None
    if type(username) is not str or not username:
        return None
    return resolve(username.lower())


def users_by_name(users: list[User]) -> Callable[[str], int | None]:
    """lower-cased username -> id over a page's users, built on first use."""
    table: dict[str, int] | None = None

    def resolve(username: str) -> int | None:
        nonlocal table
        if table is None:
            table = {name.lower(): uid for uid, name, _ in users if name is not None}
        return table.get(username)

    return resolve


def no_users(username: str) -> int | None:
    """The resolver of a line without a page's users (a flattened tweet): nobody."""
    return None
