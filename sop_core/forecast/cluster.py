"""The forecast's regular SKUs fitted on a Dask distributed cluster (``forecast --engine dask``).

The client (this process) reads the history, classifies the SKUs, fits the global model, and
writes the run; the workers run ``engine._worker`` on batches of SKUs, the same code as the
local process pool, so the numbers are the same to the last digit. Without a scheduler address
a ``LocalCluster`` of this machine's processes is started for the run and stopped after it.

Faults: a batch on a worker that dies is run again on another (Dask reschedules the tasks of
a lost worker; ``retries`` covers an error inside a batch too), and each SKU is kept once. A
scheduler that cannot be reached, or that goes away during the run, is an ``InputError``:
nothing is written and the previous run stays current.

With a Parquet history (``history``), a task carries its SKUs and their small extras (the
global model's points, planned promotions, the Stan check flag), not their histories: each
worker reads its batch's rows from the dataset itself.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from sop_core.data.errors import InputError, SopError
from sop_core.forecast.engine import ForecastSettings, SkuForecast, SkuInput, _worker, sku_input
from sop_core.forecast.panel import Panel, PanelShape, panel_from_frame

CONNECT_SECONDS = 10
"""How long the client tries to reach the scheduler before giving up."""
RETRIES = 3
"""How many times a batch that failed with an error is run again (a lost worker's batches are
rescheduled by Dask without counting here)."""
TASK_OVERHEAD_SECONDS = 0.03
"""Cost of one Dask task besides its fits (scheduling, sending the batch, returning its
results): 0.025 s measured on a 2-worker ``LocalCluster`` for a batch of 25 SKUs
(``benchmarks/bench_scale.py``, docs/SCALE.md), rounded up."""
SERIES_SECONDS = 0.04
"""Fitting time of one regular SKU on one core: 0.037-0.057 s measured at 1,000 and 10,000
SKUs (the lower end, so batches err on the large side)."""
MAX_OVERHEAD = 0.05
"""Largest share of a batch's time its task overhead may take."""
MAX_BATCH = 25


@dataclass(frozen=True)
class BatchFromFiles:
    """A batch of SKUs for a worker to read from the Parquet history: their panel rows, names
    and the small extras the client computed."""

    source: str
    history_end: np.datetime64
    shape: PanelShape
    rows: list[int]
    skus: list[str]
    global_points: list[dict[int, np.ndarray] | None]
    stan_checks: list[bool]
    planned: list[np.ndarray] | None
    planned_shift: list[np.ndarray] | None


def inputs_from_files(batch: BatchFromFiles) -> list[SkuInput]:
    """The ``SkuInput``s of a batch, built from the rows this worker reads itself: the same
    arrays as the client's whole panel gives (``PanelShape``)."""
    from sop_core.data.history_files import parquet_sales_rows

    rows = parquet_sales_rows(batch.source, batch.history_end.astype(object), batch.skus)
    panel = panel_from_frame(rows, pd.DataFrame(columns=["family", "brand"]), like=batch.shape)
    local = {sku: i for i, sku in enumerate(panel.skus)}
    missing = [sku for sku in batch.skus if sku not in local]
    if missing:
        raise ValueError(f"the Parquet history has no rows for {', '.join(missing[:5])}")
    order = [local[sku] for sku in batch.skus]
    if batch.planned is not None:
        planned = np.zeros((len(panel.skus), *batch.planned[0].shape))
        shift = np.zeros((len(panel.skus), *batch.planned_shift[0].shape))
        planned[order] = np.stack(batch.planned)
        shift[order] = np.stack(batch.planned_shift)
        panel = replace(panel, planned=planned, planned_discount_log_ratio=shift)
    inputs = []
    for i, row in enumerate(order):
        inp = sku_input(panel, row)
        inp.row = batch.rows[i]
        inp.global_points = batch.global_points[i]
        inp.stan_check = batch.stan_checks[i]
        inputs.append(inp)
    return inputs


_ONE_THREAD = False


