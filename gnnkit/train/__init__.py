"""Small utilities shared by every task's trainer: metrics, early stopping, checkpoints,
seeding, a progress bar and run directories. No callback framework: a trainer calls these."""

from .checkpoint import load_checkpoint, save_checkpoint
from .early_stopping import (
    EARLY_STOPPING,
    BestValAcc,
    EarlyStopping,
    GATStopping,
    KipfStopping,
    NoStopping,
    StopDecision,
    make_early_stopping,
)
from .metrics import (
    accuracy,
    average_precision,
    f1_score,
    macro_f1,
    micro_f1,
    precision_recall_curve,
    roc_auc,
    roc_curve,
)
from .progress import Progress
from .rundir import atomic_write_bytes, atomic_write_text, make_run_dir, write_csv, write_json
from .seed import seed_everything, torch_threads

__all__ = [
    "EARLY_STOPPING",
    "BestValAcc",
    "EarlyStopping",
    "GATStopping",
    "KipfStopping",
    "NoStopping",
    "Progress",
    "StopDecision",
    "accuracy",
    "atomic_write_bytes",
    "atomic_write_text",
    "average_precision",
    "f1_score",
    "load_checkpoint",
    "macro_f1",
    "make_early_stopping",
    "make_run_dir",
    "micro_f1",
    "precision_recall_curve",
    "roc_auc",
    "roc_curve",
    "save_checkpoint",
    "seed_everything",
    "torch_threads",
    "write_csv",
    "write_json",
]
