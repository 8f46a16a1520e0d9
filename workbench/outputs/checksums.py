"""File checksums for the records the workbench keeps (ingest's file log, a cycle run's record, a filing's run.json)."""

from __future__ import annotations

import hashlib


def file_sha256(path) -> str:
    """The file's sha256 as hex, read in 4 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()
