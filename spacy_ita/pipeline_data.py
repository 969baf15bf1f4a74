"""The data files a backend reads, saved inside the pipeline so that it travels.

A backend's config names files: a prompt template, a demonstration pool, a
knowledge base. Those strings are the assembling user's paths and mean nothing
where the pipeline is loaded later (after `spacy package` and `pip install`, on
another machine, from another folder). And `spacy.load` builds every component
from config.cfg *before* it calls the components' `from_disk`. So a backend:

1. never reads its files when it is built: it declares them in a `PipelineData`,
   which loads each item on first use (`data.get(name)`);
2. passes spaCy's serialization calls on: `to_disk(path)` writes every item into
   the pipeline folder (with `data.json`, which says what config value each copy
   came from), `from_disk(path)` points the items at those copies.

The `image_aligner` calls `to_disk` / `from_disk` of each of its backends and
post backends that has them, with `<pipeline>/<component>/<backend key>/`, so
a backend of the aligner only does:

    class MyBackend:
        def __init__(self, kb_path: Optional[str]) -> None:
            self.data = PipelineData()
            self.data.add_file("kb", kb_path, read=read_kb)  # nothing read yet

        def __call__(self, ...):
            kb = self.data.get("kb")  # the config's file, or the pipeline's copy after from_disk

        def to_disk(self, path, *, exclude=()):
            self.data.to_disk(path)

        def from_disk(self, path, *, exclude=()):
            self.data.from_disk(path)
            return self

(`AlignmentBackend` has the `data` attribute and both methods already.) A
component of its own calls the same two methods from its `to_disk` / `from_disk`.
`add_file` copies a user's file (or folder) as it is; `add` takes a loader, a
writer and a reader for data the backend builds from several files (the
demonstration pool joined from its posts, with its embedding vectors).

The config stays the truth about *which* data: a copy is used only while the
config names what it was saved from; edit the config to point at another file
and that file is read (with a logged note).
"""

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Optional, Union

logger = logging.getLogger("spacy_ita")

MANIFEST = "data.json"
PathLike = Union[str, Path]


def load_backend_data(backend: Any) -> None:
    """Read a backend's data now, before anything is saved or asked: every item of its
    `data` (`PipelineData.load_all`), then, for a backend that reads its files' contents
    only on first use (the `kb` retriever's entities), its `check_data()`. Raises what the
    loaders raise (FileNotFoundError, IsADirectoryError, ValueError naming the file)."""
    data = getattr(backend, "data", None)
    if data is not None:
        data.load_all()
    check = getattr(backend, "check_data", None)
    if callable(check):
        check()


