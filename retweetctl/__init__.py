"""retweetctl: who retweets whom, kept exactly in PostgreSQL."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # __version__ on demand: importlib.metadata costs tens of milliseconds at every start.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("retweetctl")
        except PackageNotFoundError:  # running from a source tree that was never installed
            return "0.0.0+unknown"
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
