"""Where generated data and measurements are cached."""

import os
from pathlib import Path


def cache_dir() -> Path:
    """$EVOJAX_NAS_CACHE, else ~/.cache/evojax_nas."""
    return Path(os.environ.get("EVOJAX_NAS_CACHE", Path.home() / ".cache" / "evojax_nas"))
