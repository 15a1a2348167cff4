"""The scripted end-to-end demo behind `make demo` and `python manage.py demo`.

`scenario.run_demo()` does the work; the management command only parses options and sets the exit
status. Modules: `environment` (the demo's own SQLite file, sandboxes, settings pointed at them),
`server` (our app as a real HTTP server in a background thread), `portal` (a partner portal's
HTTP calls to our public API), `checks` (what must hold for the demo to pass), `scenario` (the story).
"""
