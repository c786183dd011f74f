"""The DuckDB data model: versioned forward migrations and the data dictionary.

Migrations are frozen once released: a change to the model is a new migration appended to
``MIGRATIONS``, never an edit of an old one. ``DATA_DICTIONARY`` documents every table and
column the migrations create; a test fails when the two disagree, and
``python -m sop_core dictionary`` writes ``docs/DATA_DICTIONARY.md`` from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class Migration:
    """One forward step of the schema."""

    version: int
    description: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "Foundation: master data, weekly history, capacity and the sample's truth",
        """
        CREATE TABLE company_settings (
            key VARCHAR PRIMARY KEY,
            value VARCHAR NOT NULL
        );
        CREATE TABLE channels (
            channel VARCHAR PRIMARY KEY,
            name VARCHAR NOT NULL,
            description VARCHAR
        );
        CREATE TABLE production_lines (
            line VARCHAR PRIMARY KEY,
            plant VARCHAR NOT NULL,
            name VARCHAR NOT NULL,
            standard_hours_per_week DOUBLE NOT NULL CHECK (standard_hours_per_week >= 0),
            oee DOUBLE NOT NULL CHECK (oee > 0 AND oee <= 1),
            changeover_hours DOUBLE NOT NULL DEFAULT 0 CHECK (changeover_hours >= 0)
        );
        CREATE TABLE products (
            sku VARCHAR PRIMARY KEY,
            name VARCHAR NOT NULL,
            family VARCHAR NOT NULL,
            brand VARCHAR NOT NULL,
            list_price DOUBLE NOT NULL CHECK (list_price >= 0),
            unit_variable_cost DOUBLE NOT NULL CHECK (unit_variable_cost >= 0),
            setup_cost_per_batch DOUBLE NOT NULL DEFAULT 0 CHECK (setup_cost_per_batch >= 0),
            standard_batch_size DOUBLE NOT NULL CHECK (standard_batch_size > 0),
            default_line VARCHAR,
            units_per_hour DOUBLE CHECK (units_per_hour > 0),
            launch_week DATE,
            status VARCHAR NOT NULL DEFAULT 'active'
        );
        CREATE TABLE sales_history (
            week DATE NOT NULL,
            sku VARCHAR NOT NULL,
            channel VARCHAR NOT NULL,
            units DOUBLE NOT NULL CHECK (units >= 0),
            net_price DOUBLE CHECK (net_price >= 0),
            list_price DOUBLE CHECK (list_price >= 0),
            discount_depth DOUBLE NOT NULL DEFAULT 0
                CHECK (discount_depth >= 0 AND discount_depth < 1),
            feature DOUBLE NOT NULL DEFAULT 0 CHECK (feature >= 0 AND feature <= 1),
            display DOUBLE NOT NULL DEFAULT 0 CHECK (display >= 0 AND display <= 1),
            PRIMARY KEY (week, sku, channel)
        );
        CREATE TABLE capacity_calendar (
            week DATE NOT NULL,
            line VARCHAR NOT NULL,
            hours_delta DOUBLE NOT NULL,
            reason VARCHAR NOT NULL,
            PRIMARY KEY (week, line, reason)
        );
        CREATE TABLE production_actuals (
            week DATE NOT NULL,
            line VARCHAR NOT NULL,
            sku VARCHAR NOT NULL,
            units_produced DOUBLE NOT NULL CHECK (units_produced >= 0),
            batches INTEGER NOT NULL DEFAULT 0 CHECK (batches >= 0),
            hours_used DOUBLE NOT NULL CHECK (hours_used >= 0),
            PRIMARY KEY (week, line, sku)
        );
        CREATE TABLE inventory (
            week DATE NOT NULL,
            sku VARCHAR NOT NULL,
            units_on_hand DOUBLE NOT NULL CHECK (units_on_hand >= 0),
            PRIMARY KEY (week, sku)
        );
        CREATE TABLE promotions (
            promotion_id VARCHAR PRIMARY KEY,
            name VARCHAR NOT NULL,
            sku VARCHAR NOT NULL,
            channel VARCHAR,
            start_week DATE NOT NULL,
            end_week DATE NOT NULL,
            discount_depth DOUBLE NOT NULL CHECK (discount_depth >= 0 AND discount_depth < 1),
            feature DOUBLE NOT NULL DEFAULT 0 CHECK (feature >= 0 AND feature <= 1),
            display DOUBLE NOT NULL DEFAULT 0 CHECK (display >= 0 AND display <= 1),
            status VARCHAR NOT NULL CHECK (status IN ('past', 'planned')),
            CHECK (end_week >= start_week)
        );
        CREATE TABLE price_changes (
            sku VARCHAR NOT NULL,
            effective_week DATE NOT NULL,
            previous_list_price DOUBLE CHECK (previous_list_price >= 0),
            list_price DOUBLE NOT NULL CHECK (list_price >= 0),
            reason VARCHAR,
            PRIMARY KEY (sku, effective_week)
        );
        CREATE TABLE sample_truth (
            sku VARCHAR PRIMARY KEY,
            pattern VARCHAR NOT NULL,
            base_weekly_units DOUBLE NOT NULL,
            reference_price DOUBLE NOT NULL,
            trend_per_year DOUBLE NOT NULL,
            price_elasticity DOUBLE NOT NULL,
            promo_depth_coefficient DOUBLE NOT NULL,
            promo_uplift_per_10pct_discount DOUBLE NOT NULL,
            feature_uplift DOUBLE NOT NULL,
            display_uplift DOUBLE NOT NULL,
            post_promo_dip DOUBLE NOT NULL,
            noise_cv DOUBLE NOT NULL,
            demand_probability DOUBLE NOT NULL
        );
        """,
    ),
)

MIGRATIONS += (
    Migration(
        2,
        "Forecast runs: rows, model per SKU, driver effects, backtests, channel shares",
        """
        CREATE SEQUENCE forecast_run_ids START 1;
        CREATE TABLE forecast_runs (
            run_id INTEGER PRIMARY KEY DEFAULT nextval('forecast_run_ids'),
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            fingerprint VARCHAR NOT NULL,
            parameters VARCHAR NOT NULL,
            horizon INTEGER NOT NULL CHECK (horizon > 0),
            history_end DATE NOT NULL,
            first_week DATE NOT NULL,
            skus INTEGER NOT NULL,
            skus_refit INTEGER NOT NULL,
            reused_from INTEGER,
            jobs INTEGER NOT NULL,
            seconds_total DOUBLE NOT NULL,
            seconds_models DOUBLE NOT NULL
        );
        CREATE TABLE forecast_rows (
            run_id INTEGER NOT NULL,
            sku VARCHAR NOT NULL,
            week DATE NOT NULL,
            forecast DOUBLE NOT NULL CHECK (forecast >= 0),
            lower_80 DOUBLE NOT NULL CHECK (lower_80 >= 0),
            upper_80 DOUBLE NOT NULL,
            lower_95 DOUBLE NOT NULL CHECK (lower_95 >= 0),
            upper_95 DOUBLE NOT NULL,
            model VARCHAR NOT NULL,
            PRIMARY KEY (run_id, sku, week)
        );
        CREATE TABLE forecast_models (
            run_id INTEGER NOT NULL,
            sku VARCHAR NOT NULL,
            series_type VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            fingerprint VARCHAR NOT NULL,
            history_weeks INTEGER NOT NULL,
            refit BOOLEAN NOT NULL,
            PRIMARY KEY (run_id, sku)
        );
        CREATE TABLE forecast_channel_shares (
            run_id INTEGER NOT NULL,
            sku VARCHAR NOT NULL,
            channel VARCHAR NOT NULL,
            share DOUBLE NOT NULL CHECK (share >= 0 AND share <= 1),
            PRIMARY KEY (run_id, sku, channel)
        );
        CREATE TABLE driver_effects (
            run_id INTEGER NOT NULL,
            sku VARCHAR NOT NULL,
            driver VARCHAR NOT NULL,
            estimate DOUBLE,
            standard_error DOUBLE,
            raw_estimate DOUBLE,
            raw_standard_error DOUBLE,
            source VARCHAR NOT NULL,
            PRIMARY KEY (run_id, sku, driver)
        );
        CREATE TABLE backtest_results (
            run_id INTEGER NOT NULL,
            sku VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            horizon INTEGER NOT NULL,
            origins INTEGER NOT NULL,
            weeks INTEGER NOT NULL,
            actual_sum DOUBLE NOT NULL,
            abs_error_sum DOUBLE NOT NULL,
            error_sum DOUBLE NOT NULL,
            scaled_abs_error_sum DOUBLE,
            scaled_weeks INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (run_id, sku, model, horizon)
        );
        """,
    ),
)

MIGRATIONS += (
    Migration(
        3,
        "Scenarios: named sets of promotion, price, campaign and distribution levers",
        """
        CREATE SEQUENCE scenario_ids START 1;
        CREATE TABLE scenarios (
            scenario_id INTEGER PRIMARY KEY DEFAULT nextval('scenario_ids'),
            name VARCHAR NOT NULL UNIQUE,
            owner VARCHAR NOT NULL,
            status VARCHAR NOT NULL DEFAULT 'draft'
                CHECK (status IN ('draft', 'proposed', 'approved')),
            based_on_run INTEGER,
            definition VARCHAR NOT NULL,
            version INTEGER NOT NULL DEFAULT 1,
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            updated_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            updated_by VARCHAR NOT NULL
        );
        """,
    ),
)

MIGRATIONS += (
    Migration(
        4,
        "Supply: alternate lines per SKU and stored production plans",
        """
        CREATE TABLE product_lines (
            sku VARCHAR NOT NULL,
            line VARCHAR NOT NULL,
            units_per_hour DOUBLE NOT NULL CHECK (units_per_hour > 0),
            preference INTEGER NOT NULL DEFAULT 2 CHECK (preference >= 1),
            PRIMARY KEY (sku, line)
        );
        CREATE SEQUENCE plan_ids START 1;
        CREATE TABLE production_plans (
            plan_id INTEGER PRIMARY KEY DEFAULT nextval('plan_ids'),
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            scenario VARCHAR,
            run_id INTEGER NOT NULL,
            horizon INTEGER NOT NULL,
            status VARCHAR NOT NULL,
            total_cost DOUBLE,
            unmet_units DOUBLE,
            overtime_hours DOUBLE,
            max_utilisation DOUBLE,
            seconds DOUBLE NOT NULL,
            parameters VARCHAR NOT NULL
        );
        CREATE TABLE plan_rows (
            plan_id INTEGER NOT NULL,
            sku VARCHAR NOT NULL,
            line VARCHAR NOT NULL,
            week DATE NOT NULL,
            production DOUBLE NOT NULL,
            PRIMARY KEY (plan_id, sku, line, week)
        );
        CREATE TABLE plan_stock (
            plan_id INTEGER NOT NULL,
            sku VARCHAR NOT NULL,
            week DATE NOT NULL,
            demand DOUBLE NOT NULL,
            inventory DOUBLE NOT NULL,
            unmet DOUBLE NOT NULL,
            PRIMARY KEY (plan_id, sku, week)
        );
        CREATE TABLE plan_lines (
            plan_id INTEGER NOT NULL,
            line VARCHAR NOT NULL,
            week DATE NOT NULL,
            hours DOUBLE NOT NULL,
            available_hours DOUBLE NOT NULL,
            overtime_hours DOUBLE NOT NULL,
            PRIMARY KEY (plan_id, line, week)
        );
        """,
    ),
)

MIGRATIONS += (
    Migration(
        5,
        "Demand review: consensus overrides with their history",
        """
        CREATE SEQUENCE override_ids START 1;
        CREATE TABLE consensus_overrides (
            override_id INTEGER PRIMARY KEY DEFAULT nextval('override_ids'),
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            author VARCHAR NOT NULL,
            level VARCHAR NOT NULL
                CHECK (level IN ('total', 'family', 'brand', 'channel', 'sku')),
            target VARCHAR,
            first_week DATE NOT NULL,
            last_week DATE NOT NULL CHECK (last_week >= first_week),
            mode VARCHAR NOT NULL CHECK (mode IN ('percent', 'units', 'set')),
            amount DOUBLE NOT NULL,
            reason VARCHAR NOT NULL CHECK (length(trim(reason)) > 0),
            run_id INTEGER,
            cycle DATE NOT NULL,
            units_before DOUBLE NOT NULL,
            units_after DOUBLE NOT NULL,
            undone_at TIMESTAMP,
            undone_by VARCHAR,
            undone_cycle DATE
        );
        """,
    ),
)

MIGRATIONS += (
    Migration(
        6,
        "Bring your own data: the import log",
        """
        CREATE SEQUENCE import_ids START 1;
        CREATE TABLE import_log (
            import_id INTEGER PRIMARY KEY DEFAULT nextval('import_ids'),
            imported_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            author VARCHAR NOT NULL,
            table_name VARCHAR NOT NULL,
            file_name VARCHAR NOT NULL,
            file_sha256 VARCHAR NOT NULL,
            rows_in_file BIGINT NOT NULL,
            rows_added BIGINT NOT NULL,
            rows_replaced BIGINT NOT NULL,
            products_created INTEGER NOT NULL DEFAULT 0,
            notices VARCHAR
        );
        """,
    ),
)

MIGRATIONS += (
    Migration(
        7,
        "Meeting cockpit: plans of record (frozen at approval) and the decisions log",
        """
        CREATE TABLE plans_of_record (
            plan_version INTEGER PRIMARY KEY,
            approved_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            approved_by VARCHAR NOT NULL,
            scenario VARCHAR NOT NULL,
            scenario_version INTEGER,
            definition VARCHAR NOT NULL,
            run_id INTEGER NOT NULL,
            history_end DATE NOT NULL,
            overrides VARCHAR NOT NULL,
            note VARCHAR,
            weeks INTEGER NOT NULL,
            volume DOUBLE NOT NULL,
            revenue DOUBLE NOT NULL,
            margin DOUBLE NOT NULL,
            unmet_units DOUBLE NOT NULL,
            overtime_hours DOUBLE NOT NULL,
            max_utilisation DOUBLE NOT NULL,
            content_sha256 VARCHAR NOT NULL
        );
        CREATE TABLE plan_of_record_targets (
            plan_version INTEGER NOT NULL,
            sku VARCHAR NOT NULL,
            week DATE NOT NULL,
            statistical DOUBLE NOT NULL,
            consensus DOUBLE NOT NULL,
            target DOUBLE NOT NULL,
            lower_80 DOUBLE NOT NULL,
            upper_80 DOUBLE NOT NULL,
            revenue DOUBLE NOT NULL,
            margin DOUBLE NOT NULL,
            PRIMARY KEY (plan_version, sku, week)
        );
        CREATE TABLE plan_of_record_production (
            plan_version INTEGER NOT NULL,
            sku VARCHAR NOT NULL,
            line VARCHAR NOT NULL,
            week DATE NOT NULL,
            production DOUBLE NOT NULL,
            PRIMARY KEY (plan_version, sku, line, week)
        );
        CREATE TABLE plan_of_record_capacity (
            plan_version INTEGER NOT NULL,
            line VARCHAR NOT NULL,
            week DATE NOT NULL,
            hours DOUBLE NOT NULL,
            available_hours DOUBLE NOT NULL,
            overtime_hours DOUBLE NOT NULL,
            PRIMARY KEY (plan_version, line, week)
        );
        CREATE SEQUENCE decision_ids START 1;
        CREATE TABLE decisions (
            decision_id INTEGER PRIMARY KEY DEFAULT nextval('decision_ids'),
            kind VARCHAR NOT NULL CHECK (kind IN ('decision', 'assumption')),
            text VARCHAR NOT NULL CHECK (length(trim(text)) > 0),
            owner VARCHAR NOT NULL,
            due_date DATE,
            scenario VARCHAR,
            status VARCHAR NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'dropped')),
            created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            created_by VARCHAR NOT NULL,
            updated_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            updated_by VARCHAR NOT NULL,
            version INTEGER NOT NULL DEFAULT 1
        );
        """,
    ),
)

MIGRATIONS += (
    Migration(
        8,
        "Forecast engine: the candidates that failed for a SKU, and why (fallbacks)",
        """
        ALTER TABLE forecast_models ADD COLUMN failed_models VARCHAR;
        ALTER TABLE forecast_models ADD COLUMN failure VARCHAR;
        """,
    ),
)

MIGRATIONS += (
    Migration(
        9,
        "Jobs: forecast refreshes, past-run backfills, production plans and meeting packs "
        "run as recorded jobs",
        """
        CREATE SEQUENCE job_ids START 1;
        CREATE TABLE jobs (
            job_id INTEGER PRIMARY KEY DEFAULT nextval('job_ids'),
            kind VARCHAR NOT NULL,
            parameters VARCHAR NOT NULL,
            started_by VARCHAR NOT NULL,
            state VARCHAR NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'running', 'done', 'failed')),
            progress DOUBLE NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
            message VARCHAR,
            started_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            finished_at TIMESTAMP,
            error VARCHAR,
            result VARCHAR,
            pid INTEGER,
            process_token VARCHAR,
            attempts INTEGER NOT NULL DEFAULT 0,
            active_key VARCHAR UNIQUE,
            CHECK ((state IN ('queued', 'running')) = (active_key IS NOT NULL))
        );
        """,
    ),
)

MIGRATIONS += (
    Migration(
        10,
        "Supply: a production plan records the scenario content it planned, so a page finds "
        "the plan it built for an unsaved draft",
        """
        ALTER TABLE production_plans ADD COLUMN scenario_fingerprint VARCHAR;
        """,
    ),
)

MIGRATIONS += (
    Migration(
        11,
        "Budget: units and revenue per fiscal month for a SKU, a family or the company total",
        """
        CREATE TABLE budget (
            month DATE NOT NULL CHECK (day(month) = 1),
            sku VARCHAR,
            family VARCHAR,
            units DOUBLE NOT NULL CHECK (units >= 0),
            revenue DOUBLE NOT NULL CHECK (revenue >= 0)
        );
        """,
    ),
)

MIGRATIONS += (
    Migration(
        12,
        "Who may change what: the users and their roles, and the audit trail of every write",
        """
        CREATE TABLE users (
            email VARCHAR PRIMARY KEY,
            name VARCHAR,
            role VARCHAR NOT NULL,
            active BOOLEAN NOT NULL DEFAULT true,
            added_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            added_by VARCHAR NOT NULL
        );
        CREATE SEQUENCE audit_ids START 1;
        CREATE TABLE audit_log (
            entry_id BIGINT PRIMARY KEY DEFAULT nextval('audit_ids'),
            changed_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
            who VARCHAR NOT NULL,
            action VARCHAR NOT NULL,
            object VARCHAR NOT NULL,
            scope VARCHAR,
            before VARCHAR,
            after VARCHAR
        );
        """,
    ),
)

SCHEMA_VERSION = MIGRATIONS[-1].version

# Tables that a company's own data fills (the import issue reads this list); the rest are
# settings, logs or the sample generator's own records.
INPUT_TABLES = (
    "products",
    "channels",
    "sales_history",
    "production_lines",
    "capacity_calendar",
    "production_actuals",
    "inventory",
    "promotions",
    "price_changes",
    "budget",
)


DATA_DICTIONARY: dict[str, tuple[str, dict[str, str]]] = {
    "schema_version": (
        "One row per applied migration; the highest version is the schema in use.",
        {
            "version": "Migration number, increasing.",
            "description": "What the migration added.",
            "applied_at": "When it was applied (UTC).",
        },
    ),
    "company_settings": (
        "Key/value facts about the company and the data set.",
        {
            "key": "Setting name, e.g. `company_name`, `currency`, `week_start`, "
            "`history_end`, `generated_by`, `fiscal_start_month` (the fiscal year's first "
            "month, `Jan` to `Dec`), `fiscal_pattern` (`calendar`, `4-4-5`, `4-5-4` or "
            "`5-4-4`) and `four_eyes` (`on`: a scenario's owner or last editor may not approve "
            "it as the plan of record).",
            "value": "Setting value as text.",
        },
    ),
    "channels": (
        "Sales channels the history and plans are split by.",
        {
            "channel": "Channel code, e.g. `retail`, `ecommerce`, `pharmacy`.",
            "name": "Display name.",
            "description": "What the channel covers.",
        },
    ),
    "production_lines": (
        "Filling and packing lines; their hours are the supply capacity.",
        {
            "line": "Line code, e.g. `N1`.",
            "plant": "Plant the line belongs to.",
            "name": "Display name.",
            "standard_hours_per_week": "Crewed hours in a normal week, before exceptions.",
            "oee": "Overall equipment effectiveness (0-1): share of crewed hours that produce "
            "at rated speed. Hours needed = units / units_per_hour / oee.",
            "changeover_hours": "Hours lost per batch changeover.",
        },
    ),
    "products": (
        "One row per SKU: master data, prices and production parameters.",
        {
            "sku": "Stock-keeping unit code.",
            "name": "Product name.",
            "family": "Product family (skincare, haircare, fragrance, makeup, body care).",
            "brand": "Brand.",
            "list_price": "Current list price per unit (currency of `company_settings`).",
            "unit_variable_cost": "Materials and direct labour per unit.",
            "setup_cost_per_batch": "Fixed cost of one production batch (changeover, "
            "cleaning, quality release); spread over the batch, so bigger batches cut unit cost.",
            "standard_batch_size": "Units in a standard batch.",
            "default_line": "Line the SKU is normally produced on (`production_lines.line`).",
            "units_per_hour": "Rated speed on the default line.",
            "launch_week": "First week on sale (Monday); empty when older than the history.",
            "status": "`active` or `delisted`.",
        },
    ),
    "sales_history": (
        "Weekly sell-in by SKU and channel: the demand history the forecast learns from.",
        {
            "week": "Week key: the Monday that starts the week.",
            "sku": "SKU (`products.sku`).",
            "channel": "Channel (`channels.channel`).",
            "units": "Units sold in the week (>= 0).",
            "net_price": "Average net price per unit actually paid, after any promotion discount.",
            "list_price": "List price per unit in force that week.",
            "discount_depth": "Promotion discount depth off the regular price (0-1); 0 when "
            "not on promotion.",
            "feature": "Feature support (flyer, homepage banner): 0/1, or the share of stores "
            "or distribution taking part (0-1).",
            "display": "In-store display support: 0/1, or the share of stores taking part (0-1).",
        },
    ),
    "capacity_calendar": (
        "Exceptions to a line's standard hours in given weeks: shutdowns, extra shifts.",
        {
            "week": "Week key (Monday).",
            "line": "Line (`production_lines.line`).",
            "hours_delta": "Hours added (positive, e.g. a Saturday shift) or removed "
            "(negative, e.g. a shutdown).",
            "reason": "Why, e.g. `Christmas shutdown`.",
        },
    ),
    "production_actuals": (
        "What each line produced, by week and SKU.",
        {
            "week": "Week key (Monday).",
            "line": "Line (`production_lines.line`).",
            "sku": "SKU (`products.sku`).",
            "units_produced": "Good units produced.",
            "batches": "Number of batches run.",
            "hours_used": "Line hours used, changeovers included.",
        },
    ),
    "inventory": (
        "Finished-goods units on hand at the end of each week.",
        {
            "week": "Week key (Monday) of the week whose closing stock this is.",
            "sku": "SKU (`products.sku`).",
            "units_on_hand": "Units on hand at the end of the week. In the sample company a "
            "shortfall is backordered and shipped from later production, so on-hand stock is "
            "never negative.",
        },
    ),
    "promotions": (
        "The promotions calendar, past and planned, one row per event and channel.",
        {
            "promotion_id": "Unique event id.",
            "name": "Event name as marketing calls it.",
            "sku": "Promoted SKU (`products.sku`).",
            "channel": "Channel it runs in; empty means every channel.",
            "start_week": "First promoted week (Monday).",
            "end_week": "Last promoted week (Monday), inclusive.",
            "discount_depth": "Discount off the regular price (0-1).",
            "feature": "Feature support (0-1, share of stores or distribution).",
            "display": "Display support (0-1, share of stores).",
            "status": "`past` (ended within the history) or `planned` (runs into the future).",
        },
    ),
    "price_changes": (
        "List price changes by SKU, past and announced.",
        {
            "sku": "SKU (`products.sku`).",
            "effective_week": "First week (Monday) at the new list price.",
            "previous_list_price": "List price before the change.",
            "list_price": "New list price.",
            "reason": "Why, e.g. `Annual price increase`.",
        },
    ),
    "sample_truth": (
        "The sample generator's true driver values, so estimators can be checked against the "
        "truth. Empty for a company's own data. Expected demand in week t for a SKU in channel "
        "c is `base_weekly_units x channel_share(c, t) x (1 + trend_per_year)^years x "
        "season(family, t) x holidays(family, t) x launch_ramp(t) x (net_price(c, t) / "
        "(reference_price x channel_price_factor(c)))^price_elasticity x "
        "exp(promo_depth_coefficient x discount_depth(c, t)) x (1 + feature_uplift x "
        "feature(c, t)) x (1 + display_uplift x display(c, t)) x (1 - post_promo_dip x "
        "min(1, previous_depth / 0.25))`, times lognormal noise with `noise_cv`; units are a "
        "Poisson draw of that. E-commerce's channel share grows over time; the launch ramp is "
        "`1 - exp(-weeks_since_launch / 6)` for new SKUs and 1 otherwise; intermittent SKUs "
        "have no season or holidays, and sell in a week with `demand_probability` (their "
        "expected demand is divided by it). Channel price factors: retail 1.00, e-commerce "
        "0.95, pharmacy 0.98.",
        {
            "sku": "SKU (`products.sku`).",
            "pattern": "`regular`, `new` (launched inside the history) or `intermittent`.",
            "base_weekly_units": "Underlying weekly units over all channels at the start of "
            "the history, before season and promotions.",
            "reference_price": "List price at the start of the history: the price the price "
            "effect is measured against.",
            "trend_per_year": "Growth per year (0.05 = +5% a year).",
            "price_elasticity": "Elasticity of units to the net price (negative).",
            "promo_depth_coefficient": "Extra log-uplift per unit of discount depth, on top "
            "of the price response (promotion salience).",
            "promo_uplift_per_10pct_discount": "Total uplift of a 10% discount without feature "
            "or display: 0.9^price_elasticity x exp(0.1 x promo_depth_coefficient) - 1.",
            "feature_uplift": "Uplift at full feature support (1.0 = +100%).",
            "display_uplift": "Uplift at full display support.",
            "post_promo_dip": "Share of baseline lost in the week after a promotion of 25% "
            "depth or more (scaled down for shallower ones).",
            "noise_cv": "Coefficient of variation of the weekly noise.",
            "demand_probability": "Probability that a week has any demand (1 for regular "
            "SKUs; below 1 for intermittent ones).",
        },
    ),
}


DATA_DICTIONARY.update(
    {
        "forecast_runs": (
            "One row per forecast refresh. Runs are kept: accuracy by forecast lag is measured "
            "from them.",
            {
                "run_id": "Run number, increasing.",
                "created_at": "When the run was made (UTC).",
                "fingerprint": "Hash of the history and parameters; a refresh on the same data "
                "and parameters reuses the run instead of refitting.",
                "parameters": "The forecast settings as JSON.",
                "horizon": "Weeks forecast after the history.",
                "history_end": "Last history week (Monday) the run learnt from.",
                "first_week": "First forecast week (Monday).",
                "skus": "SKUs forecast.",
                "skus_refit": "SKUs whose models were fitted in this run; the others were "
                "unchanged and taken from the run in `reused_from`.",
                "reused_from": "Run the unchanged SKUs were taken from (empty: none).",
                "jobs": "Worker processes used.",
                "seconds_total": "Wall time of the refresh.",
                "seconds_models": "Wall time of the model fits and backtests.",
            },
        ),
        "forecast_rows": (
            "The statistical forecast of a run by SKU and week: the promotions already in the "
            "calendar included, prices at today's regular level. Totals by family, brand or "
            "channel are sums of these rows.",
            {
                "run_id": "Run (`forecast_runs.run_id`).",
                "sku": "SKU.",
                "week": "Forecast week (Monday).",
                "forecast": "Expected units (never negative).",
                "lower_80": "Lower bound of the 80% band.",
                "upper_80": "Upper bound of the 80% band.",
                "lower_95": "Lower bound of the 95% band.",
                "upper_95": "Upper bound of the 95% band.",
                "model": "Model that served the SKU (as in `forecast_models.model`).",
            },
        ),
        "forecast_models": (
            "Which method served each SKU in a run, and why.",
            {
                "run_id": "Run.",
                "sku": "SKU.",
                "series_type": "`regular`, `new` (short history), `intermittent`, `zero` or "
                "`flat`.",
                "model": "`prophet`, `theta`, `ets`, `seasonal_naive_adjusted`, `gbm`, `median`, "
                "`combination` (the backtest-weighted mean of the candidates within noise of the "
                "best), `seasonal_naive`, `croston_sba`, `family_share`, `recent_mean`, `zero` or "
                "`flat`.",
                "reason": "Why this method: the backtest result or the kind of series.",
                "fingerprint": "Hash of the SKU's history and the parameters.",
                "history_weeks": "Weeks of history the SKU has.",
                "refit": "True when fitted in this run, false when taken from an earlier run.",
                "failed_models": "Candidates that failed for this SKU in the final fit, comma "
                "separated (empty: none failed); `model` says what served instead.",
                "failure": "The failures' errors, one per failed candidate.",
            },
        ),
        "forecast_channel_shares": (
            "How a run splits each SKU's forecast over channels (recent channel shares).",
            {
                "run_id": "Run.",
                "sku": "SKU.",
                "channel": "Channel.",
                "share": "Share of the SKU's units (0-1); a SKU's shares add up to 1.",
            },
        ),
        "driver_effects": (
            "Promotion and price effects per SKU, estimated from the history by the Prophet "
            "fit, then shrunk towards the family where a SKU's own estimate is uncertain. All "
            "are effects on log units: `price_elasticity` is d log(units) / d log(net/list "
            "price); `promo_depth` per unit of discount depth on top of the price effect; "
            "`promo_10pct` the whole effect of a 10% discount (price and promotion together); "
            "`feature`, `display` at full support; `post_promotion` per unit of the previous "
            "week's discount depth. Each is shrunk on its own, so `promo_depth` need not equal "
            "(`promo_10pct` - `price_elasticity` x ln 0.9) / 0.1: scenarios and targets take "
            "the discount's effect from `promo_10pct` (what the `drivers` command reports) "
            "and derive the depth term that way.",
            {
                "run_id": "Run.",
                "sku": "SKU.",
                "driver": "`price_elasticity`, `promo_depth`, `promo_10pct`, `feature`, "
                "`display` or `post_promotion`.",
                "estimate": "The effect used for planning (after shrinkage); empty when the "
                "data cannot tell.",
                "standard_error": "Its standard error.",
                "raw_estimate": "The SKU's own estimate before shrinkage.",
                "raw_standard_error": "Its standard error.",
                "source": "`sku` (own history), `sku+family` (shrunk), `family` (the SKU's "
                "driver never varied: the family's value) or `unknown`.",
            },
        ),
        "backtest_results": (
            "Rolling-origin backtest sums per SKU, model and horizon (several origins); the "
            "WAPE, bias and MASE are ratios of these sums.",
            {
                "run_id": "Run.",
                "sku": "SKU.",
                "model": "A candidate (`prophet`, `theta`, `ets`, `seasonal_naive_adjusted`, "
                "`gbm`, `median`), the benchmark `seasonal_naive`, or `selected` (what served).",
                "horizon": "Forecast horizon in weeks (13 or 26).",
                "origins": "Number of forecast origins.",
                "weeks": "Number of forecast weeks compared with actuals.",
                "actual_sum": "Sum of actual units.",
                "abs_error_sum": "Sum of absolute errors (WAPE = this / actual_sum).",
                "error_sum": "Sum of errors, forecast minus actual (bias = this / actual_sum).",
                "scaled_abs_error_sum": "Sum of absolute errors each divided by the origin's "
                "seasonal-naive scale (MASE = this / scaled_weeks).",
                "scaled_weeks": "Forecast weeks of origins whose history gives a scale.",
            },
        ),
    }
)


DATA_DICTIONARY["scenarios"] = (
    "Saved what-if scenarios. Two people editing the same scenario never overwrite each "
    "other: a save names the version it started from and fails with a message if someone "
    "saved in between.",
    {
        "scenario_id": "Scenario number.",
        "name": "Unique name, e.g. `Q1 skincare push`.",
        "owner": "Who created it.",
        "status": "`draft`, `proposed` or `approved`.",
        "based_on_run": "Forecast run (`forecast_runs.run_id`) its baseline came from when last "
        "saved.",
        "definition": "The levers, effect overrides and cannibalisation rate, as JSON.",
        "version": "Increases by one at every save.",
        "created_at": "When it was created (UTC).",
        "updated_at": "When it was last saved (UTC).",
        "updated_by": "Who saved it last.",
    },
)


DATA_DICTIONARY.update(
    {
        "product_lines": (
            "Lines other than the default on which a SKU can be made (alternates).",
            {
                "sku": "SKU (`products.sku`).",
                "line": "Alternate line (`production_lines.line`).",
                "units_per_hour": "Rated speed of the SKU on that line.",
                "preference": "1 is the default line; higher numbers are used when needed.",
            },
        ),
        "production_plans": (
            "Capacity-constrained production plans (linear programs) and their summary.",
            {
                "plan_id": "Plan number.",
                "created_at": "When it was made (UTC).",
                "scenario": "Scenario whose revised targets it plans (empty: the baseline).",
                "run_id": "Forecast run the targets come from.",
                "horizon": "Weeks planned.",
                "status": "Solver status, e.g. `optimal`.",
                "total_cost": "Production, holding, overtime and shortfall costs.",
                "unmet_units": "Demand the plan cannot meet.",
                "overtime_hours": "Overtime hours used.",
                "max_utilisation": "Peak planned load: the highest line-week of the plan's hours "
                "(overtime included) over the available hours, over the weeks planned.",
                "seconds": "Time to build and solve.",
                "parameters": "Cost parameters as JSON.",
                "scenario_fingerprint": "Hash of the scenario's levers, effect overrides, "
                "cannibalisation and capacity changes as planned (saved or an unsaved draft): "
                "the Supply page shows the newest plan of the scenario it is showing. Empty "
                "for plans made before schema 10.",
            },
        ),
        "plan_rows": (
            "Production targets of a plan by SKU, line and week (non-zero rows only).",
            {
                "plan_id": "Plan.",
                "sku": "SKU.",
                "line": "Line.",
                "week": "Week (Monday).",
                "production": "Units to produce.",
            },
        ),
        "plan_stock": (
            "Revised target, projected stock and unmet demand of a plan by SKU and week.",
            {
                "plan_id": "Plan.",
                "sku": "SKU.",
                "week": "Week (Monday).",
                "demand": "Revised target planned for.",
                "inventory": "Projected stock at the end of the week.",
                "unmet": "Demand not met that week (lost).",
            },
        ),
        "plan_lines": (
            "Line hours of a plan by line and week.",
            {
                "plan_id": "Plan.",
                "line": "Line.",
                "week": "Week (Monday).",
                "hours": "Hours the plan uses, changeovers not included.",
                "available_hours": "Standard hours plus the calendar and the scenario's "
                "capacity changes.",
                "overtime_hours": "Hours beyond the available ones (overtime).",
            },
        ),
        "consensus_overrides": (
            "The team's changes to the statistical forecast (consensus = statistical + "
            "overrides, applied in the order they were made). An override on a family, brand, "
            "channel or the total is spread down to SKUs and channels in proportion to the "
            "statistical forecast. Undo marks a row undone; nothing is deleted.",
            {
                "override_id": "Override number, in the order they were made.",
                "created_at": "When it was made (UTC).",
                "author": "Who made it.",
                "level": "Scope: `total`, `family`, `brand`, `channel` or `sku`.",
                "target": "The family, brand, channel or SKU (empty for the total).",
                "first_week": "First week it changes (Monday).",
                "last_week": "Last week it changes (Monday).",
                "mode": "`percent` (change by `amount` %), `units` (add `amount` units per "
                "week, negative to take away) or `set` (make the scope `amount` units per week).",
                "amount": "The change, in the unit `mode` says.",
                "reason": "Why (required).",
                "run_id": "Forecast run it was made on.",
                "cycle": "History end of that run: the planning cycle it belongs to.",
                "units_before": "The scope's consensus over its weeks just before.",
                "units_after": "The scope's consensus over its weeks just after.",
                "undone_at": "When it was undone (empty: in force).",
                "undone_by": "Who undid it.",
                "undone_cycle": "The planning cycle it was undone in.",
            },
        ),
        "import_log": (
            "Every import that landed: who, when, which file (name and SHA-256), rows added and "
            "replaced. Imports with errors write nothing, here or anywhere.",
            {
                "import_id": "Import number.",
                "imported_at": "When it landed (UTC).",
                "author": "Who imported it.",
                "table_name": "Table it filled.",
                "file_name": "File name as given.",
                "file_sha256": "SHA-256 of the file's bytes.",
                "rows_in_file": "Data rows in the file.",
                "rows_added": "Rows new to the table.",
                "rows_replaced": "Rows that replaced rows with the same key.",
                "products_created": "SKUs created from a sales file.",
                "notices": "Warnings and notices of the import, one per line.",
            },
        ),
        "plans_of_record": (
            "Each approved plan of record: a frozen, versioned snapshot of a scenario's targets "
            "and its production plan. Never changed once written; a new approval is a new "
            "version and the earlier ones stay.",
            {
                "plan_version": "Version, 1 for the first approval, then 2, 3, ...",
                "approved_at": "When it was approved (UTC).",
                "approved_by": "Who approved it.",
                "scenario": "Scenario approved (`Baseline` for no levers).",
                "scenario_version": "The scenario's saved version that was approved.",
                "definition": "The scenario's levers, overrides and capacity changes (JSON).",
                "run_id": "Forecast run the targets come from.",
                "history_end": "Last week of history behind that forecast.",
                "overrides": "Consensus overrides in force at approval (their numbers, JSON).",
                "note": "The approver's note.",
                "weeks": "Weeks frozen.",
                "volume": "Target units over those weeks.",
                "revenue": "Target revenue over those weeks.",
                "margin": "Target gross margin over those weeks.",
                "unmet_units": "Demand the production plan could not meet.",
                "overtime_hours": "Overtime hours the production plan uses.",
                "max_utilisation": "Peak planned load: the highest line-week of the production "
                "plan's hours (overtime included) over the available hours, over the weeks "
                "frozen.",
                "content_sha256": "SHA-256 of the frozen rows: proves the snapshot unchanged.",
            },
        ),
        "plan_of_record_targets": (
            "Revised targets of a plan of record by SKU and week.",
            {
                "plan_version": "Plan of record.",
                "sku": "SKU.",
                "week": "Week (Monday).",
                "statistical": "Statistical forecast.",
                "consensus": "Consensus (statistical + overrides).",
                "target": "Revised target (the consensus with the scenario's levers).",
                "lower_80": "Lower bound of the target's 80% band.",
                "upper_80": "Upper bound of the target's 80% band.",
                "revenue": "Target revenue.",
                "margin": "Target gross margin.",
            },
        ),
        "plan_of_record_production": (
            "Production targets of a plan of record by SKU, line and week (non-zero rows).",
            {
                "plan_version": "Plan of record.",
                "sku": "SKU.",
                "line": "Line.",
                "week": "Week (Monday).",
                "production": "Units to produce.",
            },
        ),
        "plan_of_record_capacity": (
            "Planned hours of a plan of record by line and week (its planned load: hours over "
            "available hours).",
            {
                "plan_version": "Plan of record.",
                "line": "Line.",
                "week": "Week (Monday).",
                "hours": "Hours the production plan uses.",
                "available_hours": "Available hours (the scenario's capacity changes included).",
                "overtime_hours": "Overtime hours.",
            },
        ),
        "decisions": (
            "The meeting's decisions (with owner and due date) and the assumptions behind a "
            "scenario (with owner and expiry date).",
            {
                "decision_id": "Number.",
                "kind": "`decision` or `assumption`.",
                "text": "What was decided or assumed.",
                "owner": "Who owns it.",
                "due_date": "Due date of a decision; expiry date of an assumption.",
                "scenario": "Scenario an assumption belongs to (empty: none).",
                "status": "`open`, `done` or `dropped`.",
                "created_at": "When it was recorded (UTC).",
                "created_by": "Who recorded it.",
                "updated_at": "Last change (UTC).",
                "updated_by": "Who changed it last.",
                "version": "Increases with every change (a stale edit is refused).",
            },
        ),
    }
)


DATA_DICTIONARY["jobs"] = (
    "Long work (a forecast refresh, past forecasts, a production plan, a meeting pack) run as "
    "a job in its own process: it outlives the browser tab and the app that started it, and "
    "one that was interrupted is resumed from what it had stored.",
    {
        "job_id": "Job number, increasing.",
        "kind": "`refresh`, `backfill`, `plan` or `pack`.",
        "parameters": "What the job does, as JSON (sorted keys): the same kind and "
        "parameters are one job while it is queued or running.",
        "started_by": "Who started it.",
        "state": "`queued`, `running`, `done` or `failed`.",
        "progress": "Share done, 0 to 1, as last stored (a running job's live progress is in "
        "a small file next to the database).",
        "message": "What it was doing last, or what it made.",
        "started_at": "When it was started (UTC).",
        "finished_at": "When it ended (empty: not yet).",
        "error": "Why it failed (empty: it did not).",
        "result": "What it made, as JSON (run numbers, a plan number, files).",
        "pid": "Process running it (empty: none yet).",
        "process_token": "That process's start time, so a reused process number is not "
        "taken for it.",
        "attempts": "Times a process took it up (more than 1: it was resumed).",
        "active_key": "Kind and parameters while queued or running, empty afterwards: unique, "
        "so two people pressing the same button start one job.",
    },
)

DATA_DICTIONARY["budget"] = (
    "The budget finance set for each fiscal month: units and revenue for a SKU, a family or "
    "the company total (one level per row; the Overview compares the plan with it).",
    {
        "month": "The fiscal month, as the first day of the calendar month it stands for "
        "(2026-11-01 is Nov 2026, whatever the fiscal calendar's weeks). A file may write "
        "`2026-11`, `2026-11-01` or `Nov 2026`.",
        "sku": "SKU (`products.sku`) of a SKU-level row; empty for a family or total row.",
        "family": "Product family of a family-level row (`products.family`); filled with the "
        "SKU's family on a SKU row; empty on a company-total row.",
        "units": "Budgeted units sold in the month (>= 0).",
        "revenue": "Budgeted revenue in the month (>= 0, currency of `company_settings`). The "
        "budget's margin is this revenue less its units x the average unit cost of the row's "
        "SKUs (variable cost plus setup spread over the standard batch, as the plan's margin; "
        "weighted by their last 52 weeks' units).",
    },
)

DATA_DICTIONARY["users"] = (
    "Who may change what (`sop_core/data/access.py`). While it is empty the product runs in "
    "single-team mode (everyone may change everything); the first user is an admin.",
    {
        "email": "The person's sign-in email, their identity (matched whatever its case).",
        "name": "Their name as shown on what they change.",
        "role": "Their roles, comma-separated: viewer, marketing, demand_planner, operations, "
        "sop_lead, admin.",
        "active": "False once deactivated: a deactivated user may change nothing.",
        "added_at": "When the user was added.",
        "added_by": "Who added them.",
    },
)
DATA_DICTIONARY["audit_log"] = (
    "Every write, appended in the transaction of the write it records; nothing in the product "
    "edits or deletes a row.",
    {
        "entry_id": "Number of the entry, in the order written.",
        "changed_at": "When the write was made (`at` in `audit --json`).",
        "who": "Who made it (the signed-in user, or the CLI's `--as`).",
        "action": "What was done, e.g. `users add`, `users set-role`.",
        "object": "What it was done to, e.g. a user's email or a scenario's name.",
        "scope": "Where it applies (a SKU, a family, weeks), when that says more than the object.",
        "before": "The values before the write, as JSON (empty for something new).",
        "after": "The values after it, as JSON (empty for something removed).",
    },
)


def is_ours(con: duckdb.DuckDBPyConnection) -> bool:
    """True when the database was made by this product: it has our ``schema_version`` table
    (its columns, and the row of the first migration). Another program's database, even one
    with a ``schema_version`` table of its own, is not."""
    # One query (it runs at every open): our table, our columns, our first migration.
    try:
        first = con.execute(
            "SELECT count(*) FROM main.schema_version "
            "WHERE version = 1 AND description IS NOT NULL AND applied_at IS NOT NULL"
        ).fetchall()[0][0]  # fetchall: a half-read result would block register() on this open
    except (duckdb.CatalogException, duckdb.BinderException):
        return False
    return bool(first)


def is_empty(con: duckdb.DuckDBPyConnection) -> bool:
    """True when the database holds no table, view or sequence of anyone's."""
    return not con.execute(
        "SELECT (SELECT count(*) FROM duckdb_tables() WHERE NOT internal "
        "AND database_name = current_database()) "
        "+ (SELECT count(*) FROM duckdb_views() WHERE NOT internal "
        "AND database_name = current_database()) "
        "+ (SELECT count(*) FROM duckdb_sequences() WHERE database_name = current_database())"
    ).fetchall()[0][0]


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """Return the schema version of the database (0 for an empty one)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'main' AND table_name = 'schema_version'"
    ).fetchone()[0]
    if not exists:
        return 0
    version = con.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    return int(version or 0)


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply every migration newer than the database, each in its own transaction.

    Returns the versions applied. A database newer than this code raises ``SchemaError``.
    """
    from sop_core.data.errors import SchemaError

    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        "version INTEGER PRIMARY KEY, description VARCHAR NOT NULL, "
        "applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
    )
    have = current_version(con)
    if have > SCHEMA_VERSION:
        raise SchemaError(
            f"This database has schema version {have}, newer than this program knows "
            f"({SCHEMA_VERSION}). Update the dashboard before opening it."
        )
    applied = []
    for migration in MIGRATIONS:
        if migration.version <= have:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(migration.sql)
            con.execute(
                "INSERT INTO schema_version (version, description) VALUES (?, ?)",
                [migration.version, migration.description],
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        applied.append(migration.version)
    return applied


def table_columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Return the live schema as ``{table: [column, ...]}`` in column order."""
    rows = con.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"
    ).fetchall()
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        tables.setdefault(table, []).append(column)
    return tables


def dictionary_markdown() -> str:
    """Render ``DATA_DICTIONARY`` as the Markdown of ``docs/DATA_DICTIONARY.md``."""
    lines = [
        "# Data dictionary",
        "",
        "Generated by `python -m sop_core dictionary` from `sop_core/data/schema.py`; do not edit "
        "by hand. Every weekly table keys its rows by the Monday that starts the week.",
        f"Schema version: {SCHEMA_VERSION}.",
        "",
    ]
    for table, (description, columns) in DATA_DICTIONARY.items():
        lines += [f"## `{table}`", "", description, "", "| column | meaning |", "|---|---|"]
        lines += [f"| `{name}` | {text} |" for name, text in columns.items()]
        lines.append("")
    return "\n".join(lines)
