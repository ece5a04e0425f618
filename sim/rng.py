"""Random streams: one root seed per run, one child per replication, one named
stream per process inside it.

Replication ``r`` of a run with root seed ``s`` draws from
``SeedSequence(s, spawn_key=(r, stream_id(name)))``: the same numbers whatever
the batch size, the number of workers, the executor or the order in which
replications run, and whatever other streams exist. Two scenarios run with the
same seed therefore share their draws (common random numbers), so paired
comparisons cancel most of the noise.

Stream ids come from a fixed table, never from ``hash()`` (salted per process).
"""

from __future__ import annotations

import zlib

import numpy as np

# Stable ids: append new names, never renumber (that would change every result).
STREAMS: dict[str, int] = {
    "parameters": 1,
    "demand": 2,
    "capacity": 3,
    "removals": 4,
    "trusts": 5,
    "validation": 6,
    "diagnostics": 7,
    "cancer": 8,
    "finance": 9,
    "aft": 10,
    "agents": 11,
    "des": 12,
    "case_mix": 13,
    "long_wait": 14,
    "cancer_pace": 15,
}


def stream_id(name: str) -> int:
    """The fixed id of a named stream.

    Raises:
        KeyError: for a name not in :data:`STREAMS`, so a typo cannot create a
            silent new stream.
    """
    try:
        return STREAMS[name]
    except KeyError:
        raise KeyError(f"unknown random stream {name!r}; known: {', '.join(STREAMS)}") from None


def stream(seed: int, replication: int, name: str) -> np.random.Generator:
    """The generator for one process of one replication."""
    if seed < 0 or replication < 0:
        raise ValueError("seed and replication must be non-negative")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(replication, stream_id(name)))))


def streams(seed: int, replication: int) -> dict[str, np.random.Generator]:
    """Every named generator of one replication."""
    return {name: stream(seed, replication, name) for name in STREAMS}


def parameter_stream(seed: int, replication: int, parameter: str) -> np.random.Generator:
    """A generator for one named parameter of one replication.

    Keyed by a CRC-32 of the parameter's dotted name (stable across processes,
    unlike ``hash()``), so adding or removing a parameter never changes the
    draws of another.
    """
    key = zlib.crc32(parameter.encode("utf-8"))
    seq = np.random.SeedSequence(seed, spawn_key=(replication, stream_id("parameters"), key))
    return np.random.Generator(np.random.PCG64(seq))
