"""The one trainer: teacher training and distillation share the loop, checkpoints, logs and dev evaluation;
they differ only in the model being trained and the step loss (:mod:`tctcb.train._steps`)."""
from __future__ import annotations

import json
import random
import re
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from tctcb._atomic import swap_dir, tmp_dir, write_text
from tctcb._command import UserError
from tctcb.models import PassageVectorCache, pick_device
from tctcb.train._config import DistillConfig, TeacherConfig, TrainConfig, field_defaults, settings_diff
from tctcb.train._data import TrainingData
from tctcb.train._distributed import barrier, data_parallel, is_main, rank_and_world
from tctcb.train._steps import student_step_loss, teacher_step_loss
from tctcb.train.losses import DistillKLDivLoss, InBatchCrossEntropyLoss

__all__ = ["Trainer", "TrainingError", "latest_checkpoint"]


class TrainingError(UserError, RuntimeError):
    """Training stopped: NaN loss, a refused resume, or unusable settings."""


def finished_checkpoints(output_dir) -> list[Path]:
    """``checkpoints/step-NNNNNNN`` folders in step order. A checkpoint is written under a temporary name and
    renamed when complete, so only these count; the temporary folders of a killed save do not."""
    d = Path(output_dir, "checkpoints")
    return sorted(p for p in d.glob("step-*") if re.fullmatch(r"step-\d{7}", p.name) and (p / "state.json").is_file())


def latest_checkpoint(output_dir) -> Path | None:
    cks = finished_checkpoints(output_dir)
    return cks[-1] if cks else None


def use_bf16(precision: str, device: torch.device) -> bool:
    """``--precision``: ``bf16`` always, ``fp32`` never, ``auto`` on CUDA only (CPU bf16 is fast only with
    AMX / AVX-512-BF16 and changes the numbers, so it is asked for, not assumed)."""
    if precision not in ("auto", "fp32", "bf16"):
        raise TrainingError(f"--precision must be auto, fp32 or bf16, got {precision!r}")
    return precision == "bf16" or (precision == "auto" and device.type == "cuda")


def planned_batch(cfg: TrainConfig, data: TrainingData, step: int, world: int = 1):
    """The global batch a run with ``cfg`` trains on at ``step`` over ``world`` processes: the one rule the
    trainer and the precomputed teacher scores (``--teacher-scores precomputed``) share."""
    num_negatives = cfg.num_negatives if cfg.negatives != "in-batch" else 0
    return data.batch(step, cfg.batch_size * world, cfg.seed, num_negatives)


