"""The gateway serves the built web console at / (static files with cache headers, the SPA
fallback for the console's screens) without shadowing the API's own paths."""
import re

import pytest

from gateway.console import console_dir
from tests.support import http_error

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def built():
    if not (console_dir() / "index.html").is_file():
        pytest.skip("console/dist is not built: `make console` (make run and make test build it)")
    return console_dir()


def test_root_and_every_screen_path_get_the_console(api, built):
    index = (built / "index.html").read_text(encoding="utf-8")
    for path in ("/", "/login", "/register", "/workbench", "/messages", "/sso/login", "/sso/choose",
                 "/some/deep/screen"):
        r = api.get(path)
        assert r.status_code == 200, path
        assert r.headers["Content-Type"].startswith("text/html")
        assert r.text == index
        assert r.headers["Cache-Control"] == "no-cache"
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        assert r.headers["X-Frame-Options"] == "DENY"  # the single sign-on login may not be framed either
        assert "Access-Control-Allow-Origin" not in r.headers


def test_hashed_assets_are_cached_for_a_year_and_revalidate_by_etag(api, built):
    index = (built / "index.html").read_text(encoding="utf-8")
    script = re.search(r'src="(/assets/[^"]+\.js)"', index).group(1)
    r = api.get(script)
    assert r.status_code == 200
    assert "javascript" in r.headers["Content-Type"]
    assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    again = api.get(script, headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304


def test_the_api_paths_keep_their_json_answers(api, built):
    assert api.get("/healthz").json()["status"] == "ok"
    assert "paths" in api.get("/openapi.json").json()
    for path in ("/api/v1/no-such-thing", "/api/no-such", "/api", "/.well-known/nothing"):
        r = api.get(path)
        assert r.status_code == 404, path
        assert http_error(r)["code"] == "NOT_FOUND"
    r = api.get("/api/v1/me")
    assert r.status_code == 401 and http_error(r)["code"] == "UNAUTHENTICATED"
    r = api.post("/login")  # a console path takes only GET/HEAD
    assert r.status_code == 404 and http_error(r)["code"] == "NOT_FOUND"


def test_a_missing_file_is_a_404_not_the_console_and_nothing_outside_the_build_is_served(api, built):
    for path in ("/assets/missing-123.js", "/favicon.ico", "/..%2f..%2fpyproject.toml", "/%2e%2e/pyproject.toml",
                 "/assets/..%2f..%2f..%2fpyproject.toml"):
        r = api.get(path)
        assert r.status_code in (400, 404), path
        assert "eport-identity" not in r.text
