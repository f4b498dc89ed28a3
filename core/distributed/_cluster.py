"""Connecting to a Dask cluster, and the one place that imports the optional packages."""

from __future__ import annotations

import importlib

from core.errors import ClusterError, InvalidInputError, MissingDependencyError

EXTRA_HINT = 'pip install "embedding-workbench[dask]" (or: pip install dask distributed)'


def require_distributed():
    """Import and return ``distributed``, or say which extra to install."""
    try:
        return importlib.import_module("distributed")
    except ImportError as exc:
        raise MissingDependencyError(
            f"running on a cluster needs the optional Dask packages, which are not installed "
            f"({exc.name}): {EXTRA_HINT}"
        ) from None


def connect(cluster: str, *, n_workers: int | None = None, processes: bool = True):
    """A ``distributed.Client`` for ``cluster``: ``"local"`` starts a ``LocalCluster`` on this
    machine; anything else is a scheduler address such as ``tcp://10.0.0.5:8786``.

    Parameters
    ----------
    cluster : str
        ``"local"`` or a scheduler address.
    n_workers : int, optional
        Workers of a local cluster (default: Dask's choice for this machine's cores).
    processes : bool
        Local workers as processes (default) or threads of this process.

    Returns
    -------
    distributed.Client
        Close it when done (``client.close()``; a local cluster closes with it).

    Raises
    ------
    MissingDependencyError
        Dask is not installed.
    ClusterError
        The scheduler cannot be reached.
    """
    distributed = require_distributed()
    if not isinstance(cluster, str) or not cluster.strip():
        raise InvalidInputError(
            'the cluster must be "local" or a scheduler address such as tcp://10.0.0.5:8786'
        )
    if cluster == "local":
        # The client starts the LocalCluster itself, so closing the client also stops it.
        return distributed.Client(
            n_workers=n_workers,
            threads_per_worker=1 if processes else None,
            processes=processes,
            dashboard_address="127.0.0.1:0",
            protocol="tcp://",
            host="127.0.0.1",  # a local cluster listens on loopback only
        )
    if n_workers is not None:
        raise InvalidInputError("n_workers applies to a local cluster only, not to an address")
    address = cluster if "://" in cluster else f"tcp://{cluster}"
    try:
        return distributed.Client(address, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} ({exc}); check that `dask scheduler` "
            "runs there and the port is open, or use the local cluster"
        ) from None


def worker_addresses(client) -> list[str]:
    """The cluster's workers, sorted (shard ``i`` goes to worker ``i % n``)."""
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    if not workers:
        raise ClusterError(
            "the Dask cluster has no workers; start some (`dask worker ADDRESS`) and retry"
        )
    return workers
