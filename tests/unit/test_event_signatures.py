"""The origin of an event (contracts/signatures.py, services/common/event_keys.py): only the key
published for a source verifies that source's envelopes, and nothing of them may change."""
import base64
import json
import secrets

import pytest

from contracts.envelope import make_envelope, read_envelope
from contracts.identity import PASSWORD_SET
from contracts.signatures import KeySet, OriginNotProven, Signer, canonical, private_key_of
from services.common import event_keys
from services.common.secret_rules import SecretRefused

pytestmark = pytest.mark.unit

USER = "4b0e6a57-6c36-4f55-8c41-5c2b8f7d9e01"


def envelope(**overrides):
    kwargs = dict(aggregate_id=USER, aggregate_version=2, occurred_at="2026-01-01T00:00:00+00:00",
                  payload={"user_id": USER, "reason": "setup"})
    return make_envelope(PASSWORD_SET, **(kwargs | overrides))


def test_a_signed_envelope_verifies_through_json_and_with_its_position():
    signed = event_keys.signed(envelope())
    again = json.loads(json.dumps(signed, ensure_ascii=True, indent=2))  # any JSON encoding of it
    assert event_keys.verified(again, "identity") == again
    assert event_keys.verified({**again, "position": 7}) and read_envelope(again)["signature"] == signed["signature"]


@pytest.mark.parametrize("change", [
    lambda e: e.pop("signature"),
    lambda e: e.update(aggregate_version=2 ** 40),
    lambda e: e["payload"].update(user_id="00000000-0000-4000-8000-000000000000"),
    lambda e: e.update(actor_user_id=USER),
    lambda e: e["signature"].update(sig=e["signature"]["sig"][:-4] + "AAAA"),
    lambda e: e["signature"].update(kid="unknown"),
])
def test_an_unsigned_or_altered_envelope_is_refused(change):
    forged = json.loads(json.dumps(event_keys.signed(envelope())))
    change(forged)
    with pytest.raises(OriginNotProven):
        event_keys.verified(forged)


def test_one_service_cannot_speak_for_another():
    """enterprise's own key, on an envelope that says it is identity's (or re-labelled enterprise's)."""
    as_enterprise = dict(envelope(), source="enterprise")
    by_enterprise = event_keys.signer("enterprise").sign(as_enterprise)
    with pytest.raises(OriginNotProven, match="key of enterprise"):
        event_keys.verified({**by_enterprise, "source": "identity"})
    with pytest.raises(OriginNotProven):
        event_keys.verified(by_enterprise, source="identity")  # a genuine event on the wrong subscription
    with pytest.raises(OriginNotProven):
        event_keys.signer("enterprise").sign(envelope())  # a signer signs its own source only


def test_canonical_form_is_sorted_compact_utf8():
    e = envelope(correlation_id="r-1")
    text = canonical({**e, "signature": {"kid": "k", "sig": "s"}, "position": 3}).decode()
    assert text.startswith('{"actor_user_id":null,"aggregate_id":') and "signature" not in text
    assert "position" not in text and ", " not in text


def test_a_key_set_refuses_one_key_for_two_sources():
    key = private_key_of(secrets.token_bytes(32))
    jwks = [Signer("identity", key).jwk, Signer("enterprise", key).jwk]
    with pytest.raises(ValueError, match="both"):
        KeySet({"keys": jwks})


def _seed():
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _production(monkeypatch, tmp_path, **env):
    monkeypatch.setenv("EPORT_ENV", "production")
    monkeypatch.setenv("EPORT_VAR", str(tmp_path))
    monkeypatch.setenv("EPORT_CIPHER_KEY", base64.b64encode(secrets.token_bytes(32)).decode())
    monkeypatch.setenv("EPORT_INDEX_KEY", secrets.token_hex(32))
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def _key_file(tmp_path, **seeds):
    path = tmp_path / "event-keys.json"
    path.write_text(json.dumps({"keys": [Signer(s, private_key_of(base64.b64decode(seed))).jwk
                                         for s, seed in seeds.items()]}))
    return str(path)


def test_outside_development_a_publisher_needs_its_own_published_key(monkeypatch, tmp_path):
    identity, card = _seed(), _seed()
    keys = _key_file(tmp_path, identity=identity, card=card)
    _production(monkeypatch, tmp_path, EPORT_EVENT_KEYS=keys, EPORT_EVENT_KEY=identity)
    assert event_keys.verified(event_keys.signed(envelope()), "identity")
    with pytest.raises(SecretRefused, match="publishes for card"):
        event_keys.signer("card")  # this process holds identity's key, not card's
    for refused in ("", "REPLACE-ME", base64.b64encode(b"short").decode(), base64.b64encode(bytes(32)).decode()):
        monkeypatch.setenv("EPORT_EVENT_KEY", refused)
        with pytest.raises(SecretRefused, match="EPORT_EVENT_KEY"):
            event_keys.signer("identity")


