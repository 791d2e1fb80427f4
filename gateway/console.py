"""Serving the web console (console/, built into console/dist by `make run`) at `/`.

Only a GET or HEAD that no API route took comes here, and never one under the API's own paths:
those keep their JSON errors. A path naming a built file gets it (hashed assets cached for a
year, everything else revalidated); any other path is a screen of the console's router and gets
index.html (the SPA fallback). No file is read outside the build folder.
"""
import os
from pathlib import Path

from werkzeug.exceptions import NotFound
from werkzeug.utils import safe_join, send_file

from services.common.settings import setting

ROOT = Path(__file__).resolve().parents[1]
API_PREFIXES = ("/api/", "/.well-known/")
API_PATHS = ("/api", "/healthz", "/openapi.json", "/.well-known")
IMMUTABLE = "public, max-age=31536000, immutable"  # Vite names assets by their content hash
# Element Plus sets inline styles; the card agent answers on 127.0.0.1 (its prompt is framed)
POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
          "font-src 'self' data:; connect-src 'self' http://127.0.0.1:*; frame-src http://127.0.0.1:*; "
          "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def console_dir():
    return Path(setting("CONSOLE_DIST") or ROOT / "console" / "dist")


def is_api_path(path):
    return path in API_PATHS or path.startswith(API_PREFIXES)


def console_response(request):
    """The console's answer to `request`, or None when it is not the console's to answer."""
    if request.method not in ("GET", "HEAD") or is_api_path(request.path):
        return None
    folder = console_dir()
    index = folder / "index.html"
    if not index.is_file():
        return None
    relative = request.path.lstrip("/")
    target = safe_join(str(folder), relative) if relative else None
    if target and os.path.isfile(target):
        cache = IMMUTABLE if relative.startswith("assets/") else "no-cache"
        return _file(request, target, cache)
    if "." in relative.rsplit("/", 1)[-1]:
        return None  # a missing file, not a screen: 404
    return _file(request, str(index), "no-cache")


def _file(request, path, cache_control):
    try:
        response = send_file(path, request.environ, max_age=None, conditional=True, etag=True)
    except NotFound:
        return None
    response.headers["Cache-Control"] = cache_control
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    if path.endswith(".html"):
        response.headers["Content-Security-Policy"] = POLICY
        response.headers["X-Frame-Options"] = "DENY"  # frame-ancestors 'none', for browsers before CSP 2
    return response
