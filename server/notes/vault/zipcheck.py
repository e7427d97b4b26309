"""Checks on an uploaded vault ZIP before anything is imported (pure, sync: run in a thread).

Reads only the central directory: unsafe paths (`../`, absolute, drive letters), too many
entries, a declared expanded size past the bound, or an entry compressed beyond a sane
ratio (a zip bomb) refuse the whole archive. The importer bounds the bytes it actually
reads too, since declared sizes can lie.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO

MAX_RATIO = 200  # expanded / compressed, per entry (text compresses ~10x, rarely 100x)
SKIP_PARTS = {".obsidian", ".trash", ".git", "__MACOSX", ".logseq"}


class VaultError(Exception):
    def __init__(self, code: str, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class Entry:
    path: str  # normalised, forward slashes, no leading folder of a single-root export
    name: str  # the name inside the archive
    size: int

    @property
    def is_note(self) -> bool:
        return self.path.lower().endswith((".md", ".markdown"))


def safe_path(name: str) -> str:
    """The entry's path, or VaultError for anything that could leave the import root."""
    raw = name.replace("\\", "/")
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":") or "\x00" in raw:
        raise VaultError("UNSAFE_PATH", f"The ZIP has an absolute path: {name[:200]!r}.")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise VaultError("UNSAFE_PATH", f"The ZIP has a path leaving the vault: {name[:200]!r}.")
    return "/".join(parts)


def check(file: IO[bytes], *, max_files: int, max_expanded_bytes: int) -> list[Entry]:
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise VaultError("INVALID_ZIP", f"The file is not a readable ZIP archive: {exc}") from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > max_files:
            raise VaultError(
                "TOO_MANY_FILES", f"The ZIP has {len(infos)} entries; at most {max_files}."
            )
        entries: list[Entry] = []
        total = 0
        for info in infos:
            path = safe_path(info.filename)
            if info.is_dir() or not path:
                continue
            if info.flag_bits & 0x1:
                raise VaultError("ENCRYPTED_ZIP", "Encrypted ZIP entries cannot be imported.")
            total += info.file_size
            if total > max_expanded_bytes:
                raise VaultError(
                    "ZIP_TOO_LARGE",
                    f"The ZIP expands past {max_expanded_bytes} bytes.",
                    status=413,
                )
            if info.file_size > 1024 * 1024 and info.file_size > MAX_RATIO * max(
                info.compress_size, 1
            ):
                raise VaultError("ZIP_BOMB", f"{path!r} is compressed beyond a sane ratio.")
            if set(PurePosixPath(path).parts) & SKIP_PARTS or PurePosixPath(path).name.startswith(
                "."
            ):
                continue
            entries.append(Entry(path, info.filename, info.file_size))
    return strip_common_root(entries)


def strip_common_root(entries: list[Entry]) -> list[Entry]:
    """A vault zipped as its folder (`MyVault/...`) imports the same as its contents."""
    firsts = {e.path.split("/", 1)[0] for e in entries}
    if len(firsts) == 1 and all("/" in e.path for e in entries):
        root = next(iter(firsts)) + "/"
        return [Entry(e.path[len(root) :], e.name, e.size) for e in entries]
    return entries
