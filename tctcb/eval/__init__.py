"""Run files (TREC, MS MARCO) and metrics in process with ir_measures."""
from tctcb.eval._compare import Comparison, compare_runs, per_query, randomization_test
from tctcb.eval._metrics import DEFAULT_METRICS, check_run_matches, evaluate, parse_metric
from tctcb.eval._qrels import load_qrels
from tctcb.eval._runs import RunFormatError, read_run, sniff_run_format, write_run

__all__ = ["Comparison", "DEFAULT_METRICS", "check_run_matches", "RunFormatError", "compare_runs", "evaluate", "load_qrels", "parse_metric", "per_query", "randomization_test", "read_run", "sniff_run_format", "write_run"]
