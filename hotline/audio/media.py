"""Audio files under /audio/: immutable by name, so cached for a year; the manifest is not.

Only the files the manifest lists are served (and the manifest): a recording is a source, maybe a
volunteer's own voice, and any other file in the cache folder is nobody's business."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, send_from_directory

from hotline.audio.library import MANIFEST

bp = Blueprint("audio", __name__, url_prefix="/audio")
ONE_YEAR = 365 * 24 * 3600


@bp.get("/<path:name>")
def file(name: str) -> Response:
    """One audio file (or the manifest, which changes and is never cached)."""
    library = current_app.extensions["hotline"].audio
    root = library.root
    if name != MANIFEST and not library.lists(name):
        abort(404)
    if name == MANIFEST:
        response = send_from_directory(root, name, max_age=0)
        response.headers["Cache-Control"] = "no-cache"
        return response
    response = send_from_directory(root, name, max_age=ONE_YEAR)
    response.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    return response
