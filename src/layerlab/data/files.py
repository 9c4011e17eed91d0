"""Finding a data set's files: the recipe's path, the search path, then a checked download.

A data set named ``fashion-mnist`` is looked for in ``data.path`` when the recipe gives one, and then
only there (a wrong path is an error, never silently other data). Otherwise it is looked for in each
directory ``D`` of the search path (``LAYERLAB_DATA``, the cache ``~/.cache/layerlab/datasets``,
``/usr/share/datasets``) as ``D/fashion-mnist/`` and ``D/``. All files of a set must be in one
directory; a ``.gz`` file may also be there un-gzipped. When nothing is found and downloading is
allowed, the files are fetched from their official address into the cache, written to a temporary
file, checked against their SHA-256 and only then renamed into place.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from layerlab.errors import DataError
from layerlab.settings import Settings

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
TIMEOUT_S = 60


@dataclass(frozen=True)
class RemoteFile:
    """One file of a data set, with where to download it and its SHA-256 (of the file as published)."""

    name: str
    urls: tuple[str, ...] = ()  # the official address first, then mirrors
    sha256: str | None = None

    def local_names(self) -> tuple[str, ...]:
        """Names under which the file is accepted locally: as published, and un-gzipped."""
        return (self.name, self.name[:-3]) if self.name.endswith(".gz") else (self.name,)


@dataclass(frozen=True)
class FileSet:
    """The files that make up a data set, and how a user gets them."""

    dataset: str  # also the folder name looked for in each search directory
    title: str  # for messages ("Fashion-MNIST")
    files: tuple[RemoteFile, ...]
    folders: tuple[str, ...] = ()  # other sub-folders the files may be in (e.g. torchvision's layout)
    advice: tuple[str, ...] = ()  # extra ways to get the files, for the error message


def search_dirs(fileset: FileSet, settings: Settings) -> list[Path]:
    """Directories looked in for a data set, in order: ``D/<dataset>/``, ``D/<folders>/``, ``D/``."""
    dirs: list[Path] = []
    for base in settings.search_path():
        for sub in (fileset.dataset, *fileset.folders, ""):
            candidate = base / sub if sub else base
            if candidate not in dirs:
                dirs.append(candidate)
    return dirs


def locate(files: Sequence[RemoteFile], dirs: Sequence[Path]) -> dict[str, Path] | None:
    """The paths of all ``files`` in the first of ``dirs`` that holds every one of them, or None."""
    for directory in dirs:
        found = {}
        for remote in files:
            path = next((directory / n for n in remote.local_names() if (directory / n).is_file()), None)
            if path is None:
                break
            found[remote.name] = path
        else:
            return found
    return None


def resolve_path(path: str | Path, settings: Settings) -> Path:
    """The recipe's ``data.path``: as given, or (when relative and not found) under a search directory.

    Raises DataError listing the places looked in.
    """
    given = Path(path).expanduser()
    if given.exists():
        return given
    tried = [given.resolve()]
    if not given.is_absolute():
        for base in settings.search_path():
            if (base / given).exists():
                return base / given
            tried.append(base / given)
    raise DataError(f"data.path: '{path}' does not exist; looked for it at\n" + "\n".join(f"  {p}" for p in tried))


def resolve_folder(path: str | Path | None, settings: Settings, *, needs: str) -> Path:
    """The folder ``data.path`` names (see ``resolve_path``); DataError saying ``needs`` (what the source
    reads, in words) when no path is given or the path is not a folder."""
    if path is None:
        raise DataError(f"data.path: {needs}")
    folder = resolve_path(path, settings)
    if not folder.is_dir():
        raise DataError(f"data.path: {folder} is not a folder; {needs}")
    return folder

def recipe_file(path: str | None, settings: Settings, source: str, what: str) -> Path:
    """The one file a source reads from ``data.path`` (``what``: "CSV file"), found as ``resolve_path``
    finds it. No path, or a folder, is a DataError saying what the source needs."""
    if path is None:
        raise DataError(f"data.path: the {source} source needs the {what} to read")
    found = resolve_path(path, settings)
    if found.is_dir():
        raise DataError(f"data.path: {found} is a folder; the {source} source reads one {what}")
    return found

def find_files(fileset: FileSet, *, path: str | None, settings: Settings, download: bool) -> dict[str, Path]:
    """The local paths of all files of a data set, by name as published; downloads them if allowed.

    With ``path`` (the recipe's ``data.path``: the folder, or one of the files) only that folder (and
    its sub-folders named like the data set) is looked in. Raises DataError saying which files are missing, every directory looked in, and how
    to get them.
    """
    if path is not None:
        given = resolve_path(path, settings)
        folder = given if given.is_dir() else given.parent
        dirs = [folder, *(folder / sub for sub in (fileset.dataset, *fileset.folders))]
        found = locate(fileset.files, dirs)
        if found is None:
            raise DataError(_not_found(fileset, dirs, "data.path is given, so nothing else was looked in", settings))
        return found

    dirs = search_dirs(fileset, settings)
    found = locate(fileset.files, dirs)
    if found is not None:
        log.info("%s: using %s", fileset.title, next(iter(found.values())).parent)
        return found
    if not download or settings.offline:
        why = "downloading is off (data.download: false)" if not download else "downloading is off (LAYERLAB_OFFLINE is set)"
        raise DataError(_not_found(fileset, dirs, why, settings))
    return fetch(fileset, settings, dirs)


def fetch(fileset: FileSet, settings: Settings, looked_in: Sequence[Path] = ()) -> dict[str, Path]:
    """Download the files of a set that are not yet in the cache; returns all their paths there."""
    target = settings.dataset_cache / fileset.dataset
    found = {}
    for remote in fileset.files:
        existing = locate([remote], [target])
        if existing is not None:
            found.update(existing)
            continue
        errors = []
        for url in remote.urls:
            try:
                found[remote.name] = download(url, target / remote.name, sha256=remote.sha256)
                break
            except DataError as exc:
                errors.append(str(exc))
        else:
            why = "the download failed:\n" + "\n".join(f"    {e}" for e in errors or ["no address is known"])
            raise DataError(_not_found(fileset, looked_in or [target], why, settings))
    return found


def download(url: str, dest: Path, *, sha256: str | None, progress: bool = True) -> Path:
    """Download ``url`` to ``dest`` through a temporary file, checking its SHA-256; returns ``dest``.

    Raises DataError when the address cannot be reached or the checksum differs; nothing is left
    behind then.
    """
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as exc:
        raise DataError(f"{dest.parent}: cannot write a download there ({exc.strerror or exc}); "
                        "set LAYERLAB_CACHE to a writable folder") from None
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "layerlab"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with _progress(dest.name, total, enabled=progress) as advance:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    advance(len(chunk))
        if sha256 is not None and digest.hexdigest() != sha256.lower():
            raise DataError(f"{url}: the downloaded file's SHA-256 is {digest.hexdigest()}, expected {sha256}; "
                            "it was not kept (a corrupt or changed file)")
        if sha256 is None:
            log.warning("%s: no SHA-256 is known for this file, so it was not checked", url)
        os.replace(tmp, dest)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DataError(f"{url}: cannot download ({reason})") from None
    finally:
        tmp.unlink(missing_ok=True)
    log.info("downloaded %s to %s", url, dest)
    return dest


@contextlib.contextmanager
def _progress(name: str, total: int | None, *, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr while a file downloads (only on a terminal); yields ``advance(n)``."""
    console = Console(stderr=True)
    if not (enabled and console.is_terminal):
        yield lambda n: None
        return
    columns = (TextColumn("[bold]downloading {task.description}"), BarColumn(), DownloadColumn(),
               TransferSpeedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(name, total=total)
        yield lambda n: bar.advance(task, n)


def _not_found(fileset: FileSet, looked_in: Sequence[Path], why: str, settings: Settings) -> str:
    names = ", ".join(f.name for f in fileset.files)
    lines = [f"{fileset.title} was not found: need {names} (gzipped or not) in one folder.", "Looked in:"]
    lines += [f"  {d}" for d in looked_in]
    lines.append(f"Not downloaded: {why}.")
    lines.append("To get it: set data.path to the folder holding the files, or put them in a folder listed in "
                 f"LAYERLAB_DATA (or in {settings.dataset_cache / fileset.dataset})")
    lines += [f"  or {a}" for a in fileset.advice]
    if fileset.files[0].urls:
        lines.append("  or allow downloading (data.download: true, LAYERLAB_OFFLINE unset) from "
                     f"{fileset.files[0].urls[0].rsplit('/', 1)[0]}/")
    return "\n".join(lines)