def fit_batch(batch: list[SkuInput] | BatchFromFiles, settings: ForecastSettings) -> list:
    """A Dask task: the batch's fits by ``engine._worker``, with one BLAS thread per worker
    process as in the local pool."""
    global _ONE_THREAD
    if not _ONE_THREAD:
        from sop_core.data.workers import one_blas_thread

        one_blas_thread()
        _ONE_THREAD = True
    if isinstance(batch, BatchFromFiles):
        batch = inputs_from_files(batch)
    return _worker(batch, settings)


def batch_size(count: int, workers: int) -> int:
    """SKUs per task: enough that a task's overhead stays under ``MAX_OVERHEAD`` of its fits,
    else about four tasks per worker (so a late, slow batch leaves little idle), at most
    ``MAX_BATCH``."""
    least = int(np.ceil(TASK_OVERHEAD_SECONDS / (MAX_OVERHEAD * SERIES_SECONDS)))
    spread = count // (4 * max(workers, 1)) or 1
    return max(1, min(MAX_BATCH, count, max(least, spread)))


def unreachable(address: str, error: BaseException) -> InputError:
    """The one line a planner sees when the scheduler cannot be used."""
    reason = first_sentence(error)
    return InputError(
        f"The Dask scheduler at {address} cannot be reached: {reason}; nothing was written, "
        "the previous forecast stays current."
    )


