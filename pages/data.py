"""Data: what is in the database, bringing your own data in, and taking any table out; the
company's settings, who may change what (users and their roles) and the audit trail."""

from __future__ import annotations

import datetime as dt
import functools

import pandas as pd
import streamlit as st

from sop_core.data import access, company, importer, schema
from sop_core.data.errors import SopError
from sop_core.data.export import export_bytes
from sop_core.data.fiscal import MONTH_NAMES, PATTERNS, FiscalCalendar
from sop_ui import columns, identity, loaders, periods, shell, widgets
from sop_ui.formatting import compact_json, plain

shell.require_shell()
facts = loaders.facts()
path = loaders.database_path()

st.title("Data")
st.caption(f"Database: `{path}`")

counts = loaders.table_row_counts()
first, last = facts.history_first_week, facts.history_last_week
sales_rows = int(counts.set_index("table").loc["sales_history", "rows"])
widgets.kpi_row(
    [
        widgets.Kpi("Tables", f"{len(counts)}"),
        widgets.Kpi("Weekly sales rows", f"{sales_rows:,}"),
        widgets.Kpi(
            "History",
            f"{facts.history_weeks} weeks",
            note=f"{first:%d %b %Y} to {last:%d %b %Y}" if first else None,
        ),
        widgets.Kpi(
            "Schema version",
            f"{facts.schema_version}",
            note=f"{path.stat().st_size / 1e6:,.1f} MB on disk" if path.exists() else None,
        ),
    ]
)

# --- Import -----------------------------------------------------------------------------------
st.subheader("Import your own data")
AUTOMATIC = "(automatic)"
pick, check = st.columns([2, 3])
with pick:
    table = st.selectbox(
        "Into table",
        importer.input_tables(),
        key="import_table",
        format_func=lambda t: t.replace("_", " ").capitalize(),
    )
    spec = importer.SPECS[table]
    needed = ", ".join(c.name for c in spec.columns if c.required)
    optional = ", ".join(c.name for c in spec.columns if not c.required)
    st.caption(
        f"Needs **{needed}**"
        + (f"; may have {optional}" if optional else "")
        + ". Rows with the same "
        f"{' + '.join(spec.key)} as rows already there replace them."
    )
    attempt = st.session_state.get("import_attempt", 0)
    import_refused = identity.may("import")
    upload = None
    if not import_refused:
        upload = st.file_uploader(
            "File (CSV, Excel or Parquet)",
            type=["csv", "txt", "tsv", "xlsx", "parquet"],
            key=f"import_upload_{attempt}",
        )
if "import_done" in st.session_state:
    check.success(st.session_state.pop("import_done"), icon=":material/check_circle:")
with check:
    if import_refused:
        st.info(plain(import_refused), icon=":material/lock:")
    elif upload is None:
        st.info(
            "Choose the table and a file. Nothing is written until you have seen the check "
            "and confirmed; a file with any error writes nothing at all.",
            icon=":material/upload_file:",
        )
    else:
        source = loaders.uploaded_file(upload)
        mapping = {
            column.name: st.session_state[f"map_{table}_{column.name}"]
            for column in spec.columns
            if st.session_state.get(f"map_{table}_{column.name}", AUTOMATIC) != AUTOMATIC
        }
        report = loaders.check_import(table, source, upload.name, mapping)
        file_columns = report.file_columns
        if file_columns:
            with st.expander("Column mapping", expanded=not report.ok):
                grid = st.columns(3)
                for index, column in enumerate(spec.columns):
                    choices = [AUTOMATIC, *file_columns]
                    grid[index % 3].selectbox(
                        column.name + (" (required)" if column.required else ""),
                        choices,
                        key=f"map_{table}_{column.name}",
                        help=f"Found: {plain(report.columns.get(column.name, 'nothing'))}",
                    )
        widgets.show_issues(report)
        if report.preview is not None:
            st.caption(
                f"The first rows as they will be stored ({report.rows_in_file:,} in the file):"
            )
            widgets.table(report.preview)
        if report.ok and st.button(
            f"Import {report.rows_to_write:,} rows into {table.replace('_', ' ')}",
            type="primary",
            key="import_confirm",
            icon=":material/publish:",
        ):
            try:
                with widgets.progress_bar("Importing") as progress:
                    done = importer.import_file(
                        path,
                        table,
                        source,
                        file_name=upload.name,
                        mapping=mapping,
                        author=identity.who(),
                        progress=progress,
                    )
            except SopError as error:  # refused, or the database busy: nothing was written
                st.error(plain(error), icon=":material/error:")
            else:
                if done.written:
                    st.session_state["import_done"] = plain(done.summary())
                    st.session_state["import_attempt"] = attempt + 1  # a fresh uploader
                    st.rerun()
                st.error(
                    plain(done.summary())
                    + "\n\n"
                    + "\n".join(f"- {plain(i.text())}" for i in done.errors)
                )

