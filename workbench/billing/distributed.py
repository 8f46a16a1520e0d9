"""Run the meter chunks of a billing run on a dask distributed cluster.

No scheduler of our own: each chunk is one task, ``client.map(bill_chunk, chunks)``, and dask does the
placement, retries and bookkeeping. ``scheduler`` is:

- ``"local"``: a ``LocalCluster`` on this machine, ``workers`` processes of one thread each (the scan is
  numba code that releases the GIL, but each worker process keeps its memory to itself);
- an address, ``"tcp://10.0.0.5:8786"``: an existing cluster (dask-kubernetes, dask-jobqueue, a
  ``dask scheduler`` started by hand). Its workers must have this package installed and read the cube
  and write the run's folder at the same paths (shared file system or object storage, see docs/scale.md);
- a ``distributed.Client`` already connected (a notebook's).

A worker that dies mid-task (out of memory, pre-empted, killed) loses only its chunk: dask retries it
elsewhere (up to the scheduler's ``allowed-failures``, 3 by default); the chunks already written are kept
on disk either way, so a run that still fails resumes on rerun.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging

from workbench.billing.cycle_chunk import ChunkTask, CyclePlan, bill_chunk
from workbench.errors import BillingError, WorkbenchError, require

log = logging.getLogger(__name__)


def _bill_task(task: ChunkTask, plan: CyclePlan) -> dict:
    return bill_chunk(plan, task)


@contextlib.contextmanager
def cluster_client(scheduler, workers: int | None = None):
    """A ``distributed.Client`` for ``scheduler`` ("local", an address, or a Client, which is not closed)."""
    require("distributed", "distributed", "cycle --scheduler (billing on dask)")
    from distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        yield scheduler
        return
    if scheduler == "local":
        n = int(workers or 2)
        if n < 1:
            raise BillingError(f"--workers {n}: expected at least 1 worker")
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                          silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
            yield client
        return
    text = str(scheduler)
    if "://" not in text:
        raise BillingError(f"--scheduler {text!r}: expected 'local' or a dask scheduler address like "
                           "tcp://10.0.0.5:8786")
    try:
        client = Client(text, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise BillingError(f"--scheduler {text}: cannot connect to the dask scheduler ({exc}); is it running, "
                           "and is the address reachable from here?") from None
    with client:
        yield client


def bill_chunks_on_cluster(plan: CyclePlan, tasks: list[ChunkTask], *, scheduler, workers=None, progress=True,
                           run_key: str = "run") -> str:
    """Bill ``tasks`` on the cluster; return a description of the cluster. Chunks are written by the workers."""
    from distributed import progress as progress_bar
    from distributed.scheduler import KilledWorker

    with cluster_client(scheduler, workers) as client:
        n_workers = len(client.scheduler_info(n_workers=-1).get("workers", {}))
        label = f"dask {client.scheduler.address} ({n_workers} workers)"
        log.info(f"note: billing on {label}; dashboard: {client.dashboard_link}")
        if not tasks:
            return label
        # the plan goes to each worker once, not inside every task
        plan_future = client.scatter(dataclasses.replace(plan, parallel_scan=False), broadcast=True, hash=False)
        futures = client.map(_bill_task, tasks, plan=plan_future,
                             key=[f"bill_chunk-{run_key}-{t.chunk_no:06d}" for t in tasks])
        try:
            if progress:
                progress_bar(futures, notebook=False)
            client.gather(futures)
        except KilledWorker as exc:
            raise BillingError(
                f"a dask worker died each time it billed a chunk ({exc}); the chunks finished so far are kept. "
                "Check the workers' memory limit and logs, then run the same command again to resume"
            ) from None
        except WorkbenchError:
            raise
        finally:
            client.cancel(futures)
    return label
