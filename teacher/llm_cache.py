"""On-disk cache of parsed LLM responses, so a rerun or a resume costs no requests.

One JSON file per request under ``cache_dir/<key[:2]>/<key>.json``. The key is the sha256 of
everything that decides the answer: the server's base URL, the model, the messages and the
sampling parameters. Only responses that parsed into the shape the task wanted are stored
(the caller decides that), so a malformed or failed answer is asked again next time.

Files are written atomically (temporary sibling + ``os.replace``): a run killed mid-write
leaves either no entry or a whole one, never a torn file. A file that cannot be read anyway
(disk trouble, a hand edit) counts as a miss.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from schemadistill.io import atomic_write_json


def cache_key(base_url: str, model: str, messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    """sha256 over a canonical JSON of the request (key order and whitespace do not matter)."""
    blob = json.dumps(
        {"base_url": base_url.rstrip("/"), "model": model, "messages": messages, "params": params},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class ResponseCache:
    """JSON files keyed by :func:`cache_key`; ``get`` returns the stored record or None."""

    def __init__(self, cache_dir: str | Path) -> None:
        self.dir = Path(cache_dir)

    def path(self, key: str) -> Path:
        # Two-character fan-out keeps directories small for runs with tens of thousands of calls.
        return self.dir / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        p = self.path(key)
        try:
            record = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or "parsed" not in record:
            return None
        return record

    def put(self, key: str, record: dict[str, Any]) -> None:
        atomic_write_json(self.path(key), record)

    def __len__(self) -> int:
        if not self.dir.is_dir():
            return 0
        return sum(1 for _ in self.dir.glob("??/*.json"))