class Trainer:
    """``Trainer(cfg, data, model, teacher=None, table=None, dev=None).train()``.

    ``model`` is a :class:`~tctcb.models.ColBERT` (``cfg.command == 'teacher'``) or a
    :class:`~tctcb.models.TctColBert`; ``teacher`` a frozen ColBERT (live soft labels) and ``table``
    precomputed teacher scores ``{(qid, docid): score}`` (loose coupling); ``anchor`` a frozen
    :class:`~tctcb.train._anchor.StAnchor` (``--anchor-weight``).
    """

    def __init__(self, cfg: TrainConfig, data: TrainingData, model, teacher=None, table=None, dev=None, anchor=None):
        self.cfg, self.data, self.model, self.teacher, self.table, self.dev = cfg, data, model, teacher, table, dev
        self.device = pick_device(cfg.device)
        self.anchor = anchor.to(self.device) if anchor is not None else None
        self.rank, self.world = rank_and_world()
        self.out = Path(cfg.output_dir)
        self.model.to(self.device).train()
        self.forward = data_parallel(self.model)  # under torchrun: DDP sums the gradients during backward
        self.teacher_cache = None
        if teacher is not None:  # frozen, never inside DDP
            teacher.to(self.device).eval()
            for p in teacher.parameters():
                p.requires_grad_(False)
            if cfg.teacher_cache_mb > 0:  # a teacher comes only with DistillConfig
                self.teacher_cache = PassageVectorCache(teacher, max_mb=cfg.teacher_cache_mb)
        self.ce = InBatchCrossEntropyLoss()
        self.kl = DistillKLDivLoss(cfg.temperature) if isinstance(cfg, DistillConfig) and cfg.kd != "none" else None
        self.params = [p for p in model.parameters() if p.requires_grad]
        decay = [p for n, p in model.named_parameters() if p.requires_grad and p.dim() > 1]
        no_decay = [p for n, p in model.named_parameters() if p.requires_grad and p.dim() <= 1]
        self.opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                      {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
        warm = max(1, int(cfg.warmup_ratio * cfg.max_steps))
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, lambda s: min((s + 1) / warm, max(0.0, (cfg.max_steps - s) / max(1, cfg.max_steps - warm))))
        self.step = 0
        self.best = (-1.0, -1)  # (dev nDCG@10, step)
        self.bad_evals = 0
        self.last_good: Path | None = None

    # -- one step -------------------------------------------------------------------------------
    def autocast(self):
        """bf16 autocast on the training device when ``--precision`` asks for it (``auto``: on CUDA only)."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=use_bf16(self.cfg.precision, self.device))

    def batch(self, step: int):
        return planned_batch(self.cfg, self.data, step, self.world)

    def loss_for(self, examples, step: int):
        with self.autocast():
            if isinstance(self.cfg, TeacherConfig):
                return teacher_step_loss(self.forward, self.data, examples, self.ce)
            return student_step_loss(self.forward, self.data, examples, self.cfg, step, ce=self.ce, kl=self.kl,
                                     teacher=self.teacher, table=self.table, anchor=self.anchor,
                                     cache=self.teacher_cache)

    # -- checkpoints ----------------------------------------------------------------------------
    def _save_model(self, path: Path) -> None:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Writing model shards" bars would fight the training bar
        try:
            self.model.save_pretrained(path)
        finally:
            hf_logging.enable_progress_bar()

    def save_checkpoint(self) -> Path | None:
        if not is_main():
            barrier()
            return None
        final = self.out / "checkpoints" / f"step-{self.step:07d}"
        tmp = tmp_dir(final)  # (removes the leftovers of a save that was killed)
        try:
            self._save_model(tmp / "model")
            torch.save({"optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict(),
                        "torch_rng": torch.random.get_rng_state(), "python_rng": random.getstate(),
                        "best": self.best, "bad_evals": self.bad_evals}, tmp / "trainer.pt")
            (tmp / "state.json").write_text(json.dumps({"step": self.step, "settings": asdict(self.cfg)}, indent=2))
            swap_dir(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        for old in finished_checkpoints(self.out)[:-2]:  # keep the last two
            shutil.rmtree(old, ignore_errors=True)
        self.last_good = final
        barrier()
        return final

    def resume_from(self, ckpt: Path, load_model) -> None:
        """Restore step, weights, optimizer, scheduler and RNG; refuse a checkpoint from other settings."""
        state_file = ckpt / "state.json"
        if not state_file.is_file():
            raise TrainingError(f"--resume {ckpt}: not a training checkpoint (no state.json)")
        try:
            state = json.loads(state_file.read_text(encoding="utf-8"))
            step = int(state["step"])
        except (ValueError, KeyError, TypeError) as e:
            raise TrainingError(f"--resume {ckpt}: {state_file} is damaged ({type(e).__name__}); resume from an "
                                "earlier checkpoint or start again with --overwrite") from None
        diff = settings_diff(state["settings"], asdict(self.cfg), field_defaults(type(self.cfg)))
        if diff:
            raise TrainingError(f"--resume {ckpt}: the checkpoint was made with different settings; refusing:\n"
                                + "\n".join(diff))
        loaded = load_model(ckpt / "model")
        self.model.load_state_dict(loaded.state_dict())
        try:
            extra = torch.load(ckpt / "trainer.pt", map_location="cpu", weights_only=False)
        except Exception as e:  # torch raises many kinds for a truncated or foreign file
            raise TrainingError(f"--resume {ckpt}: trainer.pt cannot be read ({type(e).__name__}); resume from an "
                                "earlier checkpoint or start again with --overwrite") from None
        self.opt.load_state_dict(extra["optimizer"])
        self.sched.load_state_dict(extra["scheduler"])
        torch.random.set_rng_state(extra["torch_rng"])
        random.setstate(extra["python_rng"])
        self.best, self.bad_evals = tuple(extra["best"]), extra["bad_evals"]
        self.step, self.last_good = step, ckpt

    # -- logging / dev ----------------------------------------------------------------------------
    def log(self, record: dict) -> None:
        if is_main():
            self.out.mkdir(parents=True, exist_ok=True)
            with open(self.out / "log.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")

    def trim_log(self) -> None:
        """On resuming at ``self.step``: drop the log's records of later steps (they are trained again) and a
        line a kill cut short, so the log holds each step once."""
        path = self.out / "log.jsonl"
        if not is_main() or not path.is_file():
            return
        kept = []
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if self.step else []:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict) and rec.get("step", 0) <= self.step and rec.get("event") != "done":
                kept.append(line + "\n")
        write_text(path, "".join(kept))

    def evaluate(self) -> float | None:
        if self.dev is None:
            return None
        with self.autocast():
            if isinstance(self.cfg, TeacherConfig):
                score = self.dev.evaluate_teacher(self.model)
            elif self.cfg.dev_mode == "rerank":
                score = self.dev._metric(self.dev.student_rerank_run(self.model, self.cfg.passage_length))
            else:
                score = self.dev.evaluate_student(self.model, self.cfg.passage_length)
        self.log({"event": "dev", "step": self.step, "topics": self.dev.name, "queries": len(self.dev.qids),
                  "mode": "rerank" if isinstance(self.cfg, TeacherConfig) else self.cfg.dev_mode,
                  "nDCG@10": score})
        if score > self.best[0]:
            self.best, self.bad_evals = (score, self.step), 0
            if is_main():
                self._save_model(self.out / "best")
        else:
            self.bad_evals += 1
        return score

    # -- the loop -------------------------------------------------------------------------------
    def _losses(self) -> list[dict]:
        """What the step learns from, for the log's start record."""
        cfg = self.cfg
        anchor = []
        if self.anchor is not None and getattr(cfg, "anchor_weight", 0) > 0:
            anchor = [{"loss": f"anchor ({cfg.anchor_loss})", "weight": cfg.anchor_weight,
                       **({"norm": cfg.anchor_norm} if cfg.anchor_loss == "mse" else {})}]
            if cfg.anchor_only:
                return anchor
        return [self.ce.get_config_dict()] + ([self.kl.get_config_dict()] if self.kl else []) + anchor

    def train(self) -> dict:
        from tqdm.auto import tqdm

        cfg = self.cfg
        if self.step == 0:
            torch.manual_seed(cfg.seed)  # dropout; a resumed run restored its RNG state instead
        self.log({"event": "start", "step": self.step, "world_size": self.world, "device": str(self.device),
                  "settings": asdict(cfg), "data": self.data.skipped,
                  "losses": self._losses()})
        bar = tqdm(total=cfg.max_steps, initial=self.step, desc=cfg.command, disable=cfg.quiet or not sys.stderr.isatty()
                   or not is_main())
        stopped = None
        while self.step < cfg.max_steps:
            examples = self.batch(self.step)
            t0 = time.perf_counter()
            out = self.loss_for(examples, self.step)
            loss = out.loss
            if not torch.isfinite(loss.detach()):
                self.log({"event": "nan", "step": self.step, "qids": [e.qid for e in examples]})
                raise TrainingError(
                    f"loss is {float(loss.detach())} at step {self.step + 1} (batch {self.step}, queries "
                    f"{[e.qid for e in examples][:8]}{' ...' if len(examples) > 8 else ''}); stopped; last good "
                    f"checkpoint: {self.last_good or 'none written yet'}")
            self.opt.zero_grad(set_to_none=True)
            loss.backward()  # under torchrun DDP has summed the gradients across processes by its end
            if cfg.max_grad_norm:
                torch.nn.utils.clip_grad_norm_(self.params, cfg.max_grad_norm)
            lr = self.sched.get_last_lr()[0]
            self.opt.step()
            self.sched.step()
            self.step += 1
            rec = {"step": self.step, "loss": float(loss.detach()), "lr": lr, **out.stats,
                   "seconds": round(time.perf_counter() - t0, 3)}
            self.log(rec)
            bar.update(1)
            bar.set_postfix(loss=f"{rec['loss']:.4f}")
            if cfg.eval_every and self.step % cfg.eval_every == 0 and self.step < cfg.max_steps:
                self.evaluate()
                if cfg.patience and self.bad_evals >= cfg.patience:
                    stopped = f"early stop at step {self.step}: no dev improvement in {cfg.patience} evaluations"
                    self.log({"event": "early_stop", "step": self.step, "best": self.best})
            if (cfg.save_every and self.step % cfg.save_every == 0) or self.step == cfg.max_steps or stopped:
                self.save_checkpoint()
            if stopped:
                break
        bar.close()
        if stopped is None and self.dev is not None:
            self.evaluate()
        return self.finish(stopped)

    def finish(self, stopped) -> dict:
        final = self.out / "model"
        source = "last step"
        if is_main():
            if self.best[1] >= 0 and (self.out / "best").is_dir():
                tmp = tmp_dir(final)
                shutil.copytree(self.out / "best", tmp, dirs_exist_ok=True)
                swap_dir(tmp, final)
                source = f"best dev step {self.best[1]}"
            else:
                self._save_model(final)
        summary = {"event": "done", "step": self.step, "model": str(final), "model_from": source,
                   "best_dev_nDCG@10": self.best[0] if self.best[1] >= 0 else None, "stopped": stopped}
        if self.teacher_cache is not None:
            summary["teacher_cache"] = self.teacher_cache.stats()
        self.log(summary)
        barrier()
        return summary

