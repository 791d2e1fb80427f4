"""What an administrator typed by hand is vouched for by nobody, and an uncertified administrator
learns nothing about people (in-memory store): the members and requests only for the certified
administrator, a claim's details replacing typed ones, edits only by the certified administrator of
an enterprise the registry does not know, and at most 3 uncertified enterprises registered by hand
per account, under concurrency too."""
import pytest

from contracts import errors as e
from contracts.enterprise import UNCERTIFIED_BY_HAND_MAX
from tests.factories import new_uscc
from services.enterprise.application import EnterpriseApplication
from tests.enterprise_support import (
    KNOWN, MANUAL, CLAIMED, uid, registered, applied, bind_card, notifications, published,
)
from tests.support import raises_code

pytestmark = pytest.mark.unit
APPLICATION = EnterpriseApplication  # the `app` fixture's (tests/unit/conftest.py)


def stored(app):
    return notifications(app)


# -- the members and the requests ------------------------------------------------------------------
def test_only_the_certified_administrator_sees_members_and_requests(app):
    admin, eid, uscc = registered(app, certify=False)
    applicant, request = applied(app, uscc)
    stranger = uid()
    for actor, code in ((admin, e.ROLE_NOT_CERTIFIED), (applicant, e.FORBIDDEN), (stranger, e.FORBIDDEN)):
        assert raises_code(app.members, actor, eid) == code
        assert raises_code(app.association_requests, actor, eid, "pending") == code
    bind_card(app, admin, eid, uscc)
    requests = app.association_requests(admin, eid, "pending")["items"]
    assert [(r["association_id"], r["user_name"]) for r in requests] == [(request, "李四")]
    assert [m["user_id"] for m in app.members(admin, eid)["items"]] == [admin]
    other_admin, other_eid, _ = registered(app)  # certified, but of another enterprise
    assert raises_code(app.members, other_admin, eid) == e.FORBIDDEN
    assert raises_code(app.association_requests, other_admin, eid) == e.FORBIDDEN


# -- a claim replaces what was typed ----------------------------------------------------------------
def test_a_claim_replaces_the_details_a_squatter_typed(app):
    squatter, eid, uscc = registered(app, certify=False)
    holder = uid()
    before = stored(app)
    for refused in (lambda: app.check_admin_claim(holder, uscc), lambda: app.claim_admin(holder, uscc, "88001")):
        with pytest.raises(Exception) as info:
            refused()
        assert info.value.code == e.VALIDATION_ERROR
        assert set(info.value.details) == {"name", "address", "business_scope"}
    assert stored(app) == before
    partial = dict(CLAIMED, address=" ")
    assert raises_code(app.claim_admin, holder, uscc, "88001", **partial) == e.VALIDATION_ERROR
    app.claim_admin(holder, uscc, "88001", **CLAIMED)
    detail = app.get_enterprise(eid, holder)
    assert {k: detail[k] for k in CLAIMED} == CLAIMED and detail["certified"] is True
    changed = [env for env in published(app) if env["event_type"] == "EnterpriseDetailsChanged"]
    assert [(c["payload"]["name"], c["payload"]["via"], c["actor_user_id"]) for c in changed] == \
        [(CLAIMED["name"], "claim", holder)]
    certified = next(env for env in published(app) if env["event_type"] == "EnterpriseCertified")
    assert certified["payload"]["name"] == CLAIMED["name"]  # not what the squatter typed


def test_applicants_are_told_the_name_the_claim_gave(app):
    squatter, eid, uscc = registered(app, certify=False)
    applicant, request = applied(app, uscc)  # applied while the squatter's name stood
    holder = uid()
    app.claim_admin(holder, uscc, "88002", **CLAIMED)
    app.approve(holder, request)
    approved = [env for env in published(app) if env["event_type"] == "AssociationApproved"]
    assert approved[-1]["payload"]["enterprise_name"] == CLAIMED["name"]


def test_the_administrator_who_typed_them_keeps_or_replaces_them_when_claiming(app):
    admin, eid, uscc = registered(app, certify=False)
    app.claim_admin(admin, uscc, "88003")  # no details: theirs stay, now vouched for by the card's holder
    assert app.get_enterprise(eid)["name"] == MANUAL["name"]
    other, other_eid, other_uscc = registered(app, certify=False)
    app.claim_admin(other, other_uscc, "88004", **CLAIMED)
    assert app.get_enterprise(other_eid)["name"] == CLAIMED["name"]


def test_a_claim_of_a_certified_enterprise_keeps_its_details_unless_it_gives_its_own(app):
    """企业认证 by a card of the e-port CA naming the USCC (here an operator card the administrator bound)
    vouches for the enterprise: a claim then needs no details, and those it gives replace them."""
    admin, eid, uscc = registered(app, certify=False)
    bind_card(app, admin, eid, uscc, card_type="operator")
    assert app.get_enterprise(eid)["certified"] is True
    app.claim_admin(uid(), uscc, "88006")
    assert app.get_enterprise(eid)["name"] == MANUAL["name"]
    other, other_eid, other_uscc = registered(app, certify=False)
    bind_card(app, other, other_eid, other_uscc, card_type="operator")
    app.claim_admin(uid(), other_uscc, "88007", **CLAIMED)
    assert app.get_enterprise(other_eid)["name"] == CLAIMED["name"]


