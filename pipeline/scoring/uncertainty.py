"""Error bars for the label shares: the Wilson score interval.

Why Wilson and not the textbook normal approximation ``p +- z * sqrt(p(1-p)/n)``: a rep-day
has tens of turns and shares near 0 are common (a pitcher's ``trust_commitment_share`` is
often 0/25). There the normal interval collapses to zero width at p = 0 or 1, undercovers
badly for small n, and can leave [0, 1]. Wilson's interval keeps close to its nominal 95%
coverage down to a handful of turns, never collapses, and stays inside [0, 1] by
construction (Brown, Cai & DasGupta 2001 recommend it for exactly this regime).

Caveat: the interval treats every turn as an independent draw. Turns within one call are
correlated (the same customer, the same agenda, a rep who probes in one call probes all
through it), so the effective sample is smaller than the turn count and these intervals are
optimistic, most of all for a rep-day of one or two long calls. For small samples the honest
unit is the call, not the turn: that is why a rep-day also needs ``evidence.min_calls`` calls
before it gets a tier, and an analyst comparing reps over a window should prefer many calls
to many turns.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

Z_95 = 1.959964
"""The two-sided 95% normal quantile."""


def wilson_interval(k: ArrayLike, n: ArrayLike, z: float = Z_95) -> tuple[np.ndarray, np.ndarray]:
    """The Wilson score interval of ``k`` successes in ``n`` trials, element-wise.

    Args:
        k: successes (e.g. a label's turn count); scalar or array, broadcast against ``n``.
        n: trials (e.g. the rep turns); ``n = 0`` gives the uninformative interval (0, 1).
        z: the normal quantile of the confidence level (1.959964 for 95%).

    Returns:
        ``(lo, hi)`` as float arrays of the broadcast shape, clipped to [0, 1].
    """
    k_arr, n_arr = np.broadcast_arrays(np.asarray(k, dtype=float), np.asarray(n, dtype=float))
    empty = n_arr <= 0
    safe_n = np.where(empty, 1.0, n_arr)
    p = k_arr / safe_n
    z2 = z * z
    denom = 1.0 + z2 / safe_n
    centre = (p + z2 / (2 * safe_n)) / denom
    half = z * np.sqrt(np.maximum(p * (1 - p) / safe_n + z2 / (4 * safe_n * safe_n), 0.0)) / denom
    # k = 0 and k = n give exactly 0 and 1 in exact arithmetic; say so rather than 0.9999999999999999
    lo = np.where(empty | (k_arr <= 0), 0.0, np.clip(centre - half, 0.0, 1.0))
    hi = np.where(empty | (k_arr >= n_arr), 1.0, np.clip(centre + half, 0.0, 1.0))
    return lo, hi


__all__ = ["Z_95", "wilson_interval"]
