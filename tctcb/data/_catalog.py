"""The registry's data: every file (path under the data directory, size, md5, public download URL),
every collection and topic set with the counts stated in the data folders' SOURCE.md files.

``url`` is a byte-identical public copy (pinned commit where there is one); ``see_also`` points at the
usual distribution when its bytes differ from ours (e.g. BEIR's own zips). Counts: ``docs``; for topic
sets ``queries`` (topics), ``judged`` (queries with at least one judgement) and ``qrels`` (judged
query-document pairs = qrels lines).
"""
from __future__ import annotations

_GH = "https://raw.githubusercontent.com"
_ANSERINI_TOOLS = f"{_GH}/castorini/anserini-tools/master/topics-and-qrels"
_RANK_LLM = f"{_GH}/castorini/rank_llm/97f5fc162a4c6d664d14b1b930d56a6c759faf3a/retrieve_results"
RANKLLM_SYSTEMS = ("BM25", "BM25_RM3", "D_BERT_KD_TASB", "OPEN_AI_ADA2", "SPLADE_P_P_ENSEMBLE_DISTIL")

FILES: dict[str, dict] = {
    "adi/adi.tar.gz": {
        "bytes": 17307, "md5": "b8fc0133e42492f4ae8d4f512aa00b77",
        "url": f"{_GH}/lailaglez/belief-network-irs/9094e4cde738bd93ed1747dc958b5acb0e0fa684/adi/adi.tar.gz",
        "see_also": "http://ir.dcs.gla.ac.uk/resources/test_collections/adi/",
    },
    "cacm/cacm.tar.gz": {
        "bytes": 808000, "md5": "59d77bea5ea622c6aa2fc979c8036acb",
        "url": f"{_GH}/castorini/anserini/81e3414573a39ad7433d271c5cadc360bc821945/src/main/resources/cacm/cacm.tar.gz",
    },
    "cacm/topics.cacm.txt": {
        "bytes": 12445, "md5": "ae531228463a8d4950b08205f16a9eff", "url": f"{_ANSERINI_TOOLS}/topics.cacm.txt",
    },
    "cacm/qrels.cacm.txt": {
        "bytes": 14194, "md5": "af133287de3f09af60eb9081d0fd4c9b", "url": f"{_ANSERINI_TOOLS}/qrels.cacm.txt",
    },
    "cranfield/cran.tar.gz": {
        "bytes": 506960, "md5": "1730f7be572d95a5a4b56c59a7b900a5",
        "url": "http://ir.dcs.gla.ac.uk/resources/test_collections/cran/cran.tar.gz",
    },
    "nfcorpus/nfcorpus.zip": {
        "bytes": 3981749, "md5": "695327760647984c5014d64b2fee8de0",
        "url": f"{_GH}/KID-22/Cocktail/d070bccd55e643c8c9d018ef65e5825099e97550/dataset/nfcorpus.zip",
        "see_also": "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/nfcorpus.zip",
    },
    "scifact/scifact.zip": {
        "bytes": 2872024, "md5": "0e54c98665c68f5ff6e38fdfe0359c1d",
        "url": f"{_GH}/sumithra-p-v/claimverifier/b42f1c3444b28884ddcfadffafbfe223646c6c37/data/scifact.zip",
        "see_also": "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/scifact.zip",
    },
    "msmarco-passage/topics.msmarco-passage.dev-subset.txt": {
        "bytes": 290193, "md5": "4621c583f1089d223db228a4f95a05d1",
        "url": f"{_ANSERINI_TOOLS}/topics.msmarco-passage.dev-subset.txt",
    },
    "msmarco-passage/qrels.msmarco-passage.dev-subset.txt": {
        "bytes": 143300, "md5": "521ff630abe77a3e120417565ff025f1",
        "url": f"{_ANSERINI_TOOLS}/qrels.msmarco-passage.dev-subset.txt",
    },
    "msmarco-passage/topics.dl19-passage.txt": {
        "bytes": 1764, "md5": "c83e3dda130c7a191357b0287d854ddb", "url": f"{_ANSERINI_TOOLS}/topics.dl19-passage.txt",
    },
    "msmarco-passage/qrels.dl19-passage.txt": {
        "bytes": 187092, "md5": "2f4be390198da108f6845c822e5ada14", "url": f"{_ANSERINI_TOOLS}/qrels.dl19-passage.txt",
    },
}
_RANKLLM_FILES = {
    "BM25": (2306085, "b27167276e4674b77654ceec03abec9e"),
    "BM25_RM3": (2360422, "42f736a4e4e7ae27687f8febea047153"),
    "D_BERT_KD_TASB": (2169799, "b86cd81f846f3c6b10ce5aa3945273d5"),
    "OPEN_AI_ADA2": (2154866, "0ceff9c0662b18a4af2bf2b74520eb7e"),
    "SPLADE_P_P_ENSEMBLE_DISTIL": (2149817, "6f8348276e559c1d50167fa23d1972a4"),
}
for _system, (_bytes, _md5) in _RANKLLM_FILES.items():
    FILES[f"msmarco-passage/rank_llm_retrieve_results/{_system}/retrieve_results_dl19.json"] = {
        "bytes": _bytes, "md5": _md5, "url": f"{_RANK_LLM}/{_system}/retrieve_results_dl19.json",
    }
