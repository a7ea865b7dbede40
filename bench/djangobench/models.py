"""The `retweets` table as a Django user would map it (bench only; retweetctl uses no ORM)."""

from __future__ import annotations

from django.db import models


class Retweet(models.Model):  # type: ignore[misc]
    # Django wants a single-column primary key; the table's real key is
    # (tweet_id, retweeter_id), which is what ON CONFLICT DO NOTHING relies on.
    # first_seen_at is left out so the table's DEFAULT fills it, as for every method.
    tweet_id = models.BigIntegerField(primary_key=True)
    retweeter_id = models.BigIntegerField()
    author_id = models.BigIntegerField()

    class Meta:
        app_label = "djangobench"
        db_table = "retweets"
        managed = False
