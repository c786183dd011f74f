"""Who may change what, as the pages show it: each person sees the controls of their roles
enabled and the others disabled with the reason, the Data page manages users and shows the
audit trail. AppTest against a copy of the sample database with its forecast; the person at
the screen is the sidebar's name (local sign-in), matched against the users' emails."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from sop_core.data import access, db
from sop_core.data.stores import users

ROOT = Path(__file__).resolve().parent.parent
ADMIN, VIEWER, OPERATIONS, LEAD = (
    "ada@example.com",
    "vera@example.com",
    "otto@example.com",
    "lena@example.com",
)


@pytest.fixture()
def team(app_env: Path) -> Path:
    """The app's database with four users: an admin, a viewer, operations and an S&OP lead."""
    access.add_user(app_env, ADMIN, ["admin"], by="setup", name="Ada Admin")
    access.add_user(app_env, VIEWER, ["viewer"], by=ADMIN, name="Vera Viewer")
    access.add_user(app_env, OPERATIONS, ["operations"], by=ADMIN, name="Otto Ops")
    access.add_user(app_env, LEAD, ["sop_lead"], by=ADMIN, name="Lena Lead")
    return app_env


def open_as(email: str | None, page: str) -> AppTest:
    """The app opened on ``page`` by ``email`` (the sidebar's name; None: nobody typed one)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if email:
        at.session_state["user"] = email
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def button(at: AppTest, label: str):
    (found,) = [b for b in at.button if b.label == label]
    return found


def unescaped(markdown: str) -> str:
    """Text as shown: the pages escape Markdown's punctuation in what they quote."""
    return re.sub(r"\\(.)", r"\1", markdown)


def captions(at: AppTest) -> str:
    return "\n".join(unescaped(c.value) for c in at.caption)


def infos(at: AppTest) -> list[str]:
    return [unescaped(i.value) for i in at.info]


def test_a_viewer_reads_everything_but_cannot_approve_move_a_lever_or_override(team):
    at = open_as(VIEWER, "pages/plan.py")
    assert not at.error, [e.value for e in at.error]
    approve = button(at, "Approve")
    assert approve.disabled
    assert "may not change the plan of record: that takes the role S&OP lead" in approve.help
    assert "Vera Viewer (viewer) may not change the plan of record" in captions(at)
    assert any("may not change the decisions log" in i for i in infos(at))
    assert not [b for b in at.button if b.label == "Record"]  # no dead form
    # Downloads stay for everyone.
    assert not button(at, "Build the meeting pack").disabled

    at = open_as(VIEWER, "pages/promotions.py")
    assert not at.error, [e.value for e in at.error]
    for key in ("lever_kind", "lever_scope"):
        assert at.selectbox(key=key).disabled
    assert at.slider(key="lever_discount").disabled
    assert button(at, "Add the lever to the scenario").disabled
    reason = "Vera Viewer (viewer) may not change scenarios: that takes the role marketing"
    assert captions(at).count(reason) == 1  # said once, beside the lever editor
    assert not [t for t in at.text_input if t.key == "new_name"]  # no way to save

    at = open_as(VIEWER, "pages/demand.py")
    assert not at.error, [e.value for e in at.error]
    assert any("may not change consensus overrides" in i for i in infos(at))
    assert not [b for b in at.button if b.label == "Apply consensus override"]
    refresh = button(at, "Refresh forecast")
    assert refresh.disabled and "takes the role demand planner" in refresh.help


def test_operations_change_capacity_and_build_plans_but_do_not_approve(team):
    at = open_as(OPERATIONS, "pages/supply.py")
    assert not at.error, [e.value for e in at.error]
    assert not button(at, "Build the production plan").disabled
    at.number_input(key="capacity_hours").set_value(16.0)
    at.text_input(key="capacity_reason").set_value("Saturday shift")
    button(at, "Add to the scenario").click().run()
    assert not at.exception and not at.error
    assert any("Saturday shift" in m.value for m in at.markdown)  # in the scenario now

    at = open_as(OPERATIONS, "pages/plan.py")
    approve = button(at, "Approve")
    assert approve.disabled and "Otto Ops (operations)" in approve.help


