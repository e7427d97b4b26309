"""A generated, real-looking Obsidian vault (not a test module)."""

from __future__ import annotations

import io
import zipfile


def png_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def vault_zip(notes: int = 60, *, root: str = "MyVault/") -> bytes:
    """`notes` notes in nested folders, front matter (title, tags, aliases), wikilinks of
    every form, an image embedded by one note, and an `.obsidian/` folder that is skipped."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for i in range(notes):
            folder = ["", "projects/", "projects/alpha/", "journal/2024/"][i % 4]
            links = f"See [[Note {(i + 1) % notes}]] and [[Note {(i + 2) % notes}|the next one]]."
            if i % 10 == 0:
                links += f" Also [[alias-{(i + 3) % notes}]]."
            front = (
                f"---\ntitle: Note {i}\ntags: [vault, group{i % 3}]\n"
                f"aliases:\n  - alias-{i}\ncreated: 2024-01-0{1 + i % 9}T10:00:00Z\n---\n"
            )
            body = f"# Note {i}\n\n{links}\n\nSome text #topic/{i % 5}.\n"
            if i == 7:
                body += "\n![[images/diagram.png]]\n"
            archive.writestr(f"{root}{folder}note-{i}.md", front + body)
        archive.writestr(f"{root}images/diagram.png", png_bytes())
        archive.writestr(f"{root}.obsidian/app.json", "{}")
    return out.getvalue()


def zip_of(files: dict[str, bytes | str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()
