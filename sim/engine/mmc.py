"""M/M/c validation mode of the patient-level model: the DES's priority rule in continuous time.

``c`` servers with exponential service and Poisson arrivals split over the
three request sources (strict priority between sources, first come first
served within one): checked against Erlang C (:func:`erlang_c_wait`), Cobham's
priority formula and Little's law in tests/validation/test_des_erlang.py, and
timed against a bare simpy M/M/3 in ``sim bench --case des``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import simpy

from sim.engine.des import N_CLASSES


@dataclass(frozen=True, slots=True)
class MMcResult:
    """Per-patient times of an M/M/c run, in arrival order, and optional regular samples of the state.

    Attributes:
        arrival_time, start_time, end_time: float64 ``[patient]``.
        classes: int8 ``[patient]`` source.
        sample_times: float64 times of the state samples.
        sample_queue: int64 patients waiting (not in service) at each sample.
        sample_in_system: int64 patients waiting or in service at each sample.
    """

    arrival_time: np.ndarray
    start_time: np.ndarray
    end_time: np.ndarray
    classes: np.ndarray
    sample_times: np.ndarray
    sample_queue: np.ndarray
    sample_in_system: np.ndarray

    @property
    def wait_in_queue(self) -> np.ndarray:
        return self.start_time - self.arrival_time

    @property
    def time_in_system(self) -> np.ndarray:
        return self.end_time - self.arrival_time


def simulate_mmc(arrival_rate: float, service_rate: float, servers: int, n_patients: int,
                 rng: np.random.Generator, *, class_shares: Sequence[float] = (0.0, 1.0, 0.0),
                 sample_every: float | None = None) -> MMcResult:
    """An M/M/c queue with the model's priority rule, one event per arrival and per service.

    Args:
        arrival_rate: Poisson arrivals per unit time (lambda).
        service_rate: per server, per unit time (mu); service is exponential.
        servers: c.
        n_patients: arrivals simulated; the run ends when all have been served.
        rng: draws interarrival times, then service times, then sources.
        class_shares: share of arrivals by source (urgent, rtt, other).
        sample_every: if given, a census process records the queue and the
            number in the system at this interval until the last arrival.
    """
    if arrival_rate <= 0 or service_rate <= 0 or servers < 1 or n_patients < 1:
        raise ValueError("arrival_rate and service_rate must be > 0, servers and n_patients >= 1")
    shares = np.asarray(class_shares, dtype=np.float64)
    if shares.shape != (N_CLASSES,) or np.any(shares < 0) or shares.sum() <= 0:
        raise ValueError("class_shares must be 3 non-negative shares with a positive sum")
    gaps = rng.exponential(1.0 / arrival_rate, n_patients).tolist()
    service = rng.exponential(1.0 / service_rate, n_patients).tolist()
    cls_arr = np.searchsorted(np.cumsum(shares) / shares.sum(), rng.random(n_patients), side="right")
    cls_arr = np.minimum(cls_arr, N_CLASSES - 1).astype(np.int8)
    classes = cls_arr.tolist()
    arrive = [0.0] * n_patients
    start = [0.0] * n_patients
    end = [0.0] * n_patients
    queues = (deque(), deque(), deque())
    idle: list[simpy.Event] = []
    env = simpy.Environment()
    timeout, event = env.timeout, env.event

    def arrivals():
        for i in range(n_patients):
            yield timeout(gaps[i])
            arrive[i] = env.now
            if idle:
                idle.pop().succeed(i)
            else:
                queues[classes[i]].append(i)

    def server():
        q0, q1, q2 = queues
        while True:
            if q0:
                i = q0.popleft()
            elif q1:
                i = q1.popleft()
            elif q2:
                i = q2.popleft()
            else:
                ev = event()
                idle.append(ev)
                i = yield ev
            start[i] = env.now
            yield timeout(service[i])
            end[i] = env.now

    samples: tuple[list, list, list] = ([], [], [])

    def sampler(horizon: float):
        while env.now + sample_every <= horizon:
            yield timeout(sample_every)
            waiting = len(queues[0]) + len(queues[1]) + len(queues[2])
            samples[0].append(env.now)
            samples[1].append(waiting)
            samples[2].append(waiting + servers - len(idle))

    env.process(arrivals())
    for _ in range(servers):
        env.process(server())
    if sample_every is not None:
        if sample_every <= 0:
            raise ValueError("sample_every must be > 0")
        env.process(sampler(float(np.sum(gaps))))
    env.run()
    return MMcResult(np.asarray(arrive), np.asarray(start), np.asarray(end), cls_arr,
                     np.asarray(samples[0], dtype=np.float64), np.asarray(samples[1], dtype=np.int64),
                     np.asarray(samples[2], dtype=np.int64))


def erlang_c_wait(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Mean wait in queue Wq of an M/M/c queue (Erlang C), in the rates' time unit.

    ``Wq = C(c, a) / (c mu - lambda)`` with ``a = lambda / mu`` and
    ``C = (a^c / c!) / (1 - rho) / (sum_{k<c} a^k / k! + (a^c / c!) / (1 - rho))``.

    Raises:
        ValueError: unless ``rho = lambda / (c mu) < 1``.
    """
    a = arrival_rate / service_rate
    rho = a / servers
    if not 0 < rho < 1:
        raise ValueError(f"utilisation {rho:g} must be in (0, 1)")
    top = a ** servers / math.factorial(servers) / (1.0 - rho)
    c_prob = top / (sum(a ** k / math.factorial(k) for k in range(servers)) + top)
    return c_prob / (servers * service_rate - arrival_rate)
