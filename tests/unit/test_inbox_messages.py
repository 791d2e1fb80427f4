"""The inbox on the in-memory store: who gets which message, once per event, and reading them."""
import itertools
import json
import uuid
from datetime import datetime, timedelta

import pytest

from contracts import errors as e
from contracts.enterprise import (
    ADMIN_TRANSFERRED, ASSOCIATION_APPROVED, ASSOCIATION_REJECTED, ASSOCIATION_REQUESTED, ENTERPRISE_REGISTERED,
)
from contracts.envelope import make_envelope
from contracts.errors import ServiceError
from services.notify.application import InboxApplication

pytestmark = pytest.mark.unit

NOW = "2024-06-01T08:00:00+00:00"


@pytest.fixture
def inbox(monkeypatch):
    monkeypatch.setenv("EVENT_STORE", "memory")
    return InboxApplication()


def uid():
    return str(uuid.uuid4())


_SECONDS = itertools.count()


def envelope(et, payload, version=1):
    """An event a second after the one made before it (an inbox lists by time, newest first)."""
    occurred_at = (datetime.fromisoformat(NOW) + timedelta(seconds=next(_SECONDS))).isoformat()
    return make_envelope(et, aggregate_id=uid(), aggregate_version=version, occurred_at=occurred_at, payload=payload)


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
    assert msg["created_at"] == env["occurred_at"]
    assert inbox.list_messages(user) == {"items": [], "unread_count": 0, "next_cursor": None}


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
    from services.notify.application import InboxConflict
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


def requested_of(admin):
    return envelope(ASSOCIATION_REQUESTED, {"association_id": uid(), "enterprise_id": uid(), "user_id": uid(),
                                            "role": "user", "enterprise_name": "某公司", "admin_user_id": admin,
                                            "user_name": "李四"})


def all_pages(inbox, user, limit, between=lambda n: None, **kw):
    """Every page of the user's messages, following next_cursor; `between(n)` runs after page n."""
    pages, cursor = [], None
    while True:
        page = inbox.list_messages(user, limit=limit, cursor=cursor, **kw)
        pages.append(page["items"])
        between(len(pages))
        cursor = page["next_cursor"]
        if cursor is None:
            return pages


def test_paging_through_120_messages_gives_each_once_newest_first_even_as_more_arrive(inbox):
    admin = uid()
    sent = [requested_of(admin) for _ in range(120)]
    for env in sent:
        inbox.deliver(env)
    later = []

    def more_arrive(n):  # new messages while the user pages: on no page they were not asked for
        later.append(requested_of(admin))
        inbox.deliver(later[-1])

    pages = all_pages(inbox, admin, 50, between=more_arrive)
    assert [len(p) for p in pages] == [50, 50, 20]
    got = [m["data"]["association_id"] for p in pages for m in p]
    assert got == [env["payload"]["association_id"] for env in reversed(sent)]  # each once, in order
    first = inbox.list_messages(admin)
    assert len(first["items"]) == 50 and first["unread_count"] == 123  # all of them, not the page's
    assert first["items"][0]["data"]["association_id"] == later[-1]["payload"]["association_id"]


def test_a_message_older_than_the_page_read_appears_on_a_later_page_once(inbox):
    admin = uid()
    for _ in range(4):
        inbox.deliver(requested_of(admin))
    page = inbox.list_messages(admin, limit=2)
    late = requested_of(admin)  # delivered late, dated before the second page's messages
    late["occurred_at"] = "2000-01-01T00:00:00+00:00"
    inbox.deliver(late)
    rest = inbox.list_messages(admin, limit=10, cursor=page["next_cursor"])
    assert [m["created_at"] for m in rest["items"]][-1] == late["occurred_at"] and len(rest["items"]) == 3


@pytest.mark.parametrize("limit", [0, 201, "x", -1, True, 2.5])
def test_a_limit_out_of_range_is_refused_naming_it(inbox, limit):
    with pytest.raises(ServiceError) as err:
        inbox.list_messages(uid(), limit=limit)
    assert err.value.code == e.VALIDATION_ERROR and "limit" in err.value.details


def test_a_cursor_of_another_user_or_list_or_made_up_is_refused_naming_it(inbox):
    from contracts.pages import make_cursor, scope_tag
    mine, theirs = uid(), uid()
    for user in (mine, theirs):
        for _ in range(3):
            inbox.deliver(requested_of(user))
    their_cursor = inbox.list_messages(theirs, limit=1)["next_cursor"]
    my_cursor = inbox.list_messages(mine, limit=1)["next_cursor"]
    for bad in (their_cursor, make_cursor(scope_tag("members", mine), ("0", "x")), "not a cursor", "e30",
                my_cursor[:-3], "x" * 600, my_cursor + "A"):
        with pytest.raises(ServiceError) as err:
            inbox.list_messages(mine, cursor=bad)
        assert err.value.code == e.VALIDATION_ERROR and "cursor" in err.value.details, bad
    assert len(inbox.list_messages(mine, cursor=my_cursor)["items"]) == 2