def test_outside_development_a_reused_or_unpublished_key_is_refused(monkeypatch, tmp_path):
    cipher = base64.b64encode(secrets.token_bytes(32)).decode()
    _production(monkeypatch, tmp_path, EPORT_EVENT_KEYS=_key_file(tmp_path, identity=cipher))
    monkeypatch.setenv("EPORT_CIPHER_KEY", cipher)
    monkeypatch.setenv("EPORT_EVENT_KEY", cipher)
    with pytest.raises(SecretRefused, match="same key"):
        event_keys.signer("identity")
    monkeypatch.setenv("EPORT_CIPHER_KEY", base64.b64encode(secrets.token_bytes(32)).decode())
    monkeypatch.setenv("EPORT_EVENT_KEY", _seed())
    with pytest.raises(SecretRefused, match="publishes for identity"):
        event_keys.signer("identity")


def test_outside_development_a_consumer_needs_the_published_keys(monkeypatch, tmp_path):
    _production(monkeypatch, tmp_path)
    with pytest.raises(SecretRefused, match="EPORT_EVENT_KEYS"):
        event_keys.key_set()
    (tmp_path / "bad.json").write_text("{not json")
    monkeypatch.setenv("EPORT_EVENT_KEYS", str(tmp_path / "bad.json"))
    with pytest.raises(SecretRefused, match="EPORT_EVENT_KEYS"):
        event_keys.key_set()


def _window(items, source="identity", after=0, limit=3, until=None, challenge="c-1", signer=None):
    """`ops_events`' answer to a rebuild (services/common/operations.py), as it arrives: a window signed
    by `signer` (the source by default) for the request (after, limit, until, challenge)."""
    from services.common.windows import signed_window
    page = {"items": items, "next": 3, "end": 3}
    return json.loads(signed_window(signer or source, page, after, limit, None, until, challenge).text)


def _genuine():
    return [{**event_keys.signed(envelope(aggregate_version=v)), "position": v} for v in (1, 2, 3)]


def _asked(source="identity", after=0, limit=3, until=None, challenge="c-1"):
    from contracts.signatures import window_request
    return window_request(source, after, limit, None, until, challenge)


def test_a_rebuild_believes_the_window_its_upstream_signed_for_its_request():
    from services.common.windows import window_page
    genuine = _genuine()
    assert window_page(_window(genuine), "identity", _asked()) == {"items": genuine, "next": 3, "end": 3}


@pytest.mark.parametrize("change", [
    lambda w: w.replace('"aggregate_version":2', '"aggregate_version":9', 1),  # one event altered
    lambda w: w.replace('"items":[', '"items":[' + json.dumps(  # one event forged, signed by no one
        {**envelope(aggregate_version=7), "signature": {"kid": "x", "sig": "AAAA"}, "position": 1}) + ",", 1),
    lambda w: w.replace('"next":3', '"next":900', 1),  # told to skip ahead
    lambda w: w.replace('"items":[', '"items":[' + w[w.index('"items":[') + 9:w.index('},{') + 1] + ",", 1),  # doubled
])
def test_a_window_with_one_event_altered_forged_or_added_or_its_end_moved_is_refused(change):
    from services.common.windows import window_page
    answer = _window(_genuine())
    changed = {**answer, "window": change(answer["window"])}
    assert changed["window"] != answer["window"] and json.loads(changed["window"])
    with pytest.raises(OriginNotProven, match="does not match the window"):
        window_page(changed, "identity", _asked())


@pytest.mark.parametrize("asked", [_asked(after=3), _asked(until=2), _asked(limit=1000), _asked(challenge="c-2"),
                                   _asked(source="card")])
def test_a_window_signed_for_another_request_is_refused(asked):
    """Moved to another window, or replayed from an earlier request: the challenge is the caller's own."""
    from services.common.windows import window_page
    with pytest.raises(OriginNotProven):
        window_page(_window(_genuine()), json.loads(asked)[0], asked)


