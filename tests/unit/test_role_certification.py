"""Role certification (角色认证) in the enterprise service, on the in-memory store: an administrator
acts only once the enterprise's legal-person card proved the role, and the card's holder wins over
an uncertified administrator."""
import uuid

import pytest

from contracts import errors as e
from contracts.errors import ServiceError
from tests.factories import new_uscc
from tests.support import stored_before
from services.enterprise.application import EnterpriseApplication
from tests.enterprise_support import (
    CLAIMED, KNOWN, MANUAL, applied, bind_card, card_bound_history, notifications, published, uid,
    uncertified as registered,
)
from tests.support import raises_code

pytestmark = pytest.mark.unit
APPLICATION = EnterpriseApplication  # the `app` fixture's (tests/unit/conftest.py)


def test_an_administrator_starts_uncertified_and_may_look_at_the_enterprise_only(app):
    admin, eid, association_id, uscc = registered(app)
    assert app.get_enterprise(eid, admin)["admin_role_certified"] is False
    assert app.membership(admin, eid)["role_certified"] is False
    assert app.associations_of_user(admin)[0]["role_certified"] is False
    user, request = applied(app, uscc)
    before = notifications(app)
    for refused in (lambda: app.members(admin, eid), lambda: app.association_requests(admin, eid, "pending"),
                    lambda: app.approve(admin, request), lambda: app.reject(admin, request),
                    lambda: app.transfer_admin(admin, eid, user),
                    lambda: app.remove_member(admin, eid, user)):
        with pytest.raises(ServiceError) as info:
            refused()
        assert info.value.code in (e.ROLE_NOT_CERTIFIED, e.NOT_A_MEMBER)
    with pytest.raises(ServiceError) as info:
        app.approve(admin, request)
    assert info.value.code == e.ROLE_NOT_CERTIFIED and "法人卡" in info.value.message
    assert notifications(app) == before  # nothing stored


def test_the_legal_person_card_certifies_the_role_and_then_the_admin_acts(app):
    admin, eid, association_id, uscc = registered(app)
    assert app.get_enterprise(eid, admin)["certified"] is False  # entered by hand
    assert bind_card(app, admin, eid, uscc) == {"certified": True, "role_certified": True}
    detail = app.get_enterprise(eid, admin)
    assert detail["admin_role_certified"] is True and detail["certified"] is True
    assert app.membership(admin, eid)["role_certified"] is True
    user, request = applied(app, uscc)
    assert app.approve(admin, request)["status"] == "approved"
    assert {m["user_id"]: m["role_certified"] for m in app.members(admin, eid)["items"]} == {admin: True, user: False}
    types = [env["event_type"] for env in published(app)]
    assert types.count("RoleCertified") == 1 and types.count("EnterpriseCertified") == 1
    assert bind_card(app, admin, eid, uscc)["role_certified"] is True  # again: nothing new
    assert [env["event_type"] for env in published(app)].count("RoleCertified") == 1


def test_an_operator_card_certifies_the_enterprise_but_not_the_role(app):
    admin, eid, _, uscc = registered(app)
    assert bind_card(app, admin, eid, uscc, card_type="operator") == {"certified": True, "role_certified": False}
    _, request = applied(app, uscc)
    assert raises_code(app.approve, admin, request) == e.ROLE_NOT_CERTIFIED


def test_a_members_legal_person_card_certifies_nobodys_role(app):
    admin, eid, _, uscc = registered(app)
    bind_card(app, admin, eid, uscc)
    user, request = applied(app, uscc)
    app.approve(admin, request)
    assert bind_card(app, user, eid, uscc)["role_certified"] is False
    assert app.get_enterprise(eid)["admin_user_id"] == admin


def test_a_card_of_another_enterprise_certifies_nothing(app):
    admin, eid, association_id, _ = registered(app)
    assert raises_code(app.certify_card, admin, eid, association_id, "1", "legal_person", new_uscc()) == \
        e.VALIDATION_ERROR
    assert app.get_enterprise(eid)["admin_role_certified"] is False


def test_a_handover_by_a_certified_admin_certifies_the_successor(app):
    admin, eid, _, uscc = registered(app)
    bind_card(app, admin, eid, uscc)
    user, request = applied(app, uscc)
    app.approve(admin, request)
    app.transfer_admin(admin, eid, user)
    detail = app.get_enterprise(eid, user)
    assert detail["admin_user_id"] == user and detail["admin_role_certified"] is True
    assert app.membership(admin, eid)["role_certified"] is False  # now an ordinary user
    certified = [env for env in published(app) if env["event_type"] == "RoleCertified"]
    assert [c["payload"]["via"] for c in certified] == ["legal_person_card", "handover"]
    assert certified[-1]["payload"]["user_id"] == user


def test_claim_of_an_unregistered_enterprise_registers_it_certified(app):
    holder, uscc = uid(), new_uscc()
    assert raises_code(app.check_admin_claim, holder, uscc) == e.VALIDATION_ERROR  # unknown to the registry
    assert app.check_admin_claim(holder, uscc, **MANUAL)["registered"] is False
    out = app.claim_admin(holder, uscc, "8800000000002", **MANUAL)
    assert out["role_certified"] is True and out["superseded_user_id"] is None and out["certified"] is True
    assert app.get_enterprise(out["enterprise_id"], holder)["admin_role_certified"] is True
    known = app.claim_admin(uid(), KNOWN, "8800000000003")
    assert app.get_enterprise(known["enterprise_id"])["name"] == "浙江电子口岸有限公司"


