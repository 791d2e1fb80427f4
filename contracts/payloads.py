"""Dumping and checking an event's payload in one pass, for the flat schemas contracts/ declares.

Every envelope the platform makes (the relay's, `eport events`, a replay, a rebuild) passes its
payload through `schema.validate(schema.dump(payload))`: marshmallow's two walks cost more than
the rest of the envelope, and a rebuild makes one for every event a store holds. A schema whose
fields are all plain String, Integer or Boolean fields, checked by OneOf at most, gets a compiled
`Flat` instead. It answers only what it is sure of: a payload it accepts is the body marshmallow
would dump, with no error; anything else (a wrong type, a missing or unknown value, a field or
validator it does not know) goes to marshmallow, which makes the body or the exact error.
tests/unit/test_payloads.py holds the two to the same answers for every declared event type.
"""
import uuid

from marshmallow import fields, validate
from marshmallow.utils import missing

SLOW = object()  # "ask marshmallow"


def _string(field):
    choices = _choices(field)

    def check(value):
        if type(value) is not str:
            if not isinstance(value, uuid.UUID):
                return SLOW
            value = str(value)
        return value if choices is None or value in choices else SLOW
    return check


def _integer(field):
    if field.as_string or _choices(field) is not None:
        return None
    return lambda value: value if type(value) is int else SLOW


def _boolean(field):
    if _choices(field) is not None:
        return None
    return lambda value: value if value is True or value is False else SLOW


KINDS = {fields.String: _string, fields.Integer: _integer, fields.Boolean: _boolean}


def _choices(field):
    """The OneOf choices checking the field (None: no validator); raises TypeError for another validator."""
    choices = None
    for validator in field.validators:
        if type(validator) is not validate.OneOf or choices is not None:
            raise TypeError(validator)
        choices = frozenset(validator.choices)
    return choices


def _plain(name, field):
    return (field.data_key in (None, name) and field.attribute in (None, name)
            and field.dump_default is missing and not field.load_only and not field.dump_only)


class Flat:
    """`dump_checked(payload)`: the dumped body when it is valid for sure, else SLOW."""

    def __init__(self, checks):
        self.checks = checks  # (name, check, required, allow_none)

    @classmethod
    def compile(cls, schema):
        """A Flat for this schema instance, or None when it has anything Flat does not know."""
        if any(schema._hooks.values()) or schema.only or schema.exclude:
            return None
        checks = []
        for name, field in schema.fields.items():
            make = KINDS.get(type(field))
            if make is None or not _plain(name, field):
                return None
            try:
                check = make(field)
            except TypeError:
                return None
            if check is None:
                return None
            checks.append((name, check, field.required, field.allow_none))
        return cls(tuple(checks))

    def dump_checked(self, payload):
        if not isinstance(payload, dict):
            return SLOW
        body = {}
        for name, check, required, allow_none in self.checks:
            if name not in payload:
                if required:
                    return SLOW
                continue
            value = payload[name]
            if value is None:
                if not allow_none:
                    return SLOW
                body[name] = None
                continue
            value = check(value)
            if value is SLOW:
                return SLOW
            body[name] = value
        return body
