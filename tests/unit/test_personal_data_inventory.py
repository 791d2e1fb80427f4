"""docs/PERSONAL_DATA.md stays true: every event class of every service that has a field looking
personal (by its name) declares it personal (sealed with its person's key: services/common/sealing.py)
or explicitly not personal; a declaration names fields the event has; the inventory names each
aggregate that holds personal data."""
import dataclasses
import importlib
import pkgutil
import re
from pathlib import Path

import pytest
from eventsourcing.domain import Aggregate, CanSnapshotAggregate, HasOriginatorIDVersion

import contracts
import services
from contracts.personal import NOT_PERSONAL, PERSONAL
from services.common.deployment import SERVICES

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
# a person's name, ID number, mobile, card number, certificate or its digest, a session id
LOOKS_PERSONAL = re.compile(r"name|mobile|phone|id_number|card_no|cert(?!if)|digest|session|jti|serial")
BASE_FIELDS = {"originator_id", "originator_version", "timestamp", "originator_topic"}
SOURCES = set(SERVICES)  # a test's own event types (tests.support.own_event_type) are not the platform's


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def aggregates():
    for module in pkgutil.walk_packages(services.__path__, "services."):
        importlib.import_module(module.name)
    found = {a for a in _subclasses(Aggregate) if a.__module__.startswith("services.")}
    return sorted(found, key=lambda a: f"{a.__module__}.{a.__qualname__}")


def events_of(aggregate):
    for value in vars(aggregate).values():
        if isinstance(value, type) and issubclass(value, HasOriginatorIDVersion) \
                and not issubclass(value, CanSnapshotAggregate):
            yield value


def fields_of(event_class):
    return {f.name for f in dataclasses.fields(event_class)} - BASE_FIELDS


def undeclared(event_class):
    """The fields of `event_class` that look personal and that it declares neither way."""
    declared = set(getattr(event_class, "personal", {})) | set(getattr(event_class, "not_personal", ()))
    return sorted(f for f in fields_of(event_class) if LOOKS_PERSONAL.search(f) and f not in declared)


def test_the_walk_finds_every_service_and_their_events():
    modules = {a.__module__.split(".")[1] for a in aggregates()}
    assert {"identity", "enterprise", "card", "authz", "notify", "sso", "common"} <= modules
    from services.identity.domain import User
    assert fields_of(User.Registered) >= {"name", "id_number", "mobile"}


def test_every_personal_looking_field_is_declared_one_way_or_the_other():
    missing = [f"{e.__module__}.{e.__qualname__}.{field}"
               for a in aggregates() for e in events_of(a) for field in undeclared(e)]
    assert not missing, "declare in personal_events (whose) or not_personal_events: " + ", ".join(missing)


def test_the_check_fails_on_an_undeclared_personal_field():
    from services.common.sealing import OWNER, PersonalData

    class Careless(PersonalData, Aggregate):
        personal_events = {"Noted": {"holder_name": OWNER}}

        @event_("Noted")
        def __init__(self, user_id, holder_name, mobile, card_no, kind):
            pass

    assert undeclared(Careless.Noted) == ["card_no", "mobile"]


def published_event_types():
    for module in pkgutil.iter_modules(contracts.__path__, "contracts."):
        importlib.import_module(module.name)
    from contracts.envelope import REGISTRY
    return {key: set(et.payload._declared_fields) for key, et in REGISTRY.items() if key[0] in SOURCES}


def test_every_personal_looking_payload_field_is_declared_one_way_or_the_other():
    """The envelopes the published logs and the audit log keep: their personal fields are sealed per
    person there (contracts/personal.py)."""
    types = published_event_types()
    assert ("identity", "UserRegistered") in types
    missing = [f"{source}.{name}.{field}" for (source, name), fields in sorted(types.items()) for field in fields
               if LOOKS_PERSONAL.search(field) and field not in PERSONAL.get((source, name), {})
               and field not in NOT_PERSONAL.get((source, name), ())]
    assert not missing, "declare in contracts/personal.py PERSONAL (whose) or NOT_PERSONAL: " + ", ".join(missing)
    wrong = [key for key, fields in PERSONAL.items() if key not in types or not set(fields) <= types[key]
             or not set(fields.values()) <= types[key]]
    assert not wrong, wrong


def test_declarations_name_fields_the_events_have():
    wrong = [f"{e.__qualname__}.{field}" for a in aggregates() for e in events_of(a)
             for field in (*getattr(e, "personal", {}), *getattr(e, "not_personal", ()))
             if field not in fields_of(e)]
    assert not wrong, wrong


def test_the_inventory_names_each_aggregate_holding_personal_data():
    text = (ROOT / "docs" / "PERSONAL_DATA.md").read_text(encoding="utf-8")
    holding = {a.__name__ for a in aggregates() if any(getattr(e, "personal", None) for e in events_of(a))}
    unnamed = {name for name in holding if not re.search(rf"`{name}[`.]", text)}
    assert holding and not unnamed, f"docs/PERSONAL_DATA.md says nothing of {unnamed}"


def event_(name):
    from eventsourcing.domain import event
    return event(name)
