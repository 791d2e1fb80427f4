"""A person's copy of their data (shared/API.md "Personal data", PIPL Art. 45): the document POST
/api/v1/me/export answers, assembled from each service's part, and its JSON Schema, which ships with
the platform (contracts/schemas/personal-data-export.json) and is published in /openapi.json."""
import copy
import json
from importlib import resources

FORMAT, VERSION = "eport-personal-data-export", 1
# Each service's `personal_data(user_id)` RPC answers these keys of the document.
PARTS = {"identity": ("account", "logins", "account_history"),
         "enterprise": ("associations", "enterprise_events"),
         "card": ("card_bindings", "cards", "card_challenges"),
         "authz": ("grants",), "notify": ("inbox",), "audit": ("audit",), "sso": ("sso",)}
OPENAPI_NAME = "PersonalDataExport"


def export_schema():
    """The JSON Schema (draft 2020-12) of the document."""
    return json.loads(resources.files("contracts.schemas").joinpath("personal-data-export.json").read_text("utf-8"))


def assemble(user_id, exported_at, parts):
    """The document of `parts` ({service: its answer}); a part missing a key it owes is an error."""
    document = {"format": FORMAT, "version": VERSION, "user_id": user_id, "exported_at": exported_at}
    for service, keys in PARTS.items():
        for key in keys:
            document[key] = parts[service][key]
    return document


def openapi_components():
    """The schema as OpenAPI 3.0 components: {name: schema}, its $defs as PersonalData<Name>, a
    type [T, "null"] as nullable."""
    schema = export_schema()
    defs = schema.pop("$defs")
    for key in ("$schema", "$id"):
        schema.pop(key)
    components = {OPENAPI_NAME: _openapi(schema)}
    components.update({f"PersonalData{name}": _openapi(d) for name, d in defs.items()})
    return components


def _openapi(node):
    node = copy.deepcopy(node)
    if isinstance(node, list):
        return [_openapi(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "$ref":
            out[key] = "#/components/schemas/PersonalData" + value.rsplit("/", 1)[1]
        elif key == "type" and isinstance(value, list):
            out["type"], out["nullable"] = next(t for t in value if t != "null"), True
        elif key == "title":
            continue
        else:
            out[key] = _openapi(value)
    return out
