"""Per-person sealing of personal fields in the event stores (crypto-shredding: docs/PERSONAL_DATA.md).

An aggregate says which fields of its events are personal and whose they are (`PersonalData`); the
Mapper of every service (`SealingMapper`) seals each such field, of events and of snapshots, with its
person's key (services/common/person_keys.py) on the way to the store, and opens it on the way back
before any upcaster runs. The store cipher stays the outer layer. A destroyed key opens to `ERASED`.

    class User(PersonalData, Aggregate):
        personal_owner = ORIGINATOR               # whose fields are, by default: the aggregate's own id
        personal_events = {"Registered": {"name": OWNER, "id_number": OWNER, "mobile": OWNER}}
        not_personal_events = {"Registered": {"id_type"}}   # a personal-looking name that is not

A field's person is OWNER (the aggregate's person: its attribute `personal_owner`, read from the event,
else from the aggregate being saved), the name of the event's attribute holding the person's user id
(so a field naming another person, a handover's, uses that person's key), or a function of the event's
state. A snapshot seals the aggregate's attributes of the same names, with the owner's key.

A sealed field is stored as {"$sealed": person_id, "$v": base64(nonce + ciphertext + tag)}, AES-GCM
with associated data = topic, originator id, originator version and field: moved elsewhere, it does not
open. Events stored before sealing read as they were: they hold no sealed value.
"""
import base64
from binascii import b2a_base64
import threading

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.domain import CanSnapshotAggregate, HasOriginatorIDVersion
from eventsourcing.persistence import Mapper, MapperDeserialisationError, find_id_convertor
from eventsourcing.utils import get_topic, resolve_topic

from contracts.masking import ERASED  # noqa: F401 (what a field of an erased person reads as)
from contracts.personal import persons_of

from . import fastjson
from .nonces import nonce as random_nonce
from .person_keys import PersonErased

OWNER = None
ORIGINATOR = "originator_id"
BY, VALUE = "$sealed", "$v"
NONCE = 12
_saving = threading.local()  # green under eventlet: the aggregates the current save records


class PersonalData:
    """Mixin of an aggregate (before `Aggregate` in its bases) whose events hold personal fields."""

    personal_owner = "user_id"
    personal_events = {}
    not_personal_events = {}
    personal_state = {}  # snapshot attributes: {attribute: person}, where no event field names it or not the owner
    personal_owner_optional = False  # True: a field whose person is None is stored as it is (CommandRecord)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)  # eventsourcing defines the event classes
        snapshot = {}
        for name, fields in cls.personal_events.items():
            getattr(cls, name).personal = dict(fields)
            snapshot.update((field, OWNER) for field in fields)
        snapshot.update(cls.personal_state)  # said of the snapshot's attribute: it wins
        for name, fields in cls.not_personal_events.items():
            getattr(cls, name).not_personal = frozenset(fields)
        for value in vars(cls).values():
            if isinstance(value, type) and issubclass(value, HasOriginatorIDVersion):
                value.personal_owner = cls.personal_owner
                value.personal_owner_optional = cls.personal_owner_optional
        cls.personal_snapshot = snapshot


class saving:
    """The aggregates a save records (ServiceApplication._record): an event that names no owner
    of its own takes its aggregate's."""

    def __init__(self, aggregates):
        self.aggregates = aggregates

    def __enter__(self):
        self.before = getattr(_saving, "aggregates", None)
        _saving.aggregates = self.aggregates

    def __exit__(self, *exc):
        _saving.aggregates = self.before


def _owner_of(owner, state, originator_id):
    if owner == ORIGINATOR:
        return originator_id
    if state.get(owner) is not None:
        return state[owner]
    aggregate = (getattr(_saving, "aggregates", None) or {}).get(originator_id)
    return getattr(aggregate, owner, None)


def _person(whose, owner, state, originator_id):
    if whose is OWNER:
        return _owner_of(owner, state, originator_id)
    if callable(whose):
        return whose(state, originator_id)
    return originator_id if whose == ORIGINATOR else state.get(whose)


def person_of(aggregate):
    """The person of the first personal field of `aggregate`'s pending events, or None: whose a
    command's answer is, saved with it (services/common/commands.py)."""
    for domain_event in getattr(aggregate, "_pending_events", ()):
        cls, state = type(domain_event), vars(domain_event)
        for field, whose in (getattr(cls, "personal", None) or {}).items():
            if state.get(field) is None:
                continue
            person = _person(whose, getattr(cls, "personal_owner", "user_id"), state, aggregate.id)
            if person is not None:
                return str(person)
    return None


