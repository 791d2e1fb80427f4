"""The API's lists come a page at a time over HTTP (API.md "General rules, added"): `limit` and
`cursor` in, `next_cursor` out; each item once, in the list's order; a limit out of range or a cursor
not of this list and caller is 400 VALIDATION_ERROR naming it, and shows nothing of anyone else's."""
import pytest

from tests.e2e.enterprise_people import apply, approve, register, register_enterprise, wait_for
from tests.support import http_error

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def firm(api):
    """An enterprise with its (certified) administrator, three members and two pending applicants;
    and a second enterprise of another administrator, with two members."""
    admin = register(api)
    eid, uscc = register_enterprise(api, admin)
    people = [register(api) for _ in range(5)]
    for person in people[:3]:
        approve(api, admin, apply(api, person, uscc))
    for person in people[3:]:
        apply(api, person, uscc)
    other_admin = register(api)
    other_eid, other_uscc = register_enterprise(api, other_admin)
    for other_member in (register(api), register(api)):
        approve(api, other_admin, apply(api, other_member, other_uscc))
    return {"admin": admin, "eid": eid, "people": people, "other_admin": other_admin, "other_eid": other_eid}


def lists_of(firm):
    """(path, token) of every paged list, as its owner reads it."""
    admin, eid = firm["admin"], firm["eid"]
    return {"messages": ("/api/v1/messages", admin.token),
            "members": (f"/api/v1/enterprises/{eid}/members", admin.token),
            "requests": (f"/api/v1/enterprises/{eid}/association-requests", admin.token),
            "audit": (f"/api/v1/enterprises/{eid}/audit-events", admin.token)}


def every_page(api, path, token, limit):
    items, cursor = [], None
    while True:
        r = api.get(path, token=token, params={"limit": limit, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= limit and "next_cursor" in page
        items += page["items"]
        if (cursor := page["next_cursor"]) is None:
            return items


def test_every_list_pages_each_item_once_in_its_order(api, firm):
    wait_for(lambda: len(api.get("/api/v1/messages", token=firm["admin"].token).json()["items"]) >= 5)
    for name, (path, token) in lists_of(firm).items():
        whole = api.get(path, token=token, params={"limit": 200}).json()
        assert whole["next_cursor"] is None, name
        paged = every_page(api, path, token, 2)
        assert paged == whole["items"] and len(paged) >= 3, name
    members = every_page(api, *lists_of(firm)["members"], 1)
    assert [m["user_id"] for m in members] == [firm["admin"].user_id] + [p.user_id for p in firm["people"][:3]]
    first = api.get("/api/v1/messages", token=firm["admin"].token, params={"limit": 1}).json()
    assert len(first["items"]) == 1 and first["unread_count"] >= 5  # the total, not the page's


@pytest.mark.parametrize("limit", ["0", "201", "x", "-1", "1.5"])
def test_a_limit_out_of_range_is_400_naming_it(api, firm, limit):
    for name, (path, token) in lists_of(firm).items():
        r = api.get(path, token=token, params={"limit": limit})
        assert r.status_code == 400, (name, r.text)
        assert http_error(r)["code"] == "VALIDATION_ERROR" and "limit" in http_error(r)["details"], name


def test_a_cursor_of_another_list_or_caller_shows_nothing_of_theirs(api, firm):
    other = {"admin": firm["other_admin"], "eid": firm["other_eid"]}
    mine, theirs = lists_of(firm), lists_of(other)
    cursors = {}
    for name, (path, token) in theirs.items():
        cursors[name] = wait_for(lambda p=path, t=token: api.get(p, token=t, params={"limit": 1}).json()["next_cursor"])
    for name, (path, token) in mine.items():
        for cursor in [*cursors.values(), "not-a-cursor", "eyJ4IjoxfQ", "A" * 600]:
            r = api.get(path, token=token, params={"cursor": cursor})
            assert r.status_code == 400, (name, cursor, r.text)
            error = http_error(r)
            assert error["code"] == "VALIDATION_ERROR" and list(error["details"]) == ["cursor"], (name, error)
    # and their own cursor opens none of their lists to the administrator of the first enterprise
    for name, (path, _) in theirs.items():
        if name != "messages":
            r = api.get(path, token=firm["admin"].token, params={"cursor": cursors[name]})
            assert r.status_code == 403, (name, r.text)


def test_the_document_publishes_the_pages(api):
    paths = api.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/messages", "/api/v1/enterprises/{enterprise_id}/members",
                 "/api/v1/enterprises/{enterprise_id}/association-requests",
                 "/api/v1/enterprises/{enterprise_id}/audit-events"):
        params = {p["name"] for p in paths[path]["get"].get("parameters", [])}
        assert {"limit", "cursor"} <= params, path
        answer = paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert "next_cursor" in str(answer) or "$ref" in answer, path
