"""Parameter distributions: a number, or a distribution sampled once per replication.

Replication 0 takes every parameter's central value (:func:`central`); other
replications draw from their own ``parameters`` stream (:func:`sample`), so a
parameter's draw never depends on which other parameters exist.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Normal(_Dist):
    """Normal(mean, sd); draws are clipped to the parameter's allowed range."""

    dist: Literal["normal"]
    mean: float
    sd: float = Field(ge=0)


class Triangular(_Dist):
    dist: Literal["triangular"]
    low: float
    mode: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> "Triangular":
        if not self.low <= self.mode <= self.high:
            raise ValueError(f"triangular needs low <= mode <= high, got low={self.low}, mode={self.mode}, high={self.high}")
        return self


class Uniform(_Dist):
    dist: Literal["uniform"]
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> "Uniform":
        if not self.low <= self.high:
            raise ValueError(f"uniform needs low <= high, got low={self.low}, high={self.high}")
        return self


class LogNormal(_Dist):
    """Log-normal given by its median and the sd of the log."""

    dist: Literal["lognormal"]
    median: float = Field(gt=0)
    sigma: float = Field(ge=0)


class Beta(_Dist):
    """Beta(a, b) rescaled to [low, high]."""

    dist: Literal["beta"]
    a: float = Field(gt=0)
    b: float = Field(gt=0)
    low: float = 0.0
    high: float = 1.0

    @model_validator(mode="after")
    def _ordered(self) -> "Beta":
        if not self.low < self.high:
            raise ValueError(f"beta needs low < high, got low={self.low}, high={self.high}")
        return self


Distribution = Annotated[Union[Normal, Triangular, Uniform, LogNormal, Beta], Field(discriminator="dist")]
Param = Union[float, Distribution]


def central(p: Param) -> float:
    """The value replication 0 uses: mean, mode, midpoint or median."""
    if isinstance(p, (int, float)):
        return float(p)
    if isinstance(p, Normal):
        return p.mean
    if isinstance(p, Triangular):
        return p.mode
    if isinstance(p, Uniform):
        return 0.5 * (p.low + p.high)
    if isinstance(p, LogNormal):
        return p.median
    if isinstance(p, Beta):
        return p.low + (p.high - p.low) * p.a / (p.a + p.b)
    raise TypeError(f"not a parameter: {p!r}")


def support(p: Param) -> tuple[float, float]:
    """Smallest and largest value a parameter can take (normal: +/- infinity)."""
    if isinstance(p, (int, float)):
        return float(p), float(p)
    if isinstance(p, Normal):
        return (p.mean, p.mean) if p.sd == 0 else (-np.inf, np.inf)
    if isinstance(p, (Triangular, Uniform, Beta)):
        return p.low, p.high
    if isinstance(p, LogNormal):
        return (p.median, p.median) if p.sigma == 0 else (0.0, np.inf)
    raise TypeError(f"not a parameter: {p!r}")


def sample(p: Param, rng: np.random.Generator, low: float = -np.inf, high: float = np.inf) -> float:
    """One draw, clipped to [low, high] (only a normal or log-normal can need it)."""
    if isinstance(p, (int, float)):
        value = float(p)
    elif isinstance(p, Normal):
        value = rng.normal(p.mean, p.sd)
    elif isinstance(p, Triangular):
        value = p.mode if p.low == p.high else rng.triangular(p.low, p.mode, p.high)
    elif isinstance(p, Uniform):
        value = rng.uniform(p.low, p.high)
    elif isinstance(p, LogNormal):
        value = p.median * np.exp(rng.normal(0.0, p.sigma))
    elif isinstance(p, Beta):
        value = p.low + (p.high - p.low) * rng.beta(p.a, p.b)
    else:
        raise TypeError(f"not a parameter: {p!r}")
    return float(min(max(value, low), high))
