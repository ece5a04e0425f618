"""Batches of replications on Dask: a LocalCluster, or an existing cluster at an address.

Results do not depend on where a batch runs: every replication draws from its
own ``SeedSequence(seed, spawn_key=(replication, stream))``, never from the
worker, and the caller places each result by replication index. The plan is
scattered to every worker once, not pickled into each task. docs/SCALING.md
says how to run on a multi-node cluster and how to size batches.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TypeVar

import numpy as np

from sim.errors import InputError

R = TypeVar("R")

CONNECT_TIMEOUT_SECONDS = 10


def _client(address: str | None, workers: int):
    """A client, and the LocalCluster it started (None when it joined an existing cluster)."""
    Client, LocalCluster = _client_class()
    if address is None:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR)
        return Client(cluster), cluster
    try:
        return Client(address, timeout=CONNECT_TIMEOUT_SECONDS), None
    except (OSError, TimeoutError, ValueError) as err:
        raise InputError(problem=f"cannot reach a Dask scheduler at {address} within {CONNECT_TIMEOUT_SECONDS} s "
                                 f"({type(err).__name__}: {err}); check the address (tcp://HOST:PORT), that the "
                                 "scheduler is running and that this machine can reach its port") from None


def check_scheduler(address: str | None) -> None:
    """Fail before any work if Dask is missing or the scheduler at ``address`` cannot be reached."""
    if address is None:
        _client_class()
        return
    client, _ = _client(address, 0)
    client.close()


def _client_class():
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError(problem='--executor dask needs Dask: pip install "nhs-reform-sim[dask]"') from None
    return Client, LocalCluster


def _warm_up_worker() -> None:
    from sim.runner import warm_up

    warm_up()


def dask_map(plan: object, batch: Callable[[object, np.ndarray], R], work: list[np.ndarray], address: str | None,
             workers: int = 2) -> Iterator[tuple[np.ndarray, R]]:
    """Yield ``(replications, batch(plan, replications))`` for every batch in ``work`` as each finishes.

    Args:
        plan: what every batch needs (sent to each worker once).
        batch: a module-level function, so workers import it rather than unpickle code.
        work: the batches of replication indices.
        address: ``tcp://HOST:PORT`` of a running scheduler, or None to start a LocalCluster
            of ``workers`` single-threaded processes (closed afterwards; a cluster given by
            address is never shut down).

    Closing the generator early (Ctrl-C, an error) cancels the batches not yet done.
    """
    from distributed import as_completed

    client, cluster = _client(address, workers)
    try:
        client.run(_warm_up_worker)  # numba compiles (or loads its cache) once per worker, outside the timings
        shared = client.scatter(plan, broadcast=True)
        futures = {client.submit(batch, shared, reps, pure=False): reps for reps in work}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:
            client.cancel(list(futures))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
