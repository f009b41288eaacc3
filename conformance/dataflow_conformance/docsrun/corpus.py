"""The pages of a docs run: the Markdown documents under the paths given (directories, Markdown files, the
README a wheel or its METADATA publishes), named relative to the paths' common folder, and where they
come from (without machine paths) for the report."""

import email.parser
import fnmatch
import os
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path


class DocsError(Exception):
    """Bad input to the docs runner (a path that does not exist, a module that cannot be imported)."""


@dataclass(frozen=True)
class Document:
    name: str  # relative to the common folder of the paths given
    text: str


# -- finding the documents -----------------------------------------------------------------------


def find_documents(paths: list[Path], include: list[str] = (), exclude: list[str] = ()) -> list[Document]:
    """The Markdown documents under PATHs (directories: their *.md files; Markdown files; a wheel or a
    METADATA / PKG-INFO file: the README a package publishes), named relative to the paths' common
    folder, kept when they match an `include` glob (if any) and no `exclude` glob."""
    found: list[tuple[Path, str, str]] = []  # (path, name below its root, text)
    for path in paths:
        if not path.exists():
            raise DocsError(f"{path} does not exist")
        if path.is_dir():
            files = sorted(p for p in path.rglob("*.md") if not any(part.startswith(".") for part in p.parts))
            found += [(p, p.relative_to(path).as_posix(), p.read_text(encoding="utf-8")) for p in files]
        elif path.suffix == ".whl":
            found.append((path, f"{path.name}:METADATA", _wheel_readme(path)))
        elif path.name in ("METADATA", "PKG-INFO"):
            found.append((path, path.name, _long_description(path.read_text(encoding="utf-8"), path)))
        elif path.suffix.lower() in (".md", ".markdown"):
            found.append((path, path.name, path.read_text(encoding="utf-8")))
        else:
            raise DocsError(f"{path}: expected a directory, a Markdown file, a wheel or a METADATA file")
    if len(paths) > 1:  # names relative to the common folder, so that pages of different paths stay apart
        root = Path(os.path.commonpath([p.resolve() if p.is_dir() else p.resolve().parent for p in paths]))
        found = [(p, _name_under(p, root, name), text) for p, name, text in found]
    documents, seen = [], set()
    for _, name, text in found:
        if name in seen or (include and not any(fnmatch.fnmatch(name, g) for g in include)):
            continue
        if any(fnmatch.fnmatch(name, g) for g in exclude):
            continue
        seen.add(name)
        documents.append(Document(name, text))
    if not documents:
        raise DocsError(f"no Markdown (*.md) page under {', '.join(map(str, paths))} matches the include/exclude globs")
    return documents


def _name_under(path: Path, root: Path, name: str) -> str:
    if path.suffix == ".whl" or path.name in ("METADATA", "PKG-INFO"):
        return name
    resolved = path.resolve()
    return (resolved.relative_to(root) if resolved.is_file() else (resolved / name).relative_to(root)).as_posix()


def _wheel_readme(path: Path) -> str:
    with zipfile.ZipFile(path) as wheel:
        names = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
        if not names:
            raise DocsError(f"{path} has no .dist-info/METADATA")
        return _long_description(wheel.read(names[0]).decode("utf-8"), path)


def _long_description(metadata: str, path: Path) -> str:
    message = email.parser.Parser().parsestr(metadata)
    body = message.get_payload() or message.get("Description", "")
    if not body.strip():
        raise DocsError(f"{path}: the package metadata has no long description")
    return body


def corpus_commit(paths: list[Path]) -> str | None:
    """The git commit the docs come from, when they are in a git work tree."""
    folder = paths[0] if paths[0].is_dir() else paths[0].parent
    done = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    return (done.stdout.strip() or None) if done.returncode == 0 else None


def describe(paths: list[Path], commit: str | None) -> dict:
    """Where the docs come from, without machine paths: the paths below their common folder, its name, the commit."""
    folders = [p.resolve() if p.is_dir() else p.resolve().parent for p in paths]
    root = Path(os.path.commonpath(folders)) if len(paths) > 1 else folders[0]
    names = [p.resolve().relative_to(root).as_posix() if p.resolve() != root else "." for p in paths]
    return {"root": root.name, "paths": names, "commit": commit or corpus_commit(paths)}
