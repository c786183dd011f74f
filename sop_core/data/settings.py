"""The one registry of settings, read from environment variables.

Every setting is declared here once, with its default and a sentence for the README; a test
fails when a setting is missing from the README.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Setting:
    """An environment variable the app or the CLI reads."""

    env: str
    default: str
    description: str

    def value(self) -> str:
        return os.environ.get(self.env, self.default)


DATABASE = Setting(
    "SOP_DB",
    str(REPOSITORY_ROOT / "data" / "sop.duckdb"),
    "Path of the DuckDB file the dashboard opens. Built from the sample company on first "
    "start when it does not exist.",
)
LOCK_TIMEOUT = Setting(
    "SOP_LOCK_TIMEOUT",
    "30",
    "Seconds to wait, retrying, while another process (a scheduled forecast or import) holds "
    "the database file, before giving up with a clear message.",
)
CACHE_TTL = Setting(
    "SOP_CACHE_TTL",
    "300",
    "Seconds the dashboard keeps a query result before reading the database again; a change "
    "to the database file is picked up at once regardless.",
)
SAMPLE_SKUS = Setting(
    "SOP_SAMPLE_SKUS",
    "40",
    "Number of SKUs of the sample company built on first start.",
)
SAMPLE_AS_OF = Setting(
    "SOP_SAMPLE_AS_OF",
    "",
    "Date (YYYY-MM-DD) the sample history ends before; empty means today.",
)

IMPORT_MAX_ROWS = Setting(
    "SOP_IMPORT_MAX_ROWS",
    "20000000",
    "Most rows an imported file may hold; a bigger file is refused before the database is opened.",
)
# Spreadsheets get a lower cap: the Excel reader takes about a minute per 100,000 rows where
# DuckDB reads a CSV or Parquet file of millions in seconds, and a workbook zips well, so a
# small upload can hide a million rows.
IMPORT_MAX_SHEET_ROWS = Setting(
    "SOP_IMPORT_MAX_SHEET_ROWS",
    "250000",
    "Most rows an imported Excel workbook may hold (bigger data imports faster as CSV or "
    "Parquet); a bigger workbook is refused before it is read.",
)
IMPORT_MAX_UNPACKED_MB = Setting(
    "SOP_IMPORT_MAX_UNPACKED_MB",
    "2000",
    "Most megabytes an imported file may take once unpacked (a CSV's size, the sum of an Excel "
    "workbook's unzipped parts, a Parquet file's uncompressed data); a bigger file is refused "
    "before it is unpacked.",
)

PAPER_SIZE = Setting(
    "SOP_PAPER_SIZE",
    "A4",
    "Page size of the meeting pack's PDF and of its HTML report when printed: A4 or Letter.",
)
PAPER_SIZES = ("A4", "Letter")

FROZEN_WEEKS = Setting(
    "SOP_FROZEN_WEEKS",
    "4",
    "Weeks at the start of the horizon that are frozen: production there is scheduled, so a "
    "lever or a consensus override that changes one of them comes with a warning naming the "
    "weeks (0: no frozen zone).",
)
HORIZON_WEEKS = Setting(
    "SOP_HORIZON_WEEKS",
    "26",
    "Weeks the app's forecast refresh covers, 1 to 78 (78: 18 months ahead; the production "
    "plan is weekly for 13 weeks and by fiscal month beyond). The CLI's `forecast --horizon` "
    "sets its own.",
)
FORECAST_ENGINE = Setting(
    "SOP_FORECAST_ENGINE",
    "local",
    "Where the app's forecast refresh and past forecasts fit the SKUs: `local` (this machine's "
    "processes) or `dask` (a Dask cluster: the one at `SOP_DASK_SCHEDULER`, else a cluster of "
    "this machine's processes started for the run). The CLI's `forecast --engine` sets its own.",
)
DASK_SCHEDULER = Setting(
    "SOP_DASK_SCHEDULER",
    "",
    "With `SOP_FORECAST_ENGINE=dask`: the Dask scheduler's address (for example "
    "`tcp://10.0.0.5:8786`); empty starts a cluster on this machine. docs/SCALE.md.",
)

SIGN_IN = Setting(
    "SOP_SIGN_IN",
    "local",
    "How the dashboard knows who is at the screen: `local` (the name typed in the sidebar, for "
    "trying the product), `oidc` (Streamlit's sign-in against the company's OpenID Connect "
    "provider, configured in `.streamlit/secrets.toml`) or `proxy` (a header set by an "
    'authenticating reverse proxy); docs/SECURITY.md, "Signing in".',
)
PROXY_HEADER = Setting(
    "SOP_PROXY_HEADER",
    "",
    "With `SOP_SIGN_IN=proxy`: the request header in which the reverse proxy puts the signed-in "
    "person's email (for example `X-Forwarded-Email`); without it the header is ignored.",
)
PROXY_ADDRESS = Setting(
    "SOP_PROXY_ADDRESS",
    "",
    "With `SOP_SIGN_IN=proxy`: the reverse proxy's IP address(es) or networks, comma-separated "
    "(`127.0.0.1` when it runs on the same machine); the header is trusted only on a request "
    "from one of them.",
)

SETTINGS: tuple[Setting, ...] = (
    DATABASE,
    LOCK_TIMEOUT,
    CACHE_TTL,
    SAMPLE_SKUS,
    SAMPLE_AS_OF,
    IMPORT_MAX_ROWS,
    IMPORT_MAX_SHEET_ROWS,
    IMPORT_MAX_UNPACKED_MB,
    PAPER_SIZE,
    FROZEN_WEEKS,
    HORIZON_WEEKS,
    FORECAST_ENGINE,
    DASK_SCHEDULER,
    SIGN_IN,
    PROXY_HEADER,
    PROXY_ADDRESS,
)


def database_path() -> Path:
    """Return the configured database path."""
    return Path(DATABASE.value()).expanduser()


def seconds(setting: Setting) -> float:
    """A setting holding seconds; a value that is not a number >= 0 falls back to the default
    (a typo in an environment variable must not take the dashboard down)."""
    try:
        value = float(setting.value())
    except ValueError:
        return float(setting.default)
    return value if value >= 0 else float(setting.default)


def lock_timeout() -> float:
    """Seconds to wait for another process to release the database."""
    return seconds(LOCK_TIMEOUT)


def whole_number(setting: Setting) -> int:
    """A setting holding a whole number above 0; anything else falls back to the default."""
    try:
        value = int(float(setting.value()))
    except ValueError:
        return int(setting.default)
    return value if value > 0 else int(setting.default)


def import_max_rows() -> int:
    """Most rows an imported file may hold."""
    return whole_number(IMPORT_MAX_ROWS)


def import_max_sheet_rows() -> int:
    """Most rows an imported workbook may hold (``SOP_IMPORT_MAX_SHEET_ROWS``)."""
    return whole_number(IMPORT_MAX_SHEET_ROWS)


def import_max_unpacked_bytes() -> int:
    """Most bytes an imported file may take once unpacked."""
    return whole_number(IMPORT_MAX_UNPACKED_MB) * 1_000_000


MOST_HORIZON_WEEKS = 78


def horizon_weeks() -> int:
    """Weeks of the app's forecast (``SOP_HORIZON_WEEKS``), at most ``MOST_HORIZON_WEEKS``;
    anything that is not a whole number from 1 falls back to the default."""
    return min(whole_number(HORIZON_WEEKS), MOST_HORIZON_WEEKS)


def forecast_engine() -> tuple[str, str]:
    """The app's forecast engine and Dask scheduler address (``SOP_FORECAST_ENGINE``,
    ``SOP_DASK_SCHEDULER``), as written: a wrong engine is refused by the refresh with a
    message rather than quietly run locally."""
    return FORECAST_ENGINE.value().strip().lower(), DASK_SCHEDULER.value().strip()


def frozen_weeks() -> int:
    """Weeks of the frozen zone (``SOP_FROZEN_WEEKS``): a whole number from 0 to 13; anything
    else falls back to the default (a typo must not unfreeze the schedule or freeze it all)."""
    try:
        value = int(FROZEN_WEEKS.value())
    except ValueError:
        return int(FROZEN_WEEKS.default)
    return value if 0 <= value <= 13 else int(FROZEN_WEEKS.default)


def paper_size() -> str:
    """The meeting pack's page size, ``A4`` or ``Letter`` (any case; anything else: A4)."""
    chosen = PAPER_SIZE.value().strip().lower()
    return next((size for size in PAPER_SIZES if size.lower() == chosen), PAPER_SIZE.default)
