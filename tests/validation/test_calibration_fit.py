"""The shipped calibrations replay the published history their priority profile was fitted to."""

import numpy as np
import pytest

from sim import reference
from sim.calibration import OBSERVED_COLUMN, fit_errors, long_wait_thresholds, national_series, replay
from sim.config import load_calibration
from sim.calendar import month_range


@pytest.mark.parametrize("name", ["national_2025-03", "national_2024-03"])
def test_replay_of_the_fit_window_matches_the_published_series(name):
    calib = load_calibration(name)
    obs = reference.rtt_national()
    months = month_range(calib.priority_fit_first_month, calib.fit_last_month)
    cube = replay(obs, months[0], months[-1], calib.priority, calib.admitted_share_of_list,
                  long_wait_thresholds(reference.targets(), months))
    errors = fit_errors(cube, obs)
    # The recorded fit statistics are what the file says (to the float32 state's precision:
    # a kernel that sums in another order moves them in the fifth digit)...
    for metric, value in calib.fit.items():
        assert errors[metric] == pytest.approx(value, rel=1e-4), metric
    # ...and they are good: % within 18 weeks within a point, median within half a week,
    # the list (replayed from observed flows) within half a percent, 52-week waits within 25%.
    assert errors["rtt_within_18w_pct"] < 1.0
    assert errors["rtt_median_weeks"] < 0.5
    assert errors["rtt_waiting_list_pct"] < 0.5
    assert errors["rtt_over_52w"] < 0.25
    sim18 = national_series(cube, "rtt_within_18w_pct").iloc[1:]
    assert np.corrcoef(sim18, obs.loc[sim18.index, OBSERVED_COLUMN["rtt_within_18w_pct"]])[0, 1] > 0.5
