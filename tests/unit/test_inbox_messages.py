"""The inbox on the in-memory store: who gets which message, once per event, and reading them."""
import json
import uuid

import pytest

from contracts import errors as e
from contracts.enterprise import (
    ADMIN_TRANSFERRED, ASSOCIATION_APPROVED, ASSOCIATION_REJECTED, ASSOCIATION_REQUESTED, ENTERPRISE_REGISTERED,
)
from contracts.envelope import make_envelope
from contracts.errors import ServiceError
from services.notify.inbox_application import InboxApplication

pytestmark = pytest.mark.unit

NOW = "2024-06-01T08:00:00+00:00"


@pytest.fixture
def inbox(monkeypatch):
    monkeypatch.setenv("EVENT_STORE", "memory")
    return InboxApplication()


def uid():
    return str(uuid.uuid4())


def envelope(et, payload, version=1):
    return make_envelope(et, aggregate_id=uid(), aggregate_version=version, occurred_at=NOW, payload=payload)


def test_request_goes_to_the_admin_with_the_association_id_and_nothing_about_the_applicant(inbox):
    """Its administrator may be an uncertified account that typed the USCC: the message says that a
    request waits, not who asked, even from an event stored when events carried the name."""
    admin, user, assoc, ent = uid(), uid(), uid(), uid()
    env = envelope(ASSOCIATION_REQUESTED, {"association_id": assoc, "enterprise_id": ent, "user_id": user,
                                           "role": "user", "enterprise_name": "浙江电子口岸有限公司",
                                           "admin_user_id": admin, "user_name": "李四"})
    assert inbox.deliver(env) == 1
    assert inbox.deliver(env) == 0  # redelivered
    got = inbox.list_messages(admin)
    assert got["unread_count"] == 1 and len(got["items"]) == 1
    msg = got["items"][0]
    assert msg["kind"] == "association_requested" and msg["data"]["association_id"] == assoc
    assert "浙江电子口岸有限公司" in msg["body"] and msg["read"] is False
    assert msg["data"] == {"association_id": assoc, "enterprise_id": ent}
    assert "李四" not in json.dumps(msg, ensure_ascii=False) and user not in json.dumps(msg)
    assert msg["created_at"] == NOW
    assert inbox.list_messages(user) == {"items": [], "unread_count": 0}


def test_decisions_go_to_the_applicant(inbox):
    user, ent = uid(), uid()
    base = {"enterprise_id": ent, "user_id": user, "role": "user", "enterprise_name": "某公司"}
    inbox.deliver(envelope(ASSOCIATION_APPROVED, dict(base, association_id=uid())))
    inbox.deliver(envelope(ASSOCIATION_REJECTED, dict(base, association_id=uid(), reason="资料不符")))
    kinds = [m["kind"] for m in inbox.list_messages(user)["items"]]
    assert kinds == ["association_rejected", "association_approved"]  # newest first
    assert "审核通过" in inbox.list_messages(user)["items"][1]["body"]
    assert "资料不符" in inbox.list_messages(user)["items"][0]["body"]


def test_the_admin_s_own_registration_makes_no_message(inbox):
    admin = uid()
    assert inbox.deliver(envelope(ASSOCIATION_APPROVED, {"association_id": uid(), "enterprise_id": uid(),
                                                         "user_id": admin, "role": "admin"})) == 0
    assert inbox.deliver(envelope(ENTERPRISE_REGISTERED, {"enterprise_id": uid(), "uscc": "x", "name": "y",
                                                          "certified": True, "admin_user_id": admin})) == 0
    assert inbox.list_messages(admin)["items"] == []


def test_transfer_tells_both(inbox):
    old, new = uid(), uid()
    env = envelope(ADMIN_TRANSFERRED, {"enterprise_id": uid(), "from_user_id": old, "to_user_id": new,
                                       "enterprise_name": "某公司"})
    assert inbox.deliver(env) == 2
    assert inbox.deliver(env) == 0
    for who, words in ((old, "企业用户"), (new, "企业管理员")):
        [msg] = inbox.list_messages(who)["items"]
        assert msg["kind"] == "admin_transferred" and words in msg["body"]


