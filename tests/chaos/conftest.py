"""The chaos package lives at the repository's top level, beside src/ and tests/; the
regression tests for what chaos found reuse the integration tests' harness."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for path in (str(ROOT), str(ROOT / "tests" / "integration")):
    if path not in sys.path:
        sys.path.insert(0, path)
