"""Stored domain events of the enterprise service -> integration events of contracts/enterprise.py.

Indexes, lists, admissions and role changes stay private: AdminTransferred, AdminSuperseded,
RoleCertified, RoleCertificationLost and the association events say all that subscribers need
(CertifyingCardChanged stays private: the certification goes on). No person's name, ID number or
mobile leaves here: AssociationRequested's `user_name` stays null (its administrator may be an
uncertified stranger who typed the USCC; the certified one reads names in the requests list).
"""
from contracts.enterprise import (
    ADMIN_SUPERSEDED, ADMIN_TRANSFERRED, ASSOCIATION_APPROVED, ASSOCIATION_REJECTED, ASSOCIATION_REQUESTED,
    ENTERPRISE_CERTIFIED, ENTERPRISE_DETAILS_CHANGED, ENTERPRISE_REGISTERED, MEMBER_REMOVED, ROLE_CERTIFICATION_LOST,
    ROLE_CERTIFIED,
)
from contracts.envelope import make_envelope

from .domain import APPROVED, Association, Enterprise


def _envelope(et, domain_event, payload, actor_user_id=None):
    return make_envelope(et, aggregate_id=domain_event.originator_id,
                         aggregate_version=domain_event.originator_version,
                         occurred_at=domain_event.timestamp, payload=payload, actor_user_id=actor_user_id)


def to_integration(domain_event):
    yield from _of_enterprise(domain_event)  # each yields for its own aggregate's events only
    yield from _of_association(domain_event)


def _of_enterprise(ev):
    if isinstance(ev, Enterprise.Registered):
        yield _envelope(ENTERPRISE_REGISTERED, ev, {
            "enterprise_id": str(ev.originator_id), "uscc": ev.uscc, "name": ev.name,
            "certified": ev.certified, "admin_user_id": ev.admin_user_id}, ev.admin_user_id)
    elif isinstance(ev, Enterprise.AdminTransferred):
        yield _envelope(ADMIN_TRANSFERRED, ev, {
            "enterprise_id": str(ev.originator_id), "from_user_id": ev.from_user_id,
            "to_user_id": ev.to_user_id, "enterprise_name": ev.enterprise_name}, ev.from_user_id)
    elif isinstance(ev, Enterprise.RoleCertified):
        yield _envelope(ROLE_CERTIFIED, ev, {
            "enterprise_id": str(ev.originator_id), "user_id": ev.user_id, "association_id": ev.association_id,
            "via": ev.via, "card_no": ev.card_no, "enterprise_name": ev.enterprise_name}, ev.user_id)
    elif isinstance(ev, Enterprise.RoleCertificationLost):
        yield _envelope(ROLE_CERTIFICATION_LOST, ev, {
            "enterprise_id": str(ev.originator_id), "user_id": ev.user_id, "association_id": ev.association_id,
            "card_no": ev.card_no, "reason": ev.reason, "enterprise_name": ev.enterprise_name})
    elif isinstance(ev, Enterprise.AdminSuperseded):
        yield _envelope(ADMIN_SUPERSEDED, ev, {
            "enterprise_id": str(ev.originator_id), "from_user_id": ev.from_user_id,
            "from_association_id": ev.from_association_id, "to_user_id": ev.to_user_id,
            "to_association_id": ev.to_association_id, "enterprise_name": ev.enterprise_name}, ev.to_user_id)
    elif isinstance(ev, Enterprise.EnterpriseCertified):
        yield _envelope(ENTERPRISE_CERTIFIED, ev, {"enterprise_id": str(ev.originator_id), "uscc": ev.uscc,
                                                   "name": ev.name})
    elif isinstance(ev, Enterprise.DetailsChanged):
        yield _envelope(ENTERPRISE_DETAILS_CHANGED, ev, {"enterprise_id": str(ev.originator_id), "uscc": ev.uscc,
                                                         "name": ev.name, "via": ev.via}, ev.by_user_id)


def _of_association(ev):
    if isinstance(ev, Association.Created):
        common = {"association_id": str(ev.originator_id), "enterprise_id": ev.enterprise_id,
                  "user_id": ev.user_id, "role": ev.role, "enterprise_name": ev.enterprise_name}
        if ev.status == APPROVED:  # the administrator's own association, made when registering
            yield _envelope(ASSOCIATION_APPROVED, ev, common, ev.user_id)
        else:
            yield _envelope(ASSOCIATION_REQUESTED, ev, dict(
                common, admin_user_id=ev.admin_user_id, user_name=None,
                requested_at=ev.timestamp.isoformat()), ev.user_id)
    elif isinstance(ev, (Association.Approved, Association.Rejected, Association.Removed)):
        et = {Association.Approved: ASSOCIATION_APPROVED, Association.Rejected: ASSOCIATION_REJECTED,
              Association.Removed: MEMBER_REMOVED}[type(ev)]
        payload = {"association_id": str(ev.originator_id), "enterprise_id": ev.enterprise_id,
                   "user_id": ev.user_id, "role": ev.role, "enterprise_name": ev.enterprise_name}
        if et is not ASSOCIATION_APPROVED:
            payload["reason"] = ev.reason
        yield _envelope(et, ev, payload, ev.by_user_id)
