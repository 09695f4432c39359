"""Early-stopping protocols, as small classes fed one validation result per epoch.

Each protocol sees only validation numbers. ``step(val_loss, val_acc)`` returns a
:class:`StopDecision`: ``save`` says this epoch's model is the one to keep (the trainer copies its
state), ``stop`` says to stop after this epoch. ``restore_best`` tells the trainer whether to load
the kept state before testing (False: test the final model).

Protocols:

* :class:`KipfStopping` -- tkipf/gcn ``train.py`` (Kipf & Welling, ICLR 2017): after epoch
  ``window`` (0-based), stop as soon as the current validation loss is greater than the mean of
  the previous ``window`` validation losses. No restore: the final model is tested. (The paper's
  Sec. 5.1 words it as "the validation loss does not decrease for 10 consecutive epochs"; the code,
  implemented here, compares with the mean of the last 10.) tkipf/gcn's monitored loss is
  ``model.loss``, i.e. cross-entropy plus the weight-decay term; the trainer passes that.
* :class:`GATStopping` -- PetarV-/GAT ``execute_cora.py`` (Velickovic et al., ICLR 2018): an
  epoch whose validation accuracy is >= the best so far *or* whose loss is <= the lowest so far
  resets the patience counter; it is saved only when both hold. Both bests are updated
  (max / min). Otherwise the counter grows and training stops when it reaches ``patience``.
  The saved model is restored before testing.
* :class:`BestValAcc` -- keep the model with the highest validation accuracy (ties: lower
  validation loss); stop after ``patience`` epochs without such an improvement; restore it.
* :class:`NoStopping` -- train every epoch; test the final model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "EARLY_STOPPING",
    "BestValAcc",
    "EarlyStopping",
    "GATStopping",
    "KipfStopping",
    "NoStopping",
    "StopDecision",
    "make_early_stopping",
]


@dataclass(frozen=True)
class StopDecision:
    save: bool  # keep this epoch's model state (the new best)
    stop: bool  # stop training after this epoch


class EarlyStopping:
    """Base class: one ``step`` per epoch with that epoch's validation loss and accuracy."""

    restore_best: bool = False

    def step(self, val_loss: float, val_acc: float) -> StopDecision:  # pragma: no cover
        raise NotImplementedError


class KipfStopping(EarlyStopping):
    """Stop when the loss exceeds the mean of the previous ``window`` losses (tkipf/gcn)."""

    restore_best = False

    def __init__(self, window: int = 10) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.window = window
        self.losses: list[float] = []

    def step(self, val_loss: float, val_acc: float) -> StopDecision:
        self.losses.append(float(val_loss))
        epoch = len(self.losses) - 1  # 0-based, as `for epoch in range(FLAGS.epochs)`
        prev = self.losses[-(self.window + 1):-1]
        stop = epoch > self.window and self.losses[-1] > sum(prev) / len(prev)
        return StopDecision(save=False, stop=stop)


class GATStopping(EarlyStopping):
    """Patience on "accuracy up or loss down"; save when both (PetarV-/GAT)."""

    restore_best = True

    def __init__(self, patience: int = 100) -> None:
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        self.patience = patience
        self.best_acc = 0.0         # vacc_mx
        self.best_loss = math.inf   # vlss_mn
        self.counter = 0            # curr_step

    def step(self, val_loss: float, val_acc: float) -> StopDecision:
        acc_ok, loss_ok = val_acc >= self.best_acc, val_loss <= self.best_loss
        if acc_ok or loss_ok:
            save = acc_ok and loss_ok
            self.best_acc = max(val_acc, self.best_acc)
            self.best_loss = min(val_loss, self.best_loss)
            self.counter = 0
            return StopDecision(save=save, stop=False)
        self.counter += 1
        return StopDecision(save=False, stop=self.counter == self.patience)


class BestValAcc(EarlyStopping):
    """Keep the best validation accuracy (ties: lower loss); patience on improvements."""

    restore_best = True

    def __init__(self, patience: int = 100) -> None:
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        self.patience = patience
        self.best_acc = -math.inf
        self.best_loss = math.inf
        self.counter = 0

    def step(self, val_loss: float, val_acc: float) -> StopDecision:
        better = val_acc > self.best_acc or (val_acc == self.best_acc and val_loss < self.best_loss)
        if better:
            self.best_acc, self.best_loss, self.counter = val_acc, val_loss, 0
            return StopDecision(save=True, stop=False)
        self.counter += 1
        return StopDecision(save=False, stop=self.counter >= self.patience)


class NoStopping(EarlyStopping):
    """Never stop early; the final model is tested."""

    restore_best = False

    def __init__(self, patience: int = 0) -> None:
        del patience  # accepted for a uniform constructor; unused

    def step(self, val_loss: float, val_acc: float) -> StopDecision:
        return StopDecision(save=False, stop=False)


EARLY_STOPPING: dict[str, type[EarlyStopping]] = {
    "kipf": KipfStopping,
    "gat": GATStopping,
    "best_val_acc": BestValAcc,
    "none": NoStopping,
}


def make_early_stopping(name: str, patience: int) -> EarlyStopping:
    """The protocol ``name`` with its patience (the window for ``"kipf"``)."""
    try:
        cls = EARLY_STOPPING[name]
    except KeyError:
        raise ValueError(f"unknown early stopping {name!r}; known: "
                         f"{', '.join(EARLY_STOPPING)}") from None
    return cls(patience)