def test_mark_read_only_my_own_message(inbox):
    user, other = uid(), uid()
    inbox.deliver(envelope(ASSOCIATION_APPROVED, {"association_id": uid(), "enterprise_id": uid(),
                                                  "user_id": user, "role": "user"}))
    [msg] = inbox.list_messages(user)["items"]
    for who, mid in ((other, msg["message_id"]), (user, uid()), (user, "not-an-id")):
        with pytest.raises(ServiceError) as info:
            inbox.mark_read(who, mid)
        assert info.value.code == e.MESSAGE_NOT_FOUND
    inbox.mark_read(user, msg["message_id"])
    inbox.mark_read(user, msg["message_id"])  # again: still fine
    assert inbox.list_messages(user)["unread_count"] == 0
    assert inbox.list_messages(user, unread_only=True)["items"] == []
    assert inbox.list_messages(user)["items"][0]["read"] is True


def test_a_rival_delivery_to_the_same_inbox_makes_the_event_retry(inbox):
    from services.notify.inbox_application import InboxConflict
    user = uid()
    first = envelope(ASSOCIATION_APPROVED, {"association_id": uid(), "enterprise_id": uid(), "user_id": user,
                                            "role": "user"})
    second = envelope(ASSOCIATION_APPROVED, {"association_id": uid(), "enterprise_id": uid(), "user_id": user,
                                             "role": "user"})
    real_save = inbox.save

    def rival_first(*aggregates, **kw):
        inbox.save = real_save
        inbox.deliver(second)  # another event for the same user is stored meanwhile
        return real_save(*aggregates, **kw)

    inbox.save = rival_first
    with pytest.raises(InboxConflict):
        inbox.deliver(first)
    assert inbox.deliver(first) == 1  # the requeued delivery
    assert len(inbox.list_messages(user)["items"]) == 2


def test_a_claim_tells_the_superseded_admin_and_the_claimant_once_each(inbox):
    from contracts.enterprise import ADMIN_SUPERSEDED, ROLE_CERTIFIED
    squatter, holder, ent = uid(), uid(), uid()
    name = "宁波某某有限公司"
    superseded = envelope(ADMIN_SUPERSEDED, {"enterprise_id": ent, "from_user_id": squatter, "to_user_id": holder,
                                             "from_association_id": uid(), "to_association_id": uid(),
                                             "enterprise_name": name}, version=3)
    claimed = envelope(ROLE_CERTIFIED, {"enterprise_id": ent, "user_id": holder, "association_id": uid(),
                                        "via": "claim", "card_no": "88", "enterprise_name": name}, version=4)
    for env in (superseded, claimed, superseded, claimed):  # redelivered
        inbox.deliver(env)
    [told] = inbox.list_messages(squatter)["items"]
    assert told["kind"] == "admin_superseded" and "法人卡" in told["body"] and "宁波某某有限公司" in told["body"]
    assert told["data"]["to_user_id"] == holder
    [mine] = inbox.list_messages(holder)["items"]
    assert mine["kind"] == "admin_claimed" and "角色认证" in mine["body"] and mine["data"]["enterprise_id"] == ent
    for via in ("legal_person_card", "handover"):  # said by the bind's answer, or the handover's message
        certified = {"enterprise_id": ent, "user_id": holder, "association_id": uid(), "via": via, "card_no": None}
        assert inbox.deliver(envelope(ROLE_CERTIFIED, certified)) == 0


def test_a_lost_certification_tells_the_administrator(inbox):
    from contracts.enterprise import ROLE_CERTIFICATION_LOST
    admin, ent, association = uid(), uid(), uid()
    lost = envelope(ROLE_CERTIFICATION_LOST, {"enterprise_id": ent, "user_id": admin, "association_id": association,
                                              "card_no": "8800000000001", "reason": "revoked",
                                              "enterprise_name": "宁波某某有限公司"}, version=5)
    assert inbox.deliver(lost) == 1 and inbox.deliver(lost) == 0  # once
    [told] = inbox.list_messages(admin)["items"]
    assert told["kind"] == "role_certification_lost" and "吊销" in told["body"] and "宁波某某有限公司" in told["body"]
    assert told["data"] == {"enterprise_id": ent, "association_id": association, "reason": "revoked"}
    assert "8800000000001" not in told["body"]  # the card number is the holder's: not in the inbox
