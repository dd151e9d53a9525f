"""How a run ended: ok, collapsed or diverged (the summary's `outcome` column).

`status` stays what training recorded (ok, or diverged where the loss stopped
being finite). A run can also finish with finite numbers and have learned
nothing the study can use; evaluation calls it `collapsed` when either

- posterior collapse: no active latent unit (active_units == 0: Var_x E[z|x]
  <= 0.01 in every dimension, so the KL is ~0 and every reconstruction is
  the same image), or
- decoder collapse: the decoded prior samples are all the same image
  (sample_spread, the per-pixel std over the FID's prior samples of their
  expected values in [0, 1] units, averaged over pixels, < COLLAPSE_SPREAD:
  a tenth of one 8-bit grey level would be 4e-4, so 1e-3 is a quarter level).

Either makes the run's FID and reconstructions meaningless in the same way a
divergence does, but silently; the divergence map shows all three. Torch-free:
the tables and figures import it.
"""

import math

OUTCOMES = ("ok", "collapsed", "diverged")
#: below this mean per-pixel std of decoded prior samples ([0, 1] units) a run is collapsed.
COLLAPSE_SPREAD = 1e-3


def _number(v):
    if v is None or isinstance(v, bool):
        return None
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def outcome(row) -> str:
    """'diverged' (or whatever non-ok status training wrote), 'collapsed' or 'ok' for a metrics row."""
    status = row.get("status")
    if status != "ok":
        return status
    if _number(row.get("active_units")) == 0:
        return "collapsed"
    spread = _number(row.get("sample_spread"))
    if spread is not None and spread < COLLAPSE_SPREAD:
        return "collapsed"
    return "ok"
