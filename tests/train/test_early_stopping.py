"""Early-stopping protocols on hand-made validation sequences with hand-computed outcomes."""

import math

import pytest

from gnnkit.train import BestValAcc, GATStopping, KipfStopping, NoStopping, make_early_stopping


def drive(stopper, seq):
    """Feed (loss, acc) pairs; return (1-based epochs saved, 1-based stop epoch or None)."""
    saved = []
    for epoch, (loss, acc) in enumerate(seq, start=1):
        d = stopper.step(loss, acc)
        if d.save:
            saved.append(epoch)
        if d.stop:
            return saved, epoch
    return saved, None


def test_kipf_stops_when_loss_exceeds_mean_of_previous_window():
    losses = [1.0, 0.9, 0.8, 0.7, 0.75, 0.72, 0.8, 0.1]
    # 0-based epoch 4: mean(0.9, 0.8, 0.7) = 0.8 >= 0.75; epoch 5: mean(0.8, 0.7, 0.75) = 0.75
    # >= 0.72; epoch 6: mean(0.7, 0.75, 0.72) = 0.7233 < 0.8 -> stop after the 7th epoch
    saved, stop = drive(KipfStopping(window=3), [(v, 0.0) for v in losses])
    assert (saved, stop) == ([], 7)
    assert KipfStopping.restore_best is False


def test_kipf_checks_only_after_epoch_window():
    # tkipf/gcn: `epoch > FLAGS.early_stopping` with 0-based epochs. A rising loss at 0-based
    # epoch 3 (= window) must not stop; at epoch 4 it does (5 > mean(2, 3, 4)).
    saved, stop = drive(KipfStopping(window=3), [(v, 0.0) for v in [1, 2, 3, 4, 5]])
    assert stop == 5
    # equal to the mean is not "greater than": no stop
    _, stop = drive(KipfStopping(window=2), [(v, 0.0) for v in [3, 3, 3, 3, 3, 3]])
    assert stop is None


def test_gat_protocol():
    seq = [
        (1.0, 0.5),    # 1: both improve (vs inf / 0) -> save, counter 0
        (0.9, 0.4),    # 2: loss down only -> reset counter, no save; best_loss 0.9
        (0.95, 0.5),   # 3: acc >= best (tie) only -> reset, no save
        (0.9, 0.5),    # 4: acc >= 0.5 and loss <= 0.9 (ties) -> save
        (1.0, 0.45),   # 5: neither -> counter 1
        (1.1, 0.3),    # 6: neither -> counter 2 == patience -> stop
        (0.1, 0.99),
    ]
    stopper = GATStopping(patience=2)
    saved, stop = drive(stopper, seq)
    assert (saved, stop) == ([1, 4], 6)
    assert stopper.best_acc == 0.5 and stopper.best_loss == 0.9
    assert GATStopping.restore_best is True


def test_gat_bests_move_independently():
    # acc up with loss up, then loss down with acc down: each resets patience, none saves
    seq = [(1.0, 0.5), (1.2, 0.6), (0.8, 0.55), (0.85, 0.58), (0.9, 0.59)]
    saved, stop = drive(GATStopping(patience=2), seq)
    assert saved == [1]
    assert stop == 5  # epochs 4 and 5 improve neither best (0.6 / 0.8)


def test_best_val_acc_protocol():
    seq = [
        (1.0, 0.5),    # 1: save
        (0.8, 0.5),    # 2: same acc, lower loss -> save
        (0.7, 0.4),    # 3: counter 1
        (0.9, 0.6),    # 4: better acc -> save, counter 0
        (0.5, 0.6),    # 5: tie, lower loss -> save
        (0.4, 0.55),   # 6: counter 1
        (0.3, 0.59),   # 7: counter 2 -> stop
    ]
    saved, stop = drive(BestValAcc(patience=2), seq)
    assert (saved, stop) == ([1, 2, 4, 5], 7)


def test_no_stopping_and_factory():
    saved, stop = drive(NoStopping(), [(math.inf, 0.0)] * 50)
    assert (saved, stop) == ([], None)
    assert isinstance(make_early_stopping("kipf", 10), KipfStopping)
    assert make_early_stopping("gat", 7).patience == 7
    with pytest.raises(ValueError, match="best_val_acc"):
        make_early_stopping("sometimes", 3)
    with pytest.raises(ValueError):
        GATStopping(patience=0)