def first_sentence(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text.split(". ")[0].rstrip(".") or type(error).__name__


def missing_package(address: str, where: str, error: BaseException) -> SopError:
    """The one line when the cluster cannot run our code: the scheduler unpickles each task's
    arguments and the workers run them, so both need this package as the client has it."""
    return SopError(
        f"The Dask {where} at {address} cannot run the forecast ({first_sentence(error)}): "
        "the scheduler and the workers need this package and its requirements installed, the "
        "same versions as here (docs/SCALE.md); nothing was written, the previous forecast "
        "stays current."
    )


class DaskEngine:
    """Fits on a Dask cluster: ``scheduler`` its address (empty: a ``LocalCluster`` of
    ``jobs`` worker processes of this machine, one thread each). Use it as a context manager:
    it connects on entry (an ``InputError`` when it cannot) and closes on exit."""

    name = "dask"

    def __init__(
        self,
        scheduler: str = "",
        jobs: int | None = None,
        history: str | Path | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.jobs = jobs
        self.history = None if history is None else str(history)
        self.panel: Panel | None = None  # set by the run when the workers read ``history``
        self.client = None
        self.cluster = None

    def __enter__(self) -> DaskEngine:
        import distributed  # noqa: F401  (its import sets its loggers' levels: first)

        # Dask's client logs a lost scheduler as errors (with tracebacks) while it retries;
        # the run says what happened in one line of its own, so they are kept off stderr.
        self._logger = logging.getLogger("distributed.client")
        self._level = self._logger.level
        self._logger.setLevel(logging.CRITICAL)
        if self.scheduler:
            from distributed import Client

            # Connected now, before the global model's minutes: an address that is wrong or
            # down fails the run at once.
            try:
                self.client = Client(self.scheduler, timeout=CONNECT_SECONDS, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as error:
                self._logger.setLevel(self._level)
                raise unreachable(self.scheduler, error) from None
        return self

    def _connected(self):
        """The client; a ``LocalCluster`` is started on first use, when the first batches are
        ready: the reading and the global model before it have the machine to themselves."""
        if self.client is None:
            from distributed import Client, LocalCluster

            self.cluster = LocalCluster(
                n_workers=self.jobs or os.cpu_count() or 1,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            self.client = Client(self.cluster, set_as_default=False)
        return self.client

    def __exit__(self, *exc: object) -> None:
        # Closing a client whose scheduler has gone cancels its reconnection, which Dask logs
        # as an error with a traceback: the run has already said what happened, in one line.
        logger = logging.getLogger("distributed")
        level = logger.level
        logger.setLevel(logging.CRITICAL)
        try:
            if self.client is not None:
                self.client.close()
            if self.cluster is not None:
                self.cluster.close()
        finally:
            logger.setLevel(level)
            self._logger.setLevel(self._level)

    @property
    def address(self) -> str:
        return self.scheduler or (self.cluster.scheduler_address if self.cluster else "")

    @property
    def workers(self) -> int:
        """Threads of the cluster's workers (each fits one batch at a time)."""
        client = self._connected()
        try:
            return max(1, sum(client.nthreads().values()))
        except Exception:
            if client.status != "running":  # the scheduler went away before the fits
                lost = ConnectionError("the connection to it was lost")
                raise unreachable(self.address, lost) from None
            raise

    def batch_size(self, count: int) -> int:
        return batch_size(count, self.workers)

    def _payload(
        self, batch: list[SkuInput], shape: PanelShape | None
    ) -> list[SkuInput] | BatchFromFiles:
        if self.history is None or self.panel is None or shape is None:
            return batch
        panel = self.panel
        rows = [inp.row for inp in batch]
        return BatchFromFiles(
            source=self.history,
            history_end=panel.history_end,
            shape=shape,
            rows=rows,
            skus=[inp.sku for inp in batch],
            global_points=[inp.global_points for inp in batch],
            stan_checks=[inp.stan_check for inp in batch],
            planned=None if panel.planned is None else [panel.planned[r] for r in rows],
            planned_shift=(
                None
                if panel.planned_discount_log_ratio is None
                else [panel.planned_discount_log_ratio[r] for r in rows]
            ),
        )

    def run(
        self,
        batches: list[list[SkuInput]],
        settings: ForecastSettings,
        finished: Callable[[list[SkuForecast]], None],
        notice: Callable[[str], None],
    ) -> None:
        """Send every batch to the cluster and tell ``finished`` each batch's results as they
        come back (in any order)."""
        from distributed import KilledWorker, as_completed

        client = self._connected()
        shape = PanelShape.of(self.panel) if self.panel is not None else None
        run = uuid.uuid4().hex[:12]
        futures = []
        try:
            futures = [
                client.submit(
                    fit_batch,
                    self._payload(batch, shape),
                    settings,
                    key=f"sop-forecast-{run}-batch-{index}",
                    retries=RETRIES,
                    pure=False,
                )
                for index, batch in enumerate(batches)
            ]
            batches_word = "batch" if len(batches) == 1 else "batches"
            notice(f"Sent {len(batches):,} {batches_word} to {self.workers} Dask worker(s)")
            for _, results in as_completed(futures, loop=client.loop, with_results=True):
                if isinstance(results, BaseException):
                    raise results  # a cancelled batch comes as its error: the scheduler is gone
                finished(results)
        except KilledWorker as error:
            raise SopError(
                f"A batch of SKUs stopped {RETRIES} Dask workers in turn (out of memory?): "
                f"{error}; nothing was written, the previous forecast stays current."
            ) from None
        except ImportError as error:
            raise missing_package(self.address, "workers", error) from None
        except (OSError, TimeoutError) as error:
            raise unreachable(self.address, error) from None
        except RuntimeError as error:
            if "deserialization of the task graph" in str(error):
                raise missing_package(self.address, "scheduler", error) from None
            raise
        except BaseException as error:
            if _cancelled(error):
                raise unreachable(self.address, _lost(error)) from None
            raise
        finally:
            if futures and client.status == "running":
                client.cancel(futures)


def _lost(error: BaseException) -> BaseException:
    """A cancelled batch's error as a planner reads it: Dask says ``<key> cancelled for reason:
    scheduler-connection-lost`` when the client lost the scheduler mid-run."""
    if getattr(error, "reason", None) == "scheduler-connection-lost":
        return ConnectionError("the connection to it was lost during the run")
    return error


def _cancelled(error: BaseException) -> bool:
    """Whether ``error`` is Dask's "the futures were cancelled" (the scheduler went away)."""
    from concurrent.futures import CancelledError

    return isinstance(error, CancelledError) or type(error).__name__ == "FutureCancelledError"