def test_someone_not_a_user_is_told_so(team):
    at = open_as("intruder@example.com", "pages/plan.py")
    approve = button(at, "Approve")
    assert approve.disabled
    assert "intruder@example.com is not an active user of this database" in approve.help


def test_an_admin_adds_a_user_on_the_data_page_and_the_audit_trail_shows_it(team):
    at = open_as(ADMIN, "pages/data.py")
    assert not at.error, [e.value for e in at.error]
    shown = next(t.value for t in at.dataframe if "email" in t.value.columns)
    assert set(shown["email"]) == {ADMIN, VIEWER, OPERATIONS, LEAD}
    at.text_input(key="user_email").set_value("mark@example.com")
    at.text_input(key="user_name").set_value("Mark Eting")
    at.multiselect(key="user_roles").set_value(["marketing", "demand_planner"])
    button(at, "Add the user").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    done = [unescaped(s.value) for s in at.success]
    assert any("mark@example.com added as marketing, demand_planner" in s for s in done)
    with db.connect(team) as con:
        added = users.user(con, "mark@example.com")
    assert added is not None and added.roles == ("marketing", "demand_planner")

    trail = next(t.value for t in at.dataframe if "action" in t.value.columns)
    newest = trail.iloc[0]  # newest first
    assert (newest["who"], newest["action"], newest["object"]) == (
        ADMIN,
        "users add",
        "mark@example.com",
    )
    assert newest["after"] == "name: Mark Eting; roles: marketing, demand_planner"
    # Filtered by who: only the admin's changes.
    at.selectbox(key="audit_who").set_value("setup").run()
    trail = next(t.value for t in at.dataframe if "action" in t.value.columns)
    assert list(trail["object"]) == [ADMIN]


def test_an_admin_turns_four_eyes_on_and_a_viewer_cannot(team):
    from sop_core.data import company

    at = open_as(VIEWER, "pages/data.py")
    (box,) = at.checkbox
    assert box.disabled and not box.value
    assert any("may not change users" in c for c in captions(at).splitlines())
    assert not [b for b in at.button if b.label == "Add the user"]

    at = open_as(ADMIN, "pages/data.py")
    (box,) = at.checkbox
    box.check().run()
    assert not at.exception and not at.error
    with db.connect(team) as con:
        assert company.four_eyes(con)
    assert at.checkbox[0].value


def test_single_team_mode_leaves_everything_enabled_and_asks_for_an_admin_first(app_env):
    at = open_as(None, "pages/data.py")
    assert any("Single-team mode" in i for i in infos(at))
    assert at.multiselect(key="user_roles").value == ["admin"]
    assert not at.checkbox[0].disabled
    at.text_input(key="user_email").set_value("first@example.com")
    at.multiselect(key="user_roles").set_value(["viewer"])
    button(at, "Add the user").click().run()
    assert any("The first user must be an admin" in unescaped(e.value) for e in at.error)

    at = open_as(None, "pages/plan.py")
    assert not button(at, "Approve").disabled
    assert [b for b in at.button if b.label == "Record"]
    at = open_as(None, "pages/promotions.py")
    assert not at.slider(key="lever_discount").disabled
    assert not button(at, "Add the lever to the scenario").disabled


def test_an_admin_changes_roles_and_deactivates_and_the_last_admin_stays(team):
    at = open_as(ADMIN, "pages/data.py")
    at.selectbox(key="change_email").set_value(VIEWER)
    at.multiselect(key="change_roles").set_value(["marketing"])
    button(at, "Set the roles").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.selectbox(key="change_email").set_value(OPERATIONS)
    button(at, "Deactivate").click().run()
    at.selectbox(key="change_email").set_value(ADMIN)
    button(at, "Deactivate").click().run()
    assert any("the last active admin" in unescaped(e.value) for e in at.error)
    with db.connect(team) as con:
        assert users.user(con, VIEWER).roles == ("marketing",)
        assert not users.user(con, OPERATIONS).active and users.user(con, ADMIN).active
    # Vera may move levers now.
    at = open_as(VIEWER, "pages/promotions.py")
    assert not at.slider(key="lever_discount").disabled