def test_the_holder_supersedes_an_uncertified_squatter(app):
    squatter, eid, squatter_association, uscc = registered(app)
    holder = uid()
    assert app.check_admin_claim(holder, uscc, **CLAIMED)["registered"] is True
    out = app.claim_admin(holder, uscc, "8800000000004", **CLAIMED)
    assert out["superseded_user_id"] == squatter and out["enterprise_id"] == eid
    detail = app.get_enterprise(eid, holder)
    assert detail["admin_user_id"] == holder and detail["admin_role_certified"] is True
    gone = app.membership(squatter, eid)
    assert gone["status"] == "removed" and gone["association_id"] == squatter_association
    assert raises_code(app.get_enterprise, eid, squatter) == e.FORBIDDEN
    assert [m["user_id"] for m in app.members(holder, eid)["items"]] == [holder]
    envelopes = published(app)
    removed = next(env for env in envelopes if env["event_type"] == "MemberRemoved")
    assert removed["payload"]["reason"] == "superseded" and removed["payload"]["user_id"] == squatter
    superseded = next(env for env in envelopes if env["event_type"] == "AdminSuperseded")
    assert superseded["payload"]["from_user_id"] == squatter and superseded["payload"]["to_user_id"] == holder
    assert next(env for env in envelopes if env["event_type"] == "RoleCertified")["payload"]["via"] == "claim"


def test_a_member_holding_the_card_claims_with_their_own_association(app):
    squatter, eid, _, uscc = registered(app)
    holder, pending = applied(app, uscc)
    out = app.claim_admin(holder, uscc, "8800000000005", **CLAIMED)
    assert out["association_id"] == pending
    assert app.membership(holder, eid) == dict(app.membership(holder, eid), role="admin", status="approved",
                                               role_certified=True)


def test_the_uncertified_admin_claiming_is_only_certified(app):
    admin, eid, association_id, uscc = registered(app)
    out = app.claim_admin(admin, uscc, "8800000000006")
    assert (out["association_id"], out["superseded_user_id"]) == (association_id, None)
    assert app.get_enterprise(eid)["admin_role_certified"] is True


def test_a_claim_against_a_certified_admin_is_409_and_stores_nothing(app):
    admin, eid, _, uscc = registered(app)
    bind_card(app, admin, eid, uscc)
    before = notifications(app)
    for claimant in (uid(), admin):
        assert raises_code(app.check_admin_claim, claimant, uscc) == e.ENTERPRISE_HAS_ADMIN
        assert raises_code(app.claim_admin, claimant, uscc, "8800000000007") == e.ENTERPRISE_HAS_ADMIN
    assert notifications(app) == before


def test_a_removal_stored_before_reasons_reads_as_removed(app):
    """Removed v1 (no reason) is upcast by the library (class_version 2, upcast_v1_v2)."""
    admin, eid, _, uscc = registered(app)
    bind_card(app, admin, eid, uscc)
    user, request = applied(app, uscc)
    app.approve(admin, request)
    app.remove_member(admin, eid, user)
    stored = [n for n in app.recorder.select_notifications(start=1, limit=1000) if n.topic.endswith(".Removed")]
    assert app.mapper.to_domain_event(stored[-1]).reason == "removed"
    assert app.mapper.to_domain_event(stored_before(app.mapper, stored[-1], "reason")).reason == "removed"


def test_a_legal_person_card_bound_before_certification_existed_certifies_on_replay(app):
    admin, eid, association_id, uscc = registered(app)  # as stored before: uncertified
    assert app.get_enterprise(eid)["admin_role_certified"] is False
    envelope = card_bound_history(uscc, admin, eid, association_id)
    assert envelope["payload"]["uscc"] is None and envelope["payload"]["association_id"] == association_id
    assert app.learn(envelope) is True
    assert app.get_enterprise(eid)["admin_role_certified"] is True
    assert app.get_enterprise(eid)["certified"] is False  # no USCC in the event: 企业认证 not proved by it
    assert app.learn(envelope) is False  # the replay again: once
    assert [e["payload"]["via"] for e in published(app) if e["event_type"] == "RoleCertified"] == ["legal_person_card"]


def test_a_replayed_binding_certifies_only_the_administrators_legal_person_card(app):
    admin, eid, association_id, uscc = registered(app)
    user, request = applied(app, uscc)
    before = [e["event_type"] for e in published(app)]
    for envelope in (card_bound_history(uscc, admin, eid, association_id, card_type="operator"),
                     card_bound_history(uscc, user, eid, request),  # not the administrator's association
                     card_bound_history(new_uscc(), admin, eid, association_id, before_uscc=False),  # other USCC
                     card_bound_history(uscc, admin, str(uuid.uuid4()), association_id)):  # unknown enterprise
        assert app.learn(envelope) is False
    assert app.get_enterprise(eid)["admin_role_certified"] is False
    assert [e["event_type"] for e in published(app)] == before
    live = card_bound_history(uscc, admin, eid, association_id, before_uscc=False, rebinds=1)
    assert app.learn(live) is True and app.get_enterprise(eid)["certified"] is True
