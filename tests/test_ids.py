"""The one definition of an id that fetch, load, matrix and the X API client share."""

from __future__ import annotations

import pytest

from retweetctl.ids import MAX_ID, parse_id_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1),
        ("007", 7),
        (str(MAX_ID), MAX_ID),
        (str(MAX_ID + 1), None),
        ("0", None),
        ("", None),
        ("-5", None),
        ("+5", None),
        (" 5", None),
        ("1.4e18", None),
        ("١٢", None),  # Arabic-Indic digits: int() would read 12
        ("１２", None),  # full-width digits
        ("9" * 4301, None),  # int() itself would raise on this many digits
        ("0" * 5000 + "42", 42),
    ],
)
def test_parse_id_text(text: str, expected: int | None) -> None:
    assert parse_id_text(text) == expected
