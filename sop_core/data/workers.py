"""Worker processes for long work that fits in parts (the forecast's batches of SKUs, the
production plan's independent parts): a pool of fresh ("spawn") processes with one BLAS thread
each, that exit when the process that started them is gone, and a stop that ends them now.

Imports nothing else of ``sop_core``: every room may use it.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from threadpoolctl import threadpool_limits

PARENT_CHECK_SECONDS = 0.5
"""How often a worker checks that the process that started it is still alive."""


MANAGER_WAIT_SECONDS = 15.0
"""How long ``stop_pool`` waits for the pool's manager thread to end."""


def _start_worker(parent: int) -> None:
    """Pool initializer: one BLAS thread, and an exit when the parent process is gone."""
    one_blas_thread()
    _exit_with_parent(parent)


def _exit_with_parent(parent: int) -> None:
    """Exit this worker as soon as ``parent`` (the process that started the pool) is gone.

    A worker waits on its task queue forever, and a parent killed with SIGKILL (or an app
    stopped mid-refresh) never tells it to stop: without this it stays, re-parented to init,
    with its memory and the resource tracker it keeps alive. A daemon thread polls the parent
    id (it changes when the parent dies) rather than ``PR_SET_PDEATHSIG``, which fires when
    the *thread* that started the worker ends, as a dashboard session's thread does.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def one_blas_thread() -> None:
    """One BLAS thread in this worker for its whole life.

    The matrices are small, and several threads per worker on top of several workers only
    fight over the cores. threadpoolctl limits only the libraries already loaded, so scipy's
    own OpenBLAS (numpy's is in since the worker imported this module) is loaded first. Set
    here rather than through environment variables in the parent, whose other threads (the
    dashboard's) would see them change while the pool starts.
    """
    import scipy.linalg  # noqa: F401

    threadpool_limits(1)


def worker_pool(jobs: int) -> ProcessPoolExecutor:
    """A pool of ``jobs`` fresh ("spawn") worker processes with one BLAS thread each, that
    exit when this process is gone. Stop it with ``stop_pool`` when the work is interrupted."""
    return ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(os.getpid(),),
    )


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Stop the pool now: queued batches cancelled, running workers terminated.

    ``shutdown`` alone waits for the batches already running (minutes for a large run), so
    a stopped command or app would leave its workers fitting on.
    """
    workers = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
    for worker in workers:
        worker.join(timeout=5)
        if worker.is_alive():
            worker.kill()
    # Let the pool's manager thread see its workers gone and end now: left running, it may
    # write to its wake-up pipe after interpreter exit has closed it, and Python prints
    # "OSError: [Errno 9] Bad file descriptor" after the command's own last line. It ends in
    # milliseconds on a quiet machine; under a loaded CI run 5 s was once not enough, so the
    # wait is bounded at 15 s (the workers are already gone: only the exit waits).
    manager = getattr(pool, "_executor_manager_thread", None)
    if manager is not None:
        manager.join(timeout=MANAGER_WAIT_SECONDS)


def run_parts(
    work: Callable[..., Any],
    parts: Sequence[Any],
    args: tuple,
    jobs: int,
    finished: Callable[[int, Any], None],
    on_broken: Callable[[], None] | None = None,
) -> None:
    """``work(part, *args)`` for every part in ``jobs`` fresh worker processes, submitted in
    the order given, telling ``finished(index, result)`` as each completes (in any order).

    A pool that breaks (a worker out of memory, killed) is stopped and the parts not yet back
    are done in this process (``on_broken`` told first): the work still completes. Stopped any
    other way (SIGTERM, Ctrl+C, an error in a part): no worker outlives it.
    """
    pool = worker_pool(jobs)
    done: set[int] = set()
    try:
        futures = {pool.submit(work, part, *args): i for i, part in enumerate(parts)}
        for future in as_completed(futures):
            finished(futures[future], future.result())
            done.add(futures[future])
        pool.shutdown()
    except BrokenProcessPool:
        stop_pool(pool)
        if on_broken is not None:
            on_broken()
        for i, part in enumerate(parts):
            if i not in done:
                finished(i, work(part, *args))
    except BaseException:
        stop_pool(pool)
        raise
