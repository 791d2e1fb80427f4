"""Stored domain events of the card service -> integration events of contracts/card.py.

Only bindings cross the bus. Challenges, the card index and the lists stay private, and so does
everything the certificate says about the holder (name, ID number).
"""
from contracts.card import CARD_BOUND, CARD_UNBOUND
from contracts.envelope import make_envelope

from .domain import CardBinding


def _envelope(et, ev, payload):
    return make_envelope(et, aggregate_id=ev.originator_id, aggregate_version=ev.originator_version,
                         occurred_at=ev.timestamp, payload=payload, actor_user_id=ev.by_user_id)


def to_integration(domain_event):
    ev = domain_event
    if isinstance(ev, CardBinding.Bound):
        yield _envelope(CARD_BOUND, ev, {"enterprise_id": ev.enterprise_id, "user_id": ev.user_id,
                                         "card_no": ev.card_no, "card_type": ev.card_type,
                                         "bound_at": ev.bound_at, "association_id": ev.association_id,
                                         "role": ev.role, "uscc": ev.uscc})
    elif isinstance(ev, CardBinding.Unbound):
        yield _envelope(CARD_UNBOUND, ev, {"enterprise_id": ev.enterprise_id, "user_id": ev.user_id,
                                           "card_no": ev.card_no, "card_type": ev.card_type,
                                           "reason": ev.reason})
