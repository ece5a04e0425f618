"""Named random streams: reproducible, independent of batching, no global state."""

import re
from pathlib import Path

import numpy as np
import pytest

from sim import rng


def test_same_seed_replication_and_name_give_the_same_draws():
    a = rng.stream(42, 3, "demand").random(5)
    b = rng.stream(42, 3, "demand").random(5)
    assert np.array_equal(a, b)


def test_streams_differ_by_name_replication_and_seed():
    base = rng.stream(42, 3, "demand").random(5)
    assert not np.array_equal(base, rng.stream(42, 3, "capacity").random(5))
    assert not np.array_equal(base, rng.stream(42, 4, "demand").random(5))
    assert not np.array_equal(base, rng.stream(43, 3, "demand").random(5))


def test_a_parameter_draw_does_not_depend_on_which_other_parameters_exist():
    a = rng.parameter_stream(7, 1, "demand.growth_pct_per_year").random()
    rng.parameter_stream(7, 1, "capacity.admitted_growth_pct_per_year").random()
    b = rng.parameter_stream(7, 1, "demand.growth_pct_per_year").random()
    assert a == b
    assert a != rng.parameter_stream(7, 1, "capacity.admitted_growth_pct_per_year").random()


def test_unknown_stream_name_is_refused():
    with pytest.raises(KeyError, match="unknown random stream"):
        rng.stream(1, 0, "demnad")


def test_stream_ids_are_unique():
    assert len(set(rng.STREAMS.values())) == len(rng.STREAMS)


def test_no_module_uses_global_random_state():
    pattern = re.compile(r"np\.random\.(seed|rand|randn|randint|random|choice|normal|poisson|uniform|shuffle|"
                         r"binomial|exponential|triangular|beta|lognormal)\(|^\s*import random\b|^\s*from random import"
                         r"|\brandom\.(seed|random|choice|randint|gauss)\(", re.MULTILINE)
    offenders = []
    for path in Path(rng.__file__).parent.rglob("*.py"):
        for m in pattern.finditer(path.read_text()):
            offenders.append(f"{path.name}: {m.group(0).strip()}")
    assert offenders == []
