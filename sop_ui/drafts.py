"""The scenario being edited in this session, shared by every page that edits it (Promotions &
pricing, Supply & capacity), and the bar that saves it: save, save as, rename, duplicate,
delete, status, and the message when someone else saved first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st

from sop_core.data.errors import SopError
from sop_ui import filters, identity, loaders
from sop_ui.formatting import plain

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sop_core.scenario.model import CapacityChange, EffectOverride, Lever, Scenario
    from sop_core.scenario.store import StoredScenario

_DRAFT = "scenario_draft"
_CONFLICT = "scenario_conflict"


@dataclass
class ScenarioDraft:
    """The sidebar's scenario as edited here: ``name`` is the scenario it was loaded for (None:
    the baseline), ``stored`` its saved version (None: not saved yet), ``dirty`` whether it has
    changes not saved. Pages change the lists in place and set ``dirty``."""

    name: str | None
    stored: StoredScenario | None
    levers: list[Lever]
    overrides: list[EffectOverride]
    cannibalisation: float
    capacity: list[CapacityChange]
    dirty: bool = False

    def edited(self, name: str, extra: Iterable[Lever] = ()) -> Scenario:
        """The scenario as edited in this session, called ``name``, plus ``extra`` levers
        being previewed."""
        from sop_core.scenario.model import Scenario

        return Scenario(
            name,
            [*self.levers, *extra],
            list(self.overrides),
            self.cannibalisation,
            list(self.capacity),
        )


def current() -> ScenarioDraft:
    """The scenario being edited in this session, loaded from the database when the
    sidebar's choice changes."""
    from sop_core.scenario.model import Scenario

    chosen = filters.selected_scenario()
    draft: ScenarioDraft | None = st.session_state.get(_DRAFT)
    if draft is None or draft.name != chosen:
        stored = loaders.stored_scenario(chosen) if chosen else None
        saved = stored.scenario if stored else Scenario("")
        draft = ScenarioDraft(
            name=chosen,
            stored=stored,
            levers=list(saved.levers),
            overrides=list(saved.overrides),
            cannibalisation=saved.cannibalisation,
            capacity=list(saved.capacity),
        )
        st.session_state[_DRAFT] = draft
    return draft


def reload() -> None:
    """Forget this session's edits: the next ``current()`` reads the saved version."""
    st.session_state.pop(_DRAFT, None)
    st.session_state.pop(_CONFLICT, None)


def open_scenario(name: str | None) -> None:
    """Switch every page to scenario ``name`` (None: the baseline) and rerun the app."""
    filters.request_scenario(name)
    st.session_state.pop(_DRAFT, None)
    st.rerun(scope="app")


def _set_cannibalisation(scenario_id: int) -> None:
    draft = current()
    draft.cannibalisation = st.session_state[f"cannibalisation_{scenario_id}"] / 100
    draft.dirty = True


def scenario_bar(based_on: int, say_why: bool = True) -> None:
    """Save, save as, rename, duplicate, delete and status of the scenario being edited (the
    same bar on every page that edits a scenario); ``based_on`` is the forecast run. For a
    person who may not change scenarios the bar is disabled, saying why unless ``say_why`` is
    False (the page says it already)."""
    from sop_core.data.errors import ConflictError
    from sop_core.scenario.store import (
        STATUSES,
        create_scenario,
        delete_scenario,
        duplicate_scenario,
        rename_scenario,
        save_scenario,
        writes,
    )

    draft = current()
    stored = draft.stored
    user = identity.who()
    path = loaders.database_path()
    refused = identity.may("scenario")
    locked = identity.disabled("scenario")
    # Saving takes the roles of what changed: levers marketing's, capacity changes operations'.
    edited = draft.edited(stored.scenario.name if stored else "")
    kinds = writes(stored.scenario if stored else None, edited)
    save_refused = next(filter(None, map(identity.may, kinds)), None)
    try:
        if stored is None:
            if save_refused and say_why:
                st.caption(plain(save_refused))
            if save_refused:
                return
            name = st.text_input(
                "Save these levers as a new scenario",
                key="new_name",
                placeholder="e.g. Q1 skincare push",
            )
            if st.button(
                "Save as new scenario",
                type="primary",
                disabled=not (draft.levers or draft.overrides or draft.capacity),
            ):
                created = create_scenario(path, draft.edited(name), user, based_on)
                open_scenario(created.scenario.name)
            return
        left, right = st.columns([3, 2])
        left.markdown(
            f"**{plain(stored.scenario.name)}** · {stored.status} · version {stored.version} · "
            f"saved by {plain(stored.updated_by)} at {stored.updated_at:%d %b %H:%M}"
            + (" · **unsaved changes**" if draft.dirty else "")
        )
        if stored.based_on_run and stored.based_on_run != based_on:
            st.caption(
                f"Saved on forecast run {stored.based_on_run}; its levers now apply to the "
                f"newer run {based_on}. Saving records that."
            )
        st.slider(
            "Cannibalisation",
            0,
            100,
            round(draft.cannibalisation * 100),
            5,
            format="%d%%",
            key=f"cannibalisation_{stored.scenario_id}",
            on_change=_set_cannibalisation,
            args=(stored.scenario_id,),
            help=refused
            or "Share of the extra volume a promotion or campaign wins that comes out of the "
            "family's other SKUs that week.",
            disabled=bool(refused),
        )
        status = right.selectbox(
            "Status",
            STATUSES,
            index=STATUSES.index(stored.status),
            key="scenario_status",
            label_visibility="collapsed",
            disabled=bool(refused),
        )
        if refused and say_why:
            st.caption(plain(refused))
        # One row that wraps, each button as wide as its label (fixed columns cut the labels).
        buttons = st.container(horizontal=True)
        if buttons.button(
            "Save",
            type="primary",
            disabled=bool(save_refused) or not (draft.dirty or status != stored.status),
            help=save_refused,
        ):
            saved = save_scenario(
                path, stored, draft.edited(stored.scenario.name), user, based_on, status
            )
            draft.stored, draft.dirty = saved, False
            st.rerun(scope="app")
        with buttons.popover("Rename", **locked):
            new = st.text_input("New name", value=stored.scenario.name, key="rename_to")
            if st.button("Rename", key="do_rename"):
                renamed = rename_scenario(path, stored, new, user)
                open_scenario(renamed.scenario.name)
        with buttons.popover("Duplicate", **locked):
            new = st.text_input(
                "Name of the copy", value=f"{stored.scenario.name} (copy)", key="copy_to"
            )
            if st.button("Duplicate", key="do_copy"):
                copy = duplicate_scenario(path, stored.scenario.name, new, user)
                open_scenario(copy.scenario.name)
        with buttons.popover("Delete", **locked):
            st.markdown(f"Delete **{plain(stored.scenario.name)}** for everyone?")
            if st.button("Delete", key="do_delete"):
                delete_scenario(path, stored, user)
                open_scenario(None)
    except ConflictError as error:
        # Kept in the session so the message and its button survive the next rerun.
        st.session_state[_CONFLICT] = str(error)
    except SopError as error:
        st.error(plain(error), icon=":material/error:")
    if message := st.session_state.get(_CONFLICT):
        st.error(plain(message), icon=":material/sync_problem:")
        st.button("Reload their version", key="reload_after_conflict", on_click=reload)