def test_a_window_not_signed_by_its_source_or_not_a_window_is_refused():
    from services.common.windows import window_page
    genuine = _genuine()
    by_card = _window(genuine, signer="card")
    with pytest.raises(OriginNotProven, match="key of card"):
        window_page(by_card, "identity", _asked())
    answer = _window(genuine)
    for refused in ({"items": genuine, "next": 3, "end": 3},  # each event signed, the page not: next and end not
                    {"window": answer["window"]}, {**answer, "signature": {"kid": answer["signature"]["kid"]}},
                    {**answer, "window": answer["window"].encode()}, None):
        with pytest.raises(OriginNotProven):
            window_page(refused, "identity", _asked())


def test_in_a_signed_window_an_event_of_another_source_or_signed_by_no_key_of_its_own_is_left_out():
    from services.common.windows import window_page
    genuine = {**event_keys.signed(envelope()), "position": 1}
    unsigned = {**envelope(aggregate_version=9), "position": 2}
    by_card = {**event_keys.signer("card").sign(dict(envelope(aggregate_version=3), source="card")),
               "source": "identity", "position": 3}
    of_card = {**event_keys.signer("card").sign(dict(envelope(aggregate_version=4), source="card")), "position": 3}
    page = window_page(_window([genuine, unsigned, by_card, of_card]), "identity", _asked())
    assert page == {"items": [genuine], "next": 3, "end": 3}


def test_the_generated_keys_are_what_a_production_service_signs_and_verifies_with(monkeypatch, tmp_path):
    from deploy.event_keys import add, generate
    out = generate(tmp_path / "keys")
    identity = (out / "identity.env").read_text().strip().split("=", 1)[1]
    _production(monkeypatch, tmp_path, EPORT_EVENT_KEYS=str(out / "public.json"), EPORT_EVENT_KEY=identity)
    event = event_keys.signed(envelope())
    add(out, "identity")  # rotation: the new key is published beside the old one
    rotated = (out / "identity.env").read_text().strip().split("=", 1)[1]
    monkeypatch.setenv("EPORT_EVENT_KEY", rotated)
    assert event_keys.verified(event) and event_keys.verified(event_keys.signed(envelope()))
    assert event["signature"]["kid"] != event_keys.signed(envelope())["signature"]["kid"]


def test_an_operator_record_names_the_broker_user_and_is_refused_without_one():
    from contracts.errors import ServiceError, ValidationFailed
    from services.audit.operations import operation_record
    record = operation_record("eport-operator", "replay", "crm.identity-events", {"service": "identity"}, now=0)
    assert record["source"] == "eport" and record["event_type"] == "OperatorActed"
    assert record["payload"] == {"operator": "eport-operator", "action": "replay", "target": "crm.identity-events",
                                 "details": {"service": "identity"}}
    assert record["occurred_at"] == "1970-01-01T00:00:00+00:00"
    with pytest.raises(ServiceError) as refused:
        operation_record(None, "replay", "q")  # a request RabbitMQ vouched for no user of
    assert refused.value.code == "FORBIDDEN"
    with pytest.raises(ValidationFailed):
        operation_record("eport-operator", "delete-everything", "q", {"x": "y" * 5000})


@pytest.mark.parametrize("challenge", ["", "x" * 65, 7, ["c"], {"c": 1}])
def test_a_challenge_that_is_no_short_text_is_refused_naming_it(challenge):
    from contracts.errors import ValidationFailed
    from services.common.windows import signed_window
    with pytest.raises(ValidationFailed) as refused:
        signed_window("identity", {"items": [], "next": 0, "end": 0}, 0, 1, None, None, challenge)
    assert "challenge" in refused.value.details


def _inline_reply(items, signer="identity", challenge="c-1", form="inline-sha256"):
    """The body of `ops_events`' reply asked with form="inline-sha256" (or `form`), as rpc.UnconfirmedResponder
    sends it."""
    from services.common.windows import WINDOW_TYPE, signed_window
    answer = signed_window(signer, {"items": items, "next": 3, "end": 3}, 0, 3, None, None, challenge, form)
    assert answer.content_type == WINDOW_TYPE
    return b'{"result":%s,"error":null}' % answer.data


def _read_inline(body):
    """What the rebuild's reply listener makes of a reply of WINDOW_TYPE (kombu calls the decoder registered)."""
    import kombu.serialization

    from services.common.windows import WINDOW_TYPE
    reply = kombu.serialization.loads(body, WINDOW_TYPE, "binary", accept=[WINDOW_TYPE])
    assert reply["error"] is None
    return reply["result"]


