"""Write `compliance_rules/derived.json.gz`: what each shipped pattern's regex says (the
literals its matches contain or start with, what else they need, whether a match may be
empty), so that loading the rules parses no regex. Run it after changing a pack or the
product registry; `tests/compliance/test_derived.py` fails while the file is stale.

    .venv/bin/python scripts/write_derived.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from compliance_rules import derived


def main() -> int:
    written = derived.write()
    kinds = ", ".join(f"{len(written[k])} {k}" for k in derived.KINDS)
    print(f"{derived.PATH.name}: {kinds}; {len(written['sets'])} sets of literals")
    return 0


if __name__ == "__main__":
    sys.exit(main())
