"""The HTTP layer, and the only importer of Flask, werkzeug and flask-smorest: the app, auth,
sessions, errors, limits, logs, metrics, the JSON API (``api/``) and the web pages (``web/``).
Views are thin: parse, call one workflow, answer."""
