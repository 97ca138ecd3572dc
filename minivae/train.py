"""The training loop: mini-batches, progress, per-epoch metrics, and a guard against NaN.

:class:`Trainer` owns everything that changes while a model trains (the optimizer's state, the
random generator, the epoch counter and the metrics history), so that all of it can go into a
checkpoint and come back: a run resumed from epoch k continues exactly as if it had never
stopped. :func:`fit` is the one-call version.
"""
from __future__ import annotations

import math
import sys
import time

import numpy as np

from . import datasets
from .errors import DivergenceError, ValidationError
from .evaluate import elbo
from .optim import make_optimizer
from .progress import ProgressBar
from .validation import check_choice, check_finite_float, check_positive_float, check_positive_int

__all__ = ["Trainer", "fit"]

BINARIZE = (None, "dynamic", "threshold")


class Trainer:
    """Trains a model on an (N, D) array of examples.

    Parameters
    ----------
    model : VAE or AE
    x_train : (N, D) float array in [0, 1]
    x_test : (M, D) float array, optional; evaluated (single-sample negative ELBO) after each epoch.
    optimizer : {"adam", "sgd"}
    lr : float
        The learning rate of the first epoch.
    lr_decay : float in (0, 1], default 1
        Exponential decay per epoch: epoch e (counted from 0) trains with ``lr * lr_decay**e``.
        1 keeps the rate fixed. Long runs reach a lower loss when a rate high enough to learn
        fast early is brought down later, where the gradient noise of a large step would keep
        the parameters bouncing around a minimum. The rate depends only on the epoch counter,
        so a resumed run continues the same schedule.
    batch_size : int
    seed : int
        Seeds the generator that shuffles, binarizes and draws the noise eps.
    binarize : {None, "dynamic", "threshold"}
        ``"dynamic"`` draws fresh binary pixels x ~ Bernoulli(grey level) every time a batch is
        drawn; the test set is then binarized once, with a fixed seed, so test numbers are
        comparable across epochs. ``"threshold"`` binarizes both at 0.5.
    progress : bool
        Show a progress bar with the running loss, reconstruction and KL.
    verbose : bool
        Print one summary line per epoch (train and test negative ELBO, their parts, seconds).
    stream : file for progress and epoch lines (default: standard error for the bar, standard
        output for the epoch summaries).
    """

    def __init__(self, model, x_train, x_test=None, optimizer="adam", lr=1e-3, batch_size=128,
                 seed=0, binarize=None, progress=True, stream=None, eval_seed=12345, verbose=True,
                 lr_decay=1.0):
        check_choice(binarize, "binarize", BINARIZE)
        self.model = model
        self.x_train = model.check_x(x_train, name="x_train")
        self.batch_size = check_positive_int(batch_size, "batch_size", maximum=len(self.x_train),
                                             max_name="the number of training examples")
        self.x_test = None
        if x_test is not None:
            x_test = model.check_x(x_test, name="x_test")
            if binarize == "dynamic":
                x_test = datasets.binarize_fixed(x_test, seed=eval_seed)
            elif binarize == "threshold":
                x_test = datasets.threshold(x_test)
            self.x_test = x_test
        self.lr = check_positive_float(lr, "lr")
        self.lr_decay = check_finite_float(lr_decay, "lr_decay")
        if not 0 < self.lr_decay <= 1:
            raise ValidationError(f"lr_decay: expected a factor in (0, 1] (1 keeps the learning rate "
                                  f"fixed), got {self.lr_decay:g}")
        self.optimizer = make_optimizer(optimizer, model.params, lr=self.lr)
        self.optimizer_name = optimizer
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.binarize = binarize
        self.progress = progress
        self.verbose = verbose
        self.stream = stream
        self.eval_seed = eval_seed
        self.epoch = 0
        self.step = 0
        self.history = []

    # ------------------------------------------------------------------------------------------
    def current_lr(self) -> float:
        """The learning rate of the next epoch, ``lr * lr_decay ** epoch``."""
        return self.lr * self.lr_decay ** self.epoch

    def train_epoch(self):
        """One pass over the shuffled training set; returns the mean train statistics."""
        model, opt = self.model, self.optimizer
        n_batches = math.ceil(len(self.x_train) / self.batch_size)
        sums = {"loss": 0.0, "recon": 0.0, "kl": 0.0}
        seen = 0
        bar_stream = self.stream if self.stream is not None else sys.stderr
        with ProgressBar(n_batches, desc=f"epoch {self.epoch + 1}", stream=bar_stream,
                         enabled=self.progress) as bar:
            for xb in datasets.batches(self.x_train, self.batch_size, rng=self.rng, shuffle=True,
                                       binarize=self.binarize):
                stats = model.train_step(xb, opt, self.rng)
                self.step += 1
                self._check_finite(stats)
                b = len(xb)
                seen += b
                for k in sums:
                    sums[k] += stats[k] * b
                bar.update(1, loss=sums["loss"] / seen, recon=sums["recon"] / seen, kl=sums["kl"] / seen)
        return {k: v / seen for k, v in sums.items()}

    def _check_finite(self, stats):
        # The loss is a sum over everything the forward pass computed, so a NaN anywhere in it
        # shows up here; the gradient vector is checked too, with one cheap reduction.
        g = self.model.params.grad
        if math.isfinite(stats["loss"]) and math.isfinite(float(np.add.reduce(g))):
            return
        what = "loss" if not math.isfinite(stats["loss"]) else "gradient"
        raise DivergenceError(
            f"training diverged at step {self.step} (epoch {self.epoch + 1}): the {what} became "
            f"{stats['loss'] if what == 'loss' else 'NaN or infinite'}. The usual cause is a learning "
            f"rate too high for this model (lr={self.lr:g}); try a smaller --lr, or clamp the encoder's "
            f"log-variance (--logvar-clamp). The parameters of this epoch were not saved.")

    def evaluate(self):
        if self.x_test is None:
            return None
        return elbo(self.model, self.x_test, seed=self.eval_seed, validate=False)

    def run(self, epochs, on_epoch_end=None):
        """Train until ``self.epoch == epochs`` (so a resumed trainer finishes the same run).

        ``on_epoch_end(trainer, row)`` is called after each epoch with that epoch's metrics row.
        Returns the history, one dict per epoch.
        """
        epochs = check_positive_int(epochs, "epochs")
        out = self.stream if self.stream is not None else sys.stdout
        while self.epoch < epochs:
            t0 = time.perf_counter()
            lr = self.optimizer.lr = self.current_lr()
            train = self.train_epoch()
            seconds = time.perf_counter() - t0
            test = self.evaluate()
            self.epoch += 1
            row = {"epoch": self.epoch, "train_nelbo": train["recon"] + train["kl"],
                   "train_recon": train["recon"], "train_kl": train["kl"], "train_loss": train["loss"]}
            if test is not None:
                row.update({"test_nelbo": test["nelbo"], "test_recon": test["recon"], "test_kl": test["kl"]})
            row["lr"] = lr
            row["seconds"] = seconds
            self.history.append(row)
            if self.verbose:
                msg = (f"epoch {self.epoch}/{epochs}: train -ELBO {row['train_nelbo']:.2f} "
                       f"(recon {row['train_recon']:.2f}, KL {row['train_kl']:.2f})")
                if test is not None:
                    msg += (f" | test -ELBO {row['test_nelbo']:.2f} (recon {row['test_recon']:.2f}, "
                            f"KL {row['test_kl']:.2f})")
                msg += f" | {seconds:.1f} s"
                print(msg, file=out, flush=True)
            if on_epoch_end is not None:
                on_epoch_end(self, row)
        return self.history

    # ------------------------------------------------------------------------------------------
    # What a checkpoint needs to resume bit for bit
    # ------------------------------------------------------------------------------------------
    def state(self) -> dict:
        return {"epoch": self.epoch, "step": self.step, "history": self.history,
                "rng": self.rng.bit_generator.state, "seed": self.seed, "lr": self.lr,
                "lr_decay": self.lr_decay,
                "batch_size": self.batch_size, "optimizer": self.optimizer_name,
                "binarize": self.binarize, "eval_seed": self.eval_seed}

    def restore(self, state: dict, optimizer_state: dict = None) -> None:
        self.epoch = int(state["epoch"])
        self.step = int(state.get("step", 0))
        self.history = list(state.get("history", []))
        self.rng.bit_generator.state = state["rng"]
        if optimizer_state is not None:
            self.optimizer.load_state_dict(optimizer_state)


def fit(model, x_train, x_test=None, *, epochs=10, batch_size=128, lr=1e-3, optimizer="adam",
        seed=0, binarize=None, progress=True, verbose=None, on_epoch_end=None, lr_decay=1.0):
    """Train ``model`` for ``epochs`` passes over ``x_train``; return the metrics history.

    See :class:`Trainer` for the arguments; ``verbose`` defaults to ``progress``.
    """
    trainer = Trainer(model, x_train, x_test, optimizer=optimizer, lr=lr, batch_size=batch_size,
                      seed=seed, binarize=binarize, progress=progress,
                      verbose=progress if verbose is None else verbose, lr_decay=lr_decay)
    return trainer.run(epochs, on_epoch_end=on_epoch_end)