def sealed(value):
    """Whether a stored value is a sealed personal field."""
    return value.__class__ is dict and BY in value


class _Aeads:
    """AES-GCM of each key in use, made once (its key schedule costs more than sealing a field)."""

    def __init__(self):
        self._made = {}

    def __call__(self, key):
        aead = self._made.get(key)
        if aead is None:
            if len(self._made) > 4096:
                self._made.clear()
            aead = self._made[key] = AESGCM(key)
        return aead


class SealingMapper(Mapper):
    """eventsourcing's Mapper, sealing personal fields with `keys` (set by the application)."""

    keys = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._aead = _Aeads()

    # -- to the store -------------------------------------------------------------------------------
    def to_stored_event(self, domain_event):
        cls = type(domain_event)
        if self.keys is not None:
            if _is_snapshot(cls):
                domain_event = self._sealed_snapshot(domain_event)
            elif getattr(cls, "personal", None):
                state = self._sealed_fields(domain_event, dict(vars(domain_event)), cls.personal,
                                            getattr(cls, "personal_owner", "user_id"), "",
                                            getattr(cls, "personal_owner_optional", False))
                domain_event = _event_with(cls, state)
        return super().to_stored_event(domain_event)

    def _sealed_snapshot(self, snapshot):
        fields = getattr(resolve_topic(snapshot.topic), "personal_snapshot", None)
        if not fields:
            return snapshot
        aggregate_class = resolve_topic(snapshot.topic)
        state = dict(vars(snapshot))
        state["state"] = self._sealed_fields(snapshot, dict(snapshot.state), fields,
                                             aggregate_class.personal_owner, "state.",
                                             aggregate_class.personal_owner_optional)
        return _event_with(type(snapshot), state)

    def _sealed_fields(self, domain_event, state, fields, owner, prefix, optional=False):
        topic, originator_id = get_topic(type(domain_event)), domain_event.originator_id
        for field, whose in fields.items():
            value = state.get(field)
            if value is None or sealed(value):
                continue
            person = _person(whose, owner, state, originator_id)
            if person is None and optional:
                continue
            if person is None:
                raise ValueError(f"{topic}: the personal field {field} names no person")
            try:
                key = self.keys.key_for(person)
            except PersonErased:
                state[field] = ERASED  # nothing of an erased person is stored again
                continue
            nonce = random_nonce()
            data = fastjson.dumps(value)
            bound = _bound(topic, originator_id, domain_event.originator_version, prefix + field)
            state[field] = {BY: str(person), VALUE: base64.b64encode(
                nonce + self._aead(key).encrypt(nonce, data, bound)).decode("ascii")}
        return state

    # -- from the store -----------------------------------------------------------------------------
    def to_domain_event(self, stored_event):
        cls = resolve_topic(stored_event.topic)
        try:
            stored_state = stored_event.state
            if self.cipher:
                stored_state = self.cipher.decrypt(stored_state)
            if self.compressor:
                stored_state = self.compressor.decompress(stored_state)
            event_state = self.transcoder.decode(stored_state)
        except Exception as exc:
            raise MapperDeserialisationError(
                f"Failed to deserialise state of stored event with topic '{stored_event.topic}', "
                f"originator_id '{stored_event.originator_id}' and originator_version "
                f"{stored_event.originator_version}: {exc}") from exc
        self._open(stored_event, event_state)  # before any upcaster
        id_convertor = find_id_convertor(cls, type(stored_event.originator_id))
        event_state["originator_id"] = id_convertor(stored_event.originator_id)
        event_state["originator_version"] = stored_event.originator_version
        class_version = getattr(cls, "class_version", 1)
        from_version = event_state.pop("class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(event_state)
            from_version += 1
        return _event_with(cls, event_state)

    def _open(self, stored_event, state, prefix=""):
        for field, value in state.items():
            if value.__class__ is not dict:
                continue
            if BY in value:
                state[field] = self._opened(stored_event, prefix + field, value)
            elif field == "state" and not prefix and "topic" in state:  # a snapshot's aggregate state
                self._open(stored_event, value, "state.")

    def _opened(self, stored_event, field, value):
        key = None if self.keys is None else self.keys.find(value[BY])
        if key is None:
            if self.keys is not None and self.keys.erased(value[BY]):
                return ERASED
            raise MapperDeserialisationError(  # not erased, yet no key: another key store than the one that sealed it
                f"no key in the key store for the sealed field {field} of {stored_event.topic} "
                f"{stored_event.originator_id}: is EPORT_KEY_STORE the store's?")
        blob = base64.b64decode(value[VALUE])
        bound = _bound(stored_event.topic, stored_event.originator_id, stored_event.originator_version, field)
        try:
            return fastjson.loads(self._aead(key).decrypt(blob[:NONCE], blob[NONCE:], bound))
        except InvalidTag:
            raise MapperDeserialisationError(
                f"the sealed field {field} of {stored_event.topic} {stored_event.originator_id} "
                f"v{stored_event.originator_version} does not open: moved or damaged") from None


_snapshot_classes = {}


def _is_snapshot(cls):
    """issubclass(cls, CanSnapshotAggregate), once per class (its check walks typing's protocols)."""
    known = _snapshot_classes.get(cls)
    if known is None:
        known = _snapshot_classes[cls] = issubclass(cls, CanSnapshotAggregate)
    return known


def _bound(topic, originator_id, originator_version, field):
    return f"{topic}|{originator_id}|{originator_version}|{field}".encode()


def _event_with(cls, state):
    event = object.__new__(cls)
    object.__setattr__(event, "__dict__", state)
    return event


class PersonSeal:
    """Bytes sealed with the key of each person some envelopes name (contracts/personal.py), one layer
    per person: a row of a published log (services/common/published.py). `keys` None seals nothing."""

    def __init__(self, keys):
        self.keys = keys
        self._aead = _Aeads()

    def seal(self, envelopes, data, bound):
        """(the persons sealed for, the sealed bytes); an erased person's key is no more (their fields
        read `[已删除]` already)."""
        if self.keys is None:
            return (), data
        sealed_for = []
        for person in sorted({p for envelope in envelopes for p in persons_of(envelope)}):
            try:
                key = self.keys.key_for(person)
            except PersonErased:
                continue
            nonce = random_nonce()
            data = nonce + self._aead(key).encrypt(nonce, data, bound + person.encode())
            sealed_for.append(person)
        return tuple(sealed_for), data

    def open(self, persons, data, bound):
        """The bytes, or None when the key of a person they were sealed for is gone (erased)."""
        for person in reversed(persons.split(",") if persons else ()):
            key = None if self.keys is None else self.keys.find(person)
            if key is None:
                return None
            data = self._aead(key).decrypt(data[:NONCE], data[NONCE:], bound + person.encode())
        return data


class FieldSeal:
    """The personal fields of a payload (contracts/personal.py: {field: the payload field holding its
    person's user id}) sealed each with its person's key, in the Mapper's format; bound to `bound`
    (where the payload is kept) and the field. The audit log's payloads (services/audit/store.py)."""

    def __init__(self, keys):
        self.keys = keys
        self._aead = _Aeads()

    def seal(self, payload, fields, bound):
        """A copy of the payload with its personal fields sealed; an erased person's read ERASED."""
        sealed_payload = dict(payload)
        for field, whose in fields.items():
            value, person = payload.get(field), payload.get(whose)
            if value is None or value == ERASED or sealed(value) or not person:
                continue
            try:
                key = self.keys.key_for(person)
            except PersonErased:
                sealed_payload[field] = ERASED
                continue
            nonce = random_nonce()
            data = fastjson.dumps(value)
            sealed_payload[field] = {BY: str(person), VALUE: b2a_base64(
                nonce + self._aead(key).encrypt(nonce, data, bound + b"|" + field.encode()), newline=False).decode()}
        return sealed_payload

    def open(self, payload, bound):
        """The payload with each sealed field opened; ERASED where its person's key was destroyed."""
        if not any(sealed(v) for v in payload.values()):
            return payload
        return {field: self._opened(field, value, bound) if sealed(value) else value
                for field, value in payload.items()}

    def _opened(self, field, value, bound):
        key = self.keys.find(value[BY])
        if key is None:
            if self.keys.erased(value[BY]):
                return ERASED
            raise KeyError(f"no key in the key store for the sealed field {field}: is EPORT_KEY_STORE the log's?")
        blob = base64.b64decode(value[VALUE])
        return fastjson.loads(self._aead(key).decrypt(blob[:NONCE], blob[NONCE:], bound + b"|" + field.encode()))
