"""The blueprint every page registers on (its own module, so no view imports the package back).

Server-rendered Jinja2 pages at "/", plain CSS and JavaScript from ``/assets/``."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/assets",
)
