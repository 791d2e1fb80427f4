"""The enterprise suites' helpers (tests/unit/test_enterprise_*.py, role certification, hand entry,
supersession, and the integration suites that replay card history): enterprises registered by hand,
certified or not, applications, the card's certification, what the relay would publish."""
import uuid

from services.enterprise.integration import to_integration
from tests.factories import new_uscc
from tests.support import stored_before

KNOWN = "913300007458363392"  # in services/enterprise/data/registry.json
MANUAL = {"name": "杭州测试贸易有限公司", "address": "浙江省杭州市西湖区文三路1号", "business_scope": "货物进出口"}
CLAIMED = {"name": "杭州真实贸易有限公司", "address": "浙江省杭州市滨江区江南大道1号", "business_scope": "报关代理"}


def uid():
    return str(uuid.uuid4())


def registered(app, uscc=None, certify=True):
    """An enterprise entered by hand, its administrator's role certified by the legal-person card
    (as the card service reports a bound card) unless `certify` is false."""
    admin = uid()
    uscc = uscc or new_uscc()
    out = app.associate(admin, uscc, "admin", **MANUAL)
    if certify:
        app.certify_card(admin, out["enterprise_id"], out["association_id"], "8800000000001", "legal_person", uscc)
    return admin, out["enterprise_id"], uscc


def uncertified(app):
    """An enterprise entered by hand whose administrator's role no card certified yet:
    (admin, enterprise_id, association_id, uscc)."""
    admin, uscc = uid(), new_uscc()
    out = app.associate(admin, uscc, "admin", **MANUAL)
    return admin, out["enterprise_id"], out["association_id"], uscc


def member(app, admin, uscc, name="李四"):
    user = uid()
    req = app.associate(user, uscc, "user", user_name=name)
    app.approve(admin, req["association_id"])
    return user, req["association_id"]


def applied(app, uscc, user=None):
    user = user or uid()
    return user, app.associate(user, uscc, "user", user_name="李四")["association_id"]


def bind_card(app, user, eid, uscc, card_type="legal_person"):
    association_id = app.membership(user, eid)["association_id"]
    return app.certify_card(user, eid, association_id, "8800000000001", card_type, uscc)


def notifications(app):
    return app.recorder.max_notification_id() or 0


def published(app):
    out = []
    for notification in app.recorder.select_notifications(start=1, limit=1000):
        out.extend(to_integration(app.mapper.to_domain_event(notification)))
    return out


def card_bound_history(uscc, user_id, enterprise_id, association_id, card_type="legal_person", before_uscc=True,
                       rebinds=0):
    """The card service's CardBound of a binding, as a replay of its history publishes it; one
    stored `before_uscc` was published has none (Bound v1, upcast by the library). `rebinds`:
    bound and unbound that often before (a later event of the same binding)."""
    from eventsourcing.application import Application

    from services.card.domain import CardBinding
    from services.card.integration import to_integration as card_to_integration
    store = Application()
    binding = CardBinding(user_id=user_id, enterprise_id=enterprise_id)
    for _ in range(rebinds):
        binding.bind(card_no="8800000000008", card_type="operator", association_id=association_id, role="admin",
                     bound_at="2026-11-29T08:00:00+00:00", by_user_id=user_id, uscc=uscc)
        binding.unbind(reason="unbound", by_user_id=user_id)
    binding.bind(card_no="8800000000009", card_type=card_type, association_id=association_id, role="admin",
                 bound_at="2026-11-30T08:00:00+00:00", by_user_id=user_id, uscc=uscc)
    store.save(binding)
    stored = store.recorder.select_notifications(start=1, limit=10)[-1]
    if before_uscc:
        stored = stored_before(store.mapper, stored, "uscc")
    return next(card_to_integration(store.mapper.to_domain_event(stored)))
