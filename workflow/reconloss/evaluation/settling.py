"""Has a training quantity settled? Its trend over the last epochs of a run's log.csv.

A verdict about where a quantity ends (a learned σ against √MSE, a loss or FID
level) means nothing while the quantity is still moving: after one epoch a
learned σ sits where Adam's step limit left it, not where the objective wants it.
The trends here are per-epoch changes over the last WINDOW epochs; the claims
decide what counts as settled (reconloss.claims.evidence).
"""

import csv
import math
from pathlib import Path

#: Epochs the trend is measured over: the change from epoch E - WINDOW + 1 to epoch E, per epoch.
WINDOW = 3


def _column(rows, key):
    values = []
    for row in rows:
        try:
            values.append(float(row.get(key, "")))
        except ValueError:
            values.append(math.nan)
    return values


def trends(rows) -> dict:
    """{loss_trend, sigma_trend} of a run's log rows (dicts, one per epoch); None where unknown.

    loss_trend: the training loss's change per epoch over the last WINDOW epochs,
    relative to its last value's magnitude (0.01: still moving 1 % an epoch).
    sigma_trend: the change of log σ (sigma_mean) per epoch over the same epochs.
    Fewer than WINDOW epochs, or a value that is not finite, give None: unknown is
    not settled.
    """
    out = {"loss_trend": None, "sigma_trend": None}
    if len(rows) < WINDOW:
        return out
    steps = WINDOW - 1
    loss = _column(rows, "loss")[-WINDOW:]
    if all(math.isfinite(v) for v in loss) and loss[-1] != 0:
        out["loss_trend"] = (loss[-1] - loss[0]) / steps / abs(loss[-1])
    sigma = _column(rows, "sigma_mean")[-WINDOW:]
    if all(math.isfinite(v) and v > 0 for v in sigma):
        out["sigma_trend"] = (math.log(sigma[-1]) - math.log(sigma[0])) / steps
    return out


def read_trends(log_csv) -> dict:
    """trends() of a log.csv file; all None where the file is missing."""
    path = Path(log_csv)
    if not path.exists():
        return trends([])
    with open(path, newline="") as f:
        return trends(list(csv.DictReader(f)))