log = loaders.import_log()
if not log.empty:
    st.markdown("**Imports so far**")
    widgets.table(
        log,
        import_id=columns.number("No."),
        imported_at=columns.moment("When"),
        author=columns.text("Who"),
        table_name=columns.text("Table"),
        file_name=columns.text("File"),
        rows_in_file=columns.units("Rows in file"),
        rows_added=columns.units("Added"),
        rows_replaced=columns.units("Replaced"),
        products_created=columns.units("New products"),
        sha256=columns.text("SHA-256"),
    )

# --- Export -----------------------------------------------------------------------------------
st.subheader("Fiscal calendar")
calendar = loaders.fiscal_calendar()
st.caption(
    f"{calendar.describe()}. Months and quarters on every page (the sidebar's *Figures by*), "
    "in exports, targets and the pack follow it; budgets are given per fiscal month."
)
if settings_refused := identity.may("settings"):
    st.caption(plain(settings_refused))
else:
    with st.form("fiscal_calendar", border=True):
        start_col, pattern_col = st.columns(2)
        start = start_col.selectbox(
            "First month of the fiscal year",
            list(range(1, 13)),
            index=calendar.start_month - 1,
            format_func=lambda m: MONTH_NAMES[m - 1],
        )
        pattern = pattern_col.radio(
            "Months",
            list(PATTERNS),
            index=list(PATTERNS).index(calendar.pattern),
            format_func=lambda p: "Calendar months" if p == "calendar" else f"{'-'.join(p)} weeks",
            horizontal=True,
            help="Calendar months split a week by its days; 4-4-5 (and 4-5-4, 5-4-4) make months "
            "of whole weeks, with a 53rd week in the last month of the years that have one.",
        )
        if st.form_submit_button("Save the fiscal calendar", icon=":material/save:"):
            chosen = FiscalCalendar(start, pattern)
            try:
                company.save_fiscal_calendar(path, chosen, identity.who())
            except SopError as error:
                st.error(plain(error), icon=":material/error:")
            else:
                st.success(f"Saved: {chosen.describe()}.", icon=":material/check_circle:")
year = calendar.year_of(facts.history_last_week or dt.date.today())
widgets.table(
    pd.DataFrame(
        [
            {
                "month": calendar.month_label(m.year, m.month),
                "quarter": f"Q{m.quarter}",
                "first_day": m.start,
                "last_day": m.end - dt.timedelta(days=1),
                "days": (m.end - m.start).days,
            }
            for m in calendar.months(year)
        ]
    ),
    fit=True,
    month=columns.text(f"Month of {calendar.year_label(year)}"),
    quarter=columns.text("Quarter"),
    first_day=columns.date("First day"),
    last_day=columns.date("Last day"),
    days=columns.number("Days"),
)


def schema_has_week(table: str) -> bool:
    return "week" in (schema.DATA_DICTIONARY.get(table) or ("", {}))[1]


st.subheader("Export")
what, kind, get = st.columns([3, 2, 2], vertical_alignment="bottom")
with what:
    tables = counts["table"].tolist()
    chosen = st.selectbox("Table", tables, index=tables.index("sales_history"), key="export_table")
with kind:
    fmt = st.segmented_control(
        "Format",
        ["csv", "xlsx", "parquet"],
        default="csv",
        required=True,
        key="export_format",
        format_func={"csv": "CSV", "xlsx": "Excel", "parquet": "Parquet"}.get,
    )
with get:
    # A weekly table comes out per month or quarter when the sidebar says so.
    by = "" if periods.weekly() or not schema_has_week(chosen) else f"-by-{periods.bucket()}"
    st.download_button(
        f"Download {chosen}{by}.{fmt}",
        data=functools.partial(
            export_bytes,
            str(path),
            chosen,
            fmt,
            author=identity.who(),
            bucket=periods.bucket(),
        ),
        file_name=f"{chosen}{by}.{fmt}",
        on_click="ignore",
        icon=":material/download:",
        key="export_download",
    )
st.caption(
    "Text a spreadsheet would run as a formula (starting with =, +, -, @) is written with a "
    "leading apostrophe in CSV and Excel files. An Excel file stores numbers as numbers with "
    "their formats and ends with a cover sheet (who made it, when, from which forecast run "
    "and plan of record); `python -m sop_core export --table all --out FILE.xlsx` writes "
    "every table into one workbook."
)

# --- What is there ---------------------------------------------------------------------------
left, right = st.columns([2, 3])
with left:
    st.subheader("Rows per table")
    widgets.table(
        counts,
        fit=True,
        table=columns.text("Table"),
        rows=columns.units("Rows"),
    )
with right:
    st.subheader("Data dictionary")
    for table, (description, fields) in schema.DATA_DICTIONARY.items():
        with st.expander(f"`{table}`"):
            st.markdown(description)
            st.markdown("\n".join(f"- `{name}`: {text}" for name, text in fields.items()))

