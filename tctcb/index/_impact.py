"""Lucene impact indexes: a registered collection's SPLADE document weights indexed as Anserini's
``JsonVectorCollection`` with ``-impact -pretokenized``, with an ``impact.json`` naming the encoder (which is
how ``python -m tctcb.search --sparse-index DIR`` knows to search it with SPLADE queries)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from tctcb._atomic import tmp_dir
from tctcb.index._lucene import index_lucene, lucene_index_dir

__all__ = ["build_impact_index"]


def build_impact_index(collection_name: str, model_dir, index_dir=None, *, batch_size: int = 8,
                       max_length: int = 512, device: str = "cpu", threads: int = 2, progress: bool = False,
                       force: bool = False) -> Path:
    """Lucene impact index of a registered collection with SPLADE document weights (in the cache by default)."""
    from tqdm.auto import tqdm

    from tctcb.data import get_collection
    from tctcb.encode import QUANTISATION, SpladeEncoder

    collection = get_collection(collection_name)
    index_dir = Path(index_dir) if index_dir is not None else lucene_index_dir(collection.name, "impact-splade")
    if (index_dir / "impact.json").is_file() and not force:
        return index_dir
    enc = SpladeEncoder(model_dir, device=device, max_length=max_length)
    docs = list(collection.docs())
    order = np.argsort([len(d.contents) for d in docs], kind="stable")  # similar lengths per batch
    work = tmp_dir(index_dir.with_name(index_dir.name + ".jsonl"))
    try:
        with open(work / "docs.jsonl", "w", encoding="utf-8") as f, \
                tqdm(total=len(docs), unit="doc", desc="splade", disable=not progress) as bar:
            for s in range(0, len(docs), batch_size):
                batch = [docs[i] for i in order[s:s + batch_size]]
                for d, vec in zip(batch, enc.encode_batch([d.contents for d in batch])):
                    f.write(json.dumps({"id": d.docid, "contents": d.contents, "vector": vec}) + "\n")
                bar.update(len(batch))
        meta = {"encoder": str(Path(model_dir).resolve()), "model": "SPLADE-tiny-msmarco",
                "collection": collection.name, "quantisation": QUANTISATION,
                "max_length": max_length}

        def add_meta(tmp_dir, count):  # inside the checked index before it is renamed into place
            (Path(tmp_dir) / "impact.json").write_text(json.dumps({**meta, "count": count}, indent=1) + "\n")

        index_lucene(work, index_dir, "JsonVectorCollection", threads=threads, expected_count=len(docs),
                     extra={"impact": True, "pretokenized": True}, before_rename=add_meta)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return index_dir