def check_data_file(path: PathLike, what: str, *, folder_ok: bool = False) -> Path:
    """`path` as a Path when it is a readable file (or a folder, with `folder_ok`).
    Raises FileNotFoundError for a missing path, IsADirectoryError for a folder where a
    file is expected (both name `what`, e.g. "prompt template")."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} {path} does not exist")
    if path.is_dir() and not folder_ok:
        raise IsADirectoryError(f"{what} {path} is a folder, not a file")
    return path


@dataclass
class _Item:
    source: Any  # JSON-able: what the config says the data is (paths as given, settings)
    load: Callable[[], Any]  # from the config's source (called on first use)
    save: Callable[[Any, Path], None]  # (value, where in the pipeline folder)
    load_saved: Callable[[Path], Any]  # back from the pipeline folder
    stored_as: str  # file or folder name inside the backend's folder


class PipelineData:
    """Named data items of one backend: loaded on first use, saved in and loaded from a pipeline."""

    def __init__(self) -> None:
        self._items: Dict[str, _Item] = {}
        self._values: Dict[str, Any] = {}
        self._saved: Dict[str, Path] = {}  # name -> the pipeline's copy, after from_disk

    def add(
        self,
        name: str,
        *,
        source: Any,
        load: Callable[[], Any],
        save: Callable[[Any, Path], None],
        load_saved: Callable[[Path], Any],
        stored_as: Optional[str] = None,
    ) -> None:
        """Declare an item. `source`: JSON-able description of what the config names (it is
        recorded beside the copy); `load()`: the value from the config's source, None for
        nothing (not saved); `save(value, path)`: write it at `path` (a file or a folder the
        function makes); `load_saved(path)`: read it back. Nothing is called now."""
        self._items[name] = _Item(source, load, save, load_saved, stored_as or name)
        self._values.pop(name, None)

    def add_file(
        self,
        name: str,
        path: Optional[PathLike],
        *,
        read: Callable[[Path], Any],
        default: Optional[Callable[[], Any]] = None,
        folder_ok: bool = False,
        what: Optional[str] = None,
    ) -> None:
        """A user's file (or folder, with `folder_ok`), copied into the pipeline as it is.
        `read(path)` turns it into the value; without a path the value is `default()`
        (None without a default: nothing saved). The copy keeps the file's suffix.
        `what` names the file in errors (default: `name`)."""
        what = what or name

        def load() -> Any:
            if path is None or str(path) == "":
                return default() if default is not None else None
            return read(check_data_file(path, what, folder_ok=folder_ok))

        def save(value: Any, target: Path) -> None:
            if path is None or str(path) == "":
                return  # a default is the package's: nothing of the user's to carry
            origin = self._saved.get(name) or check_data_file(path, what, folder_ok=folder_ok)
            if origin.is_dir():
                shutil.copytree(origin, target, dirs_exist_ok=True)
            else:
                shutil.copyfile(origin, target)

        stored_as = name + (Path(str(path)).suffix if path else "")
        self.add(
            name,
            source=str(path) if path else None,
            load=load,
            save=save,
            load_saved=read,
            stored_as=stored_as,
        )

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def get(self, name: str) -> Any:
        """The item's value, loaded once: from the pipeline's copy after `from_disk`, else from the config's source.
        Raises what the item's loader raises (FileNotFoundError, IsADirectoryError, ValueError)."""
        if name not in self._values:
            item = self._items[name]
            saved = self._saved.get(name)
            self._values[name] = item.load_saved(saved) if saved is not None else item.load()
        return self._values[name]

    def load_all(self) -> None:
        """Load every item now (a job checks its data before the first request)."""
        for name in self._items:
            self.get(name)

    def to_disk(self, path: PathLike, *, exclude: Iterable[str] = ()) -> None:
        """Write every item that has a value into the folder `path`, and `data.json`."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        manifest = {}
        for name, item in self._items.items():
            if name in exclude:
                continue
            value = self.get(name)
            if value is None:
                continue
            target = path / item.stored_as
            saved = self._saved.get(name)
            if saved is None or saved.resolve() != target.resolve():  # saving where it was loaded from: it is there
                if target.is_dir():
                    shutil.rmtree(target)
                item.save(value, target)
            if target.exists():
                manifest[name] = {"source": item.source, "stored_as": item.stored_as}
        (path / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf8")

    def from_disk(self, path: PathLike, *, exclude: Iterable[str] = ()) -> "PipelineData":
        """Point the items at their copies in the folder `path` (a folder saved without
        data, e.g. by an older version, changes nothing)."""
        path = Path(path)
        manifest_path = path / MANIFEST
        if not manifest_path.is_file():
            return self
        manifest = json.loads(manifest_path.read_text(encoding="utf8"))
        for name, item in self._items.items():
            saved = manifest.get(name)
            if name in exclude or not saved:
                continue
            if saved.get("source") != item.source:
                logger.info(
                    "%s: the config names %r, the pipeline holds a copy of %r: reading the config's",
                    name,
                    item.source,
                    saved.get("source"),
                )
                continue
            self._saved[name] = path / saved["stored_as"]
            self._values.pop(name, None)
        return self