# --- Users: who may change what ----------------------------------------------------------------
st.subheader("Users")
people = loaders.users_table()
single_team = loaders.single_team()
if single_team:
    st.info(
        "Single-team mode: no users are set up, so everyone may change everything. Add the "
        "first user below: it must be an admin (the admin then adds the others). From then on "
        "every change is checked against the roles of the person making it.",
        icon=":material/group:",
    )
else:
    widgets.table(
        people.assign(
            role=people["role"].map(
                lambda held: ", ".join(access.ROLE_NAMES.get(r, r) for r in held.split(","))
            )
        )[["email", "name", "role", "active", "added_at", "added_by"]],
        fit=len(people) <= 12,
        email=columns.text("Email"),
        name=columns.text("Name"),
        role=columns.text("Roles"),
        active=st.column_config.CheckboxColumn("Active"),
        added_at=columns.moment("Added"),
        added_by=columns.text("Added by"),
    )
st.caption(
    " · ".join(f"**{access.ROLE_NAMES[name]}**: {what}" for name, what in access.ROLES.items())
)


def role_label(role: str) -> str:
    return f"{access.ROLE_NAMES[role]}: {access.ROLES[role]}"


if "users_done" in st.session_state:
    st.success(plain(st.session_state.pop("users_done")), icon=":material/check_circle:")
if users_refused := identity.may("users"):
    st.caption(plain(users_refused))
else:
    add_col, change_col = st.columns(2, gap="large")
    with add_col.form("add_user", border=True, clear_on_submit=True):
        st.markdown("**Add a user**" + (" (the first: an admin)" if single_team else ""))
        new_email = st.text_input("Email", key="user_email", max_chars=120)
        new_name = st.text_input("Name", key="user_name", max_chars=80)
        new_roles = st.multiselect(
            "Roles",
            list(access.ROLES),
            default=["admin"] if single_team else ["viewer"],
            format_func=role_label,
            key="user_roles",
        )
        if st.form_submit_button("Add the user", type="primary", icon=":material/person_add:"):
            try:
                access.add_user(path, new_email, new_roles, identity.who(), name=new_name)
            except SopError as error:
                st.error(plain(error), icon=":material/error:")
            else:
                st.session_state["users_done"] = (
                    f"{new_email.strip()} added as {', '.join(new_roles)}."
                )
                st.rerun()
    active = people[people["active"]]
    if not active.empty:
        with change_col.form("change_user", border=True):
            st.markdown("**Change a user's roles, or deactivate them**")
            email = st.selectbox("User", active["email"].tolist(), key="change_email")
            roles = st.multiselect(
                "New roles", list(access.ROLES), format_func=role_label, key="change_roles"
            )
            set_col, off_col = st.columns(2)
            set_roles = set_col.form_submit_button("Set the roles", icon=":material/badge:")
            deactivate = off_col.form_submit_button(
                "Deactivate", icon=":material/person_off:", help="They keep their history."
            )
            try:
                if set_roles:
                    access.set_roles(path, email, roles, identity.who())
                    st.session_state["users_done"] = f"{email} now: {', '.join(roles)}."
                if deactivate:
                    access.deactivate(path, email, identity.who())
                    st.session_state["users_done"] = f"{email} deactivated."
            except SopError as error:
                st.error(plain(error), icon=":material/error:")
            else:
                if set_roles or deactivate:
                    st.rerun()

four_eyes = loaders.four_eyes()
wanted = st.checkbox(
    "Approval needs someone other than the scenario's author",
    value=four_eyes,
    key=f"four_eyes_{four_eyes}",  # a new box once the setting changed
    **(
        identity.disabled("settings")
        or {
            "help": "Four eyes: the S&OP lead who approves a plan of record may not be the "
            "author of its scenario."
        }
    ),
)
if wanted != four_eyes:
    try:
        company.set_four_eyes(path, wanted, identity.who())
    except SopError as error:
        st.error(plain(error), icon=":material/error:")
    else:
        st.rerun()

# --- Audit trail ---------------------------------------------------------------------------
st.subheader("Audit trail")
st.caption(
    "Every change, who made it and when (UTC), on what, and the values before and after; "
    "rows are only ever added. `python -m sop_core audit` prints the same."
)
everything = loaders.audit_entries()
since_col, who_col = st.columns(2)
since = since_col.date_input("Since", value=None, key="audit_since", format="YYYY-MM-DD")
who = who_col.selectbox(
    "Who",
    sorted(set(everything["who"].dropna())),
    index=None,
    placeholder="Everyone",
    key="audit_who",
)
trail = loaders.audit_entries(since, who) if since or who else everything
if trail.empty:
    st.caption("Nothing recorded" + (" for this choice." if since or who else " yet."))
else:
    widgets.table(
        trail.assign(
            before=trail["before"].map(compact_json, na_action="ignore"),
            after=trail["after"].map(compact_json, na_action="ignore"),
        ),
        changed_at=columns.moment("At"),
        who=columns.text("Who"),
        action=columns.text("Action"),
        object=columns.text("Object"),
        scope=columns.text("Scope"),
        before=columns.text("Before", width="medium"),
        after=columns.text("After", width="medium"),
    )
