"""Real Dask clusters for the distributed tests, started once per session.

``inproc_client``: a LocalCluster of 3 workers as threads of this process (starts in
milliseconds). ``process_client``: 2 worker processes under nannies, so a worker can be killed
with a real signal and is restarted. A task may fail (its worker die) once and be retried; the
second death ends it with ``KilledWorker``, which the code under test turns into a clear error.
"""

from __future__ import annotations

import dask
import pytest

distributed = pytest.importorskip("distributed")

ALLOWED_FAILURES = 1


@pytest.fixture(scope="session")
def inproc_client():
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}),
        distributed.LocalCluster(
            n_workers=3,
            processes=False,
            dashboard_address="127.0.0.1:0",
            protocol="tcp://",
            host="127.0.0.1",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="session")
def process_client():
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}),
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=2,
            processes=True,
            dashboard_address="127.0.0.1:0",
            host="127.0.0.1",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture
def two_workers(process_client):
    """The process cluster with both workers up (a killed one is restarted by its nanny)."""
    process_client.wait_for_workers(2, timeout=60)
    return process_client
