"""The web UI's URL map: every page module adds its routes to the one ``ui`` blueprint, which
``create_app`` registers. Also the versioned static files and refusals rendered as pages."""

from __future__ import annotations

from typing import Any, cast

from flask import Flask, redirect, request, url_for
from flask.blueprints import BlueprintSetupState

from server import errors
from server.ui import (  # noqa: F401 (each module adds its routes to the blueprint)
    auth,
    conflicts,
    devices,
    exports,
    forms,
    home,
    hub,
    people,
    records,
    reports,
    submissions,
)
from server.ui.assets import serve
from server.ui.blueprint import blueprint
from server.ui.i18n import init_babel
from server.ui.pages import page

__all__ = ["blueprint"]


@blueprint.record_once
def _setup(state: BlueprintSetupState) -> None:
    init_babel(cast(Flask, state.app))


@blueprint.get("/static/<digest>/<path:path>")
def static(digest: str, path: str) -> Any:
    return serve(digest, path)


@blueprint.errorhandler(errors.Problem)
def _refused(exc: errors.Problem) -> Any:
    if exc.status == 401:
        return redirect(url_for("ui.login", next=request.full_path.rstrip("?")))
    response = page("problem.html", problem=exc, status=exc.status)
    response.headers.update(exc.headers)
    return response