RANKLLM_PATHS = tuple(f"msmarco-passage/rank_llm_retrieve_results/{s}/retrieve_results_dl19.json" for s in RANKLLM_SYSTEMS)

COLLECTIONS: dict[str, dict] = {
    "adi": {"files": ["adi/adi.tar.gz"], "docs": 82, "topic_sets": ["adi"]},
    "cacm": {"files": ["cacm/cacm.tar.gz"], "docs": 3204, "topic_sets": ["cacm"]},
    "cranfield": {"files": ["cranfield/cran.tar.gz"], "docs": 1400, "topic_sets": ["cranfield"]},
    "nfcorpus": {"files": ["nfcorpus/nfcorpus.zip"], "docs": 3633,
                 "topic_sets": ["nfcorpus-train", "nfcorpus-dev", "nfcorpus-test"]},
    "scifact": {"files": ["scifact/scifact.zip"], "docs": 5183,
                "topic_sets": ["scifact-train", "scifact-test", "scifact-dev", "scifact-train-nodev"]},
    "dl19-pool": {"files": list(RANKLLM_PATHS), "docs": 10852, "topic_sets": ["dl19-pool"]},
}

TOPIC_SETS: dict[str, dict] = {
    "adi": {"collection": "adi", "files": ["adi/adi.tar.gz"], "queries": 35, "judged": 35, "qrels": 170},
    "cacm": {"collection": "cacm", "files": ["cacm/topics.cacm.txt", "cacm/qrels.cacm.txt"],
             "queries": 64, "judged": 52, "qrels": 796},
    "cranfield": {"collection": "cranfield", "files": ["cranfield/cran.tar.gz"],
                  "queries": 225, "judged": 225, "qrels": 1837},
    "nfcorpus-train": {"collection": "nfcorpus", "files": ["nfcorpus/nfcorpus.zip"],
                       "queries": 2590, "judged": 2590, "qrels": 110575},
    "nfcorpus-dev": {"collection": "nfcorpus", "files": ["nfcorpus/nfcorpus.zip"],
                     "queries": 324, "judged": 324, "qrels": 11385},
    "nfcorpus-test": {"collection": "nfcorpus", "files": ["nfcorpus/nfcorpus.zip"],
                      "queries": 323, "judged": 323, "qrels": 12334},
    "scifact-train": {"collection": "scifact", "files": ["scifact/scifact.zip"],
                      "queries": 809, "judged": 809, "qrels": 919},
    "scifact-test": {"collection": "scifact", "files": ["scifact/scifact.zip"],
                     "queries": 300, "judged": 300, "qrels": 339},
    # SciFact has no dev split: SCIFACT_DEV_QIDS of scifact-train, and the rest of it
    "scifact-dev": {"collection": "scifact", "files": ["scifact/scifact.zip"],
                    "queries": 100, "judged": 100, "qrels": 108},
    "scifact-train-nodev": {"collection": "scifact", "files": ["scifact/scifact.zip"],
                            "queries": 709, "judged": 709, "qrels": 811},
    # DL19 qrels restricted to the pool: 3,834 of the 9,260 judgements (one per judged pid in the pool).
    "dl19-pool": {"collection": "dl19-pool",
                  "files": ["msmarco-passage/topics.dl19-passage.txt", "msmarco-passage/qrels.dl19-passage.txt",
                            *RANKLLM_PATHS],
                  "queries": 43, "judged": 43, "qrels": 3834},
    "dl19-passage": {"collection": None,
                     "files": ["msmarco-passage/topics.dl19-passage.txt", "msmarco-passage/qrels.dl19-passage.txt"],
                     "queries": 43, "judged": 43, "qrels": 9260},
    "msmarco-dev": {"collection": None,
                    "files": ["msmarco-passage/topics.msmarco-passage.dev-subset.txt",
                              "msmarco-passage/qrels.msmarco-passage.dev-subset.txt"],
                    "queries": 6980, "judged": 6980, "qrels": 7437},
}

#: scifact-dev: SciFact has no dev split, so 100 of scifact-train's 809 claims are set aside -- the first 100 when
#: the claim ids are ordered by sha256(SCIFACT_DEV_SEED + ":" + id) (a seeded hash: fixed, independent of file
#: order; tests/test_data.py recomputes it).  scifact-train-nodev is the other 709; scifact-train stays whole.
SCIFACT_DEV_SEED = "tctcb scifact-dev 1"
SCIFACT_DEV_QIDS: tuple[str, ...] = (
    "0", "21", "41", "77", "82", "105", "119", "138", "153", "161", "178", "200", "204", "205", "226", "258", "272",
    "277", "296", "308", "313", "325", "335", "339", "351", "352", "356", "361", "366", "369", "375", "396", "401",
    "407", "414", "416", "426", "455", "456", "470", "480", "482", "504", "571", "580", "594", "595", "612", "670",
    "682", "683", "686", "703", "704", "739", "740", "752", "771", "779", "791", "807", "813", "828", "838", "863",
    "877", "893", "908", "926", "934", "939", "940", "944", "992", "999", "1015", "1016", "1036", "1042", "1091",
    "1101", "1162", "1169", "1173", "1178", "1190", "1209", "1220", "1234", "1235", "1238", "1244", "1255", "1275",
    "1347", "1351", "1355", "1360", "1361", "1380",
)

#: other names for topic sets (Pyserini's names)
ALIASES: dict[str, str] = {"msmarco-passage-dev-subset": "msmarco-dev"}