def test_typed_details_are_never_certified_by_typing(app):
    admin, eid, uscc = registered(app, certify=False)
    assert app.get_enterprise(eid)["certified"] is False
    assert app.lookup_registry(uscc)["certified"] is False
    assert app.get_enterprise(eid)["from_registry"] is app.lookup_registry(uscc)["from_registry"] is False
    assert app.lookup_registry(KNOWN)["from_registry"] is True


# -- the certified administrator edits them --------------------------------------------------------
def test_the_certified_administrator_edits_an_enterprise_entered_by_hand(app):
    admin, eid, uscc = registered(app)
    out = app.update_details(admin, eid, name="  杭州改名贸易有限公司 ", business_scope="报关")
    assert out == app.get_enterprise(eid, admin)
    assert (out["name"], out["address"], out["business_scope"]) == ("杭州改名贸易有限公司", MANUAL["address"], "报关")
    before = stored(app)
    assert app.update_details(admin, eid, name="杭州改名贸易有限公司") == out  # the same again: nothing new
    assert app.update_details(admin, eid) == out
    assert stored(app) == before
    changed = [env for env in published(app) if env["event_type"] == "EnterpriseDetailsChanged"]
    assert [(c["payload"], c["actor_user_id"]) for c in changed] == [
        ({"enterprise_id": eid, "uscc": uscc, "name": "杭州改名贸易有限公司", "via": "admin"}, admin)]


def test_nobody_else_edits_them(app):
    admin, eid, uscc = registered(app, certify=False)
    member = uid()
    certified_elsewhere, _, _ = registered(app)
    before = stored(app)
    assert raises_code(app.update_details, admin, eid, name="改名") == e.ROLE_NOT_CERTIFIED
    for actor in (member, certified_elsewhere, uid()):
        assert raises_code(app.update_details, actor, eid, name="改名") == e.FORBIDDEN
    assert stored(app) == before and app.get_enterprise(eid)["name"] == MANUAL["name"]


def test_the_registrys_details_are_not_edited_here(app):
    admin = uid()
    out = app.associate(admin, KNOWN, "admin")
    bind_card(app, admin, out["enterprise_id"], KNOWN)
    assert app.get_enterprise(out["enterprise_id"])["from_registry"] is True
    before = stored(app)
    assert raises_code(app.update_details, admin, out["enterprise_id"], name="改名") == e.ENTERPRISE_FROM_REGISTRY
    assert stored(app) == before


def test_bad_details_name_every_field_and_change_nothing(app):
    admin, eid, _ = registered(app)
    before = stored(app)
    with pytest.raises(Exception) as info:
        app.update_details(admin, eid, name=" ", address="x" * 201, business_scope=12)
    assert info.value.code == e.VALIDATION_ERROR and set(info.value.details) == {"name", "address", "business_scope"}
    assert stored(app) == before


# -- at most 3 uncertified enterprises registered by hand per account ------------------------------
def register_by_hand(app, user):
    return app.associate(user, new_uscc(), "admin", **MANUAL)


def test_a_fourth_uncertified_enterprise_by_hand_is_refused(app):
    user = uid()
    held = [register_by_hand(app, user) for _ in range(UNCERTIFIED_BY_HAND_MAX)]
    before = stored(app)
    assert raises_code(register_by_hand, app, user) == e.TOO_MANY_UNCERTIFIED
    assert stored(app) == before
    assert app.associate(user, KNOWN, "admin")["certified"] is True  # the registry's: not counted
    assert register_by_hand(app, uid())["status"] == "approved"  # another account: its own count
    first = held[0]
    bind_card(app, user, first["enterprise_id"], app.get_enterprise(first["enterprise_id"])["uscc"])
    assert register_by_hand(app, user)["status"] == "approved"  # certifying one freed its place
    assert raises_code(register_by_hand, app, user) == e.TOO_MANY_UNCERTIFIED


def test_a_superseded_registration_no_longer_counts(app):
    user = uid()
    held = [register_by_hand(app, user) for _ in range(UNCERTIFIED_BY_HAND_MAX)]
    uscc = app.get_enterprise(held[0]["enterprise_id"])["uscc"]
    app.claim_admin(uid(), uscc, "88005", **CLAIMED)
    assert register_by_hand(app, user)["status"] == "approved"


def test_a_registration_saved_meanwhile_is_counted(app, monkeypatch):
    """The third and fourth registrations of one account at the same moment: the fourth is decided on
    the count before the third was saved, and its save (which carries the account's list) conflicts,
    so it counts again and is refused. Without the list saved with each new enterprise both pass."""
    user = uid()
    for _ in range(UNCERTIFIED_BY_HAND_MAX - 1):
        register_by_hand(app, user)
    real_save, meanwhile = app.save, []

    def save_after_another(*aggregates, **kwargs):
        if not meanwhile:  # the first save of the fourth: the third is saved in between
            meanwhile.append(None)
            meanwhile[0] = register_by_hand(app, user)
        return real_save(*aggregates, **kwargs)

    monkeypatch.setattr(app, "save", save_after_another)
    assert raises_code(register_by_hand, app, user) == e.TOO_MANY_UNCERTIFIED
    assert meanwhile[0]["status"] == "approved"
    assert len(app.uncertified_by_hand(user)) == UNCERTIFIED_BY_HAND_MAX
    assert len([a for a in app.associations_of_user(user) if a["role"] == "admin"]) == UNCERTIFIED_BY_HAND_MAX
