"""What the exporters share: the error class, the source model's checks, and the output folder's handling."""
from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

from tctcb._atomic import swap_dir, tmp_dir
from tctcb._command import UserError

__all__ = ["ExportError", "source_model", "writing"]


class ExportError(UserError, ValueError):
    """A model that cannot be exported as asked, or an output folder that cannot be written."""


def source_model(model) -> Path:
    """The model folder to export (a path, or a name such as all-mpnet-base-v2); an export is not a source."""
    from tctcb.encode import ONNX_CONFIG, is_onnx_export
    from tctcb.models import resolve_backbone

    path = resolve_backbone(model)
    if is_onnx_export(path):
        raise ExportError(f"--model {model}: this is already an ONNX export ({ONNX_CONFIG}); export its source model")
    return path.resolve() if path.exists() else path


@contextmanager
def writing(output, overwrite: bool):
    """A temporary folder beside ``output`` that becomes ``output`` when the block ends without an error (an
    existing non-empty ``output`` only with ``overwrite``); removed otherwise."""
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise ExportError(f"--output {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ExportError(f"--output {out}: exists and is not empty (use --overwrite to replace it)")
    tmp = tmp_dir(out)  # (removes what killed runs left)
    try:
        yield tmp
        swap_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