@pytest.mark.parametrize("form", ["inline-sha256", "inline"])
def test_a_window_carried_inline_is_one_json_document_parsed_once_from_the_bytes_signed(form):
    from services.common.windows import window_page
    genuine = _genuine()
    body = _inline_reply(genuine, form=form)
    assert json.loads(body)["result"]["window"] == {"items": genuine, "next": 3, "end": 3}  # JSON all through
    assert b'\\"' not in body, "the window is not a JSON string inside the reply"
    assert window_page(_read_inline(body), "identity", _asked()) == {"items": genuine, "next": 3, "end": 3}


@pytest.mark.parametrize("change", [
    lambda body: body.replace(b'"aggregate_version":2', b'"aggregate_version":7'),  # an event altered
    lambda body: body.replace(b',"next":3', b',"next":2'),  # the window's end moved
    lambda body: body.replace(b'},"error":null}', b',"items":[]},"error":null}'),  # a key added after it
    lambda body: body.replace(b',"window":{', b',"window":{"x":1,', 1),  # a key added before its items
])
@pytest.mark.parametrize("form", ["inline-sha256", "inline"])
def test_a_window_carried_inline_altered_anywhere_is_refused(change, form):
    from services.common.windows import window_page
    body = _inline_reply(_genuine(), form=form)
    changed = change(body)
    assert changed != body and json.loads(changed)
    with pytest.raises(OriginNotProven, match="does not match the window"):
        window_page(_read_inline(changed), "identity", _asked())


def test_an_inline_reply_of_another_source_key_or_not_of_the_form_is_refused():
    from services.common.windows import window_page
    with pytest.raises(OriginNotProven, match="key of card"):
        window_page(_read_inline(_inline_reply(_genuine(), signer="card")), "identity", _asked())
    body = _inline_reply(_genuine())
    signature, window = (json.dumps(json.loads(body)["result"][k]).encode() for k in ("signature", "window"))
    for refused in (b'{"result":{"window":%s,"signature":%s},"error":null}' % (window, signature),  # turned round
                    body[:-1], b'{"result":{"signature":null,"window":{}},"error":null}',
                    b'{"result":{"signature":{"kid":,"window":{}},"error":null}'):
        with pytest.raises(OriginNotProven):
            window_page(_read_inline(refused), "identity", _asked())


def test_inline_sha256_is_signed_over_the_windows_digest_and_says_so_and_neither_passes_for_the_other():
    """The signature names its digest; one moved to the other form (the member added or taken away,
    or another digest named) verifies nothing: their domains differ."""
    from services.common.windows import window_page
    bodies = {form: _inline_reply(_genuine(), form=form) for form in ("inline-sha256", "inline")}
    digest, whole = (json.loads(body)["result"]["signature"] for body in bodies.values())
    assert digest["digest"] == "sha-256" and "digest" not in whole

    def signed_by(signature, form="inline-sha256"):  # the same window's bytes, another signature
        body = bodies[form]
        return b'{"result":{"signature":%s%s' % (json.dumps(signature).encode(), body[body.index(b',"window":'):])

    for form, signature in (("inline-sha256", digest), ("inline", whole)):
        assert window_page(_read_inline(signed_by(signature, form)), "identity", _asked())["items"] == _genuine()
    for signature, match in (({k: v for k, v in digest.items() if k != "digest"}, "does not match"),
                             ({**whole, "digest": "sha-256"}, "does not match"),
                             ({**digest, "digest": "sha-1"}, "unknown digest"),
                             ({**digest, "digest": None}, "unknown digest")):
        with pytest.raises(OriginNotProven, match=match):
            window_page(_read_inline(signed_by(signature)), "identity", _asked())


@pytest.mark.parametrize("asked", [_asked(after=3), _asked(until=2), _asked(limit=1000), _asked(challenge="c-2"),
                                   _asked(source="card")])
def test_a_window_signed_over_its_digest_for_another_request_is_refused(asked):
    """The digest form binds the request as the other forms do: moved or replayed, it verifies nothing."""
    from services.common.windows import window_page
    body = _inline_reply(_genuine())
    assert window_page(_read_inline(body), "identity", _asked())["items"] == _genuine()
    with pytest.raises(OriginNotProven):
        window_page(_read_inline(body), json.loads(asked)[0], asked)


@pytest.mark.parametrize("form", ["", "string", 1, ["inline"], "inline-sha1", "INLINE"])
def test_a_form_other_than_inline_is_refused_naming_it(form):
    from contracts.errors import ValidationFailed
    from services.common.windows import signed_window
    with pytest.raises(ValidationFailed) as refused:
        signed_window("identity", {"items": [], "next": 0, "end": 0}, 0, 1, None, None, "c-1", form)
    assert "form" in refused.value.details
