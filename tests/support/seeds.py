"""The platform docs HookCast was specified from (`shared/seeds/`), read where the project
keeps them: beside the clone, or beside a folder holding it (a worktree under /work/wt).
They are not part of the repository, so a clone elsewhere skips the tests that read them."""

from __future__ import annotations

from pathlib import Path

import pytest

__all__ = ["seed_doc"]


def seed_doc(name: str) -> Path:
    """The seed document `name` (e.g. "001_09508375f633d904.txt"), or a skip saying why."""
    relative = Path("shared", "seeds", name)
    for folder in Path(__file__).resolve().parents[2:]:
        if (folder / relative).is_file():
            return folder / relative
    pytest.skip(f"{relative} is not beside this clone: the seed docs are needed here")
