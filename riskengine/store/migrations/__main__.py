"""``python -m riskengine.store.migrations [URL]``: upgrade a store to head and say where it is.

URL defaults to ``$RISKENGINE_STORE_URL``, else ``./riskengine.db`` (as ``riskengine serve``).
"""

from __future__ import annotations

import sys

from riskengine.store import DecisionStore
from riskengine.store.migrations import current_revision, head_revision


def main(argv: list[str]) -> int:
    with DecisionStore(argv[0] if argv else None) as store:  # opening upgrades to head
        with store.engine.connect() as conn:
            rev = current_revision(conn)
        url = store.engine.url.render_as_string(hide_password=True)
    print(f"store {url}: revision {rev} (head {head_revision()})")
    return 0 if rev == head_revision() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
