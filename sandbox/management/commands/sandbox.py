"""`python manage.py sandbox`: run the QBO and JAGGAER sandboxes until interrupted."""
from __future__ import annotations

import threading

from django.core.management.base import BaseCommand, CommandError

from sandbox.qbo.app import AUTHORIZE_PATH, REVOKE_PATH, TOKEN_PATH
from sandbox.qbo.oauth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from sandbox.runner import start_sandboxes


class Command(BaseCommand):
    help = "Run the simulated QuickBooks Online and JAGGAER servers on 127.0.0.1 until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--qbo-port", type=int, default=8101)
        parser.add_argument("--jaggaer-port", type=int, default=8102)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--dataset", choices=["small", "demo", "bench", "empty"], default="demo")
        parser.add_argument("--scale", type=float, default=1.0)
        parser.add_argument("--no-limits", action="store_true",
                            help="switch QBO's per-realm request limits off (load tests)")

    def handle(self, *args, **opts):
        limits = ({"requests_per_minute": None, "concurrent": None, "batches_per_minute": None}
                  if opts["no_limits"] else None)
        try:
            sb = start_sandboxes(opts["dataset"], opts["seed"], opts["scale"], qbo_port=opts["qbo_port"],
                                 jaggaer_port=opts["jaggaer_port"], host=opts["host"], qbo_limits=limits)
        except OSError as e:
            raise CommandError(f"could not start the sandboxes: {e}")
        out = self.stdout
        q = sb.qbo_url
        out.write(f"QBO sandbox      {q}  (dataset {opts['dataset']}, seed {opts['seed']})")
        out.write(f"  API base       {q}/v3/company/{sb.qbo.default_realm_id}")
        out.write(f"  authorize      {q}{AUTHORIZE_PATH}")
        out.write(f"  token          {q}{TOKEN_PATH}")
        out.write(f"  revoke         {q}{REVOKE_PATH}")
        out.write(f"  client         {DEFAULT_CLIENT_ID} / {DEFAULT_CLIENT_SECRET} (any redirect URI)")
        out.write(f"  default realm  {sb.qbo.default_realm_id}")
        out.write(f"  control        {q}/_sandbox/  (log, faults, latency, reset, realms, tokens/..., state/...)")
        for warning in sb.qbo.load_warnings:
            out.write(self.style.WARNING(f"  dataset note: {warning}"))
        out.write(f"JAGGAER sandbox  {sb.jaggaer_url}")
        out.write("  client         ml-sandbox-jaggaer / ml-sandbox-jaggaer-secret")
        stop = threading.Event()
        try:
            out.write("Ctrl-C to stop.")    # inside the try: a Ctrl-C right after it still stops the servers
            # Short waits: the kernel may hand Ctrl-C to a server thread, and Python runs the handler (raising
            # KeyboardInterrupt here) only when this thread next wakes; a long wait would hold it back.
            while not stop.wait(0.2):
                pass
        except KeyboardInterrupt:
            out.write("stopping")
        finally:
            sb.stop()
