"""Run files (TREC, MS MARCO), metrics in process with ir_measures, paired tests, and many runs as one DataFrame."""
from tctcb.eval._compare import Comparison, compare_runs, compare_values, per_query, randomization_test
from tctcb.eval._experiment import ExperimentError, experiment
from tctcb.eval._metrics import DEFAULT_METRICS, check_run_matches, evaluate, parse_metric
from tctcb.eval._qrels import load_qrels
from tctcb.eval._runs import RunFormatError, read_run, sniff_run_format, write_run
from tctcb.eval._table import to_markdown, to_text

__all__ = ["Comparison", "DEFAULT_METRICS", "ExperimentError", "check_run_matches", "RunFormatError", "compare_runs",
           "compare_values", "evaluate", "experiment", "load_qrels", "parse_metric", "per_query", "randomization_test",
           "read_run", "sniff_run_format", "to_markdown", "to_text", "write_run"]
