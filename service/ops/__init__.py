"""Running the service: the ``wenshu`` command, the server that supervises gunicorn and the
LibreOffice pool, and gunicorn's hooks."""
