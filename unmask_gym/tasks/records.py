"""Reading a dataset's records from local files: JSONL, JSON, parquet, Arrow, or a ``datasets`` folder.

Nothing downloads: a path is a file, or a folder holding such files (a ``datasets`` cache folder with ``*.arrow``
files, or a ``save_to_disk`` folder). Parquet, Arrow and ``save_to_disk`` folders need ``pyarrow``
(``pip install "unmask-gym[data]"``), not ``datasets``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FILE_SUFFIXES = (".jsonl", ".json", ".parquet", ".arrow")


def read_records(path: str | Path) -> list[dict[str, Any]]:
    r"""Every record (a dict per row) in ``path``, in file order.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "test.jsonl").write_text('{"question": "1+1?", "answer": "#### 2"}\n')
        >>> read_records(folder / "test.jsonl")
        [{'question': '1+1?', 'answer': '#### 2'}]

    Raises:
        ValueError: the path does not exist, holds no supported file, or a file cannot be parsed.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise ValueError(f"dataset path {str(path)!r} does not exist (expected a {'/'.join(FILE_SUFFIXES)} file or "
                         "a folder of them)")  # fmt: skip
    if path.is_dir():
        if (path / "state.json").exists() or (path / "dataset_dict.json").exists():
            return _read_saved_dataset(path)
        files = sorted(p for p in path.rglob("*") if p.suffix in FILE_SUFFIXES and p.is_file())
        if not files:
            raise ValueError(f"dataset folder {str(path)!r} holds no {'/'.join(FILE_SUFFIXES)} file")
        return [record for file in files for record in _read_file(file)]
    return _read_file(path)


def _read_file(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".jsonl":
        records = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise ValueError(f"{path}:{number} is not a JSON object: {error}") from None
        return records
    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, list) else list(data.get("data", data.get("rows", [])))
    if path.suffix in (".parquet", ".arrow"):
        try:
            import pyarrow.ipc
            import pyarrow.parquet
        except ImportError:
            raise ImportError(f"reading {path.name} needs pyarrow: pip install pyarrow") from None
        if path.suffix == ".parquet":
            return pyarrow.parquet.read_table(path).to_pylist()
        with path.open("rb") as stream:  # the datasets cache writes Arrow IPC streams
            return pyarrow.ipc.open_stream(stream).read_all().to_pylist()
    raise ValueError(f"unsupported dataset file {str(path)!r}; expected one of {FILE_SUFFIXES}")


def _read_saved_dataset(path: Path) -> list[dict[str, Any]]:
    """The records of a ``datasets`` ``save_to_disk`` folder, read with pyarrow alone (``datasets`` not needed).

    A ``Dataset`` folder lists its Arrow shards in ``state.json`` (``save_to_disk`` has already applied any index
    mapping); a ``DatasetDict`` folder names its splits in ``dataset_dict.json``, one such folder each, and its
    test split is read if there is one, as in the papers.
    """
    if (path / "dataset_dict.json").exists():
        splits = json.loads((path / "dataset_dict.json").read_text(encoding="utf-8"))["splits"]
        return _read_saved_dataset(path / ("test" if "test" in splits else sorted(splits)[0]))
    state = json.loads((path / "state.json").read_text(encoding="utf-8"))
    return [record for item in state["_data_files"] for record in _read_file(path / item["filename"])]
