"""Regenerate tests/rules/bad/*.expected (check each diff by eye before keeping it)."""

from __future__ import annotations

import os
from pathlib import Path

from renkei.mapping import validate_paths

BAD = Path(__file__).parent / "bad"

if __name__ == "__main__":
    os.chdir(BAD)
    for case in sorted(p for p in Path(".").iterdir() if p.is_dir()):
        lines = [d.format() for d in validate_paths([case])]
        (BAD / f"{case.name}.expected").write_text("".join(f"{x}\n" for x in lines),
                                                  encoding="utf-8")
