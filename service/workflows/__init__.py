"""Use cases: ``(ws, principal, input) → result``. They own their transactions and write the
audit events; they never see a request."""
