"""Regenerate the .expected files of the bad corpus (review the diff before keeping it!).

Run: .venv/bin/python -m tests.mapping.gen_expected
"""

from __future__ import annotations

import os
from pathlib import Path

from renkei.mapping import validate_paths

from .streams import streams

BAD = Path(__file__).parent / "bad"


def main() -> None:
    os.chdir(BAD)
    for case in sorted(Path(".").iterdir()):
        if case.suffix == ".yaml" or case.is_dir():
            lines = [d.format() for d in validate_paths([case], streams=streams)]
            Path(case.stem + ".expected").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
