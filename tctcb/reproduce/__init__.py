"""Regressions: ``resources/regressions/*.yaml`` (commands + expected scores), a runner and generated docs."""
from tctcb.reproduce._docs import render_doc, stale_docs, write_docs
from tctcb.reproduce._runner import (Result, condition_paths, condition_qrels, expand_commands, format_result,
                                     plan_conditions, print_commands, run_condition)
from tctcb.reproduce._schema import (Condition, Expected, Regression, RegressionError, archive_dir, list_regressions,
                                     load_regression, regressions_dir)

__all__ = ["Condition", "Expected", "Regression", "RegressionError", "Result", "archive_dir", "condition_paths",
           "condition_qrels", "expand_commands", "format_result", "list_regressions", "plan_conditions",
           "print_commands", "load_regression", "regressions_dir", "render_doc", "run_condition", "stale_docs",
           "write_docs"]
