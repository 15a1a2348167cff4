"""gunicorn's settings for `bin/ml-connector web`, from the environment (README lists the variables).

The access log writes the path without its query string: an OAuth callback's `code` and `state`, or a
token a caller put in a URL, never reach it (config/logging.py masks any that would, as a second guard).
"""

import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{int(os.environ.get('PORT', '8000'))}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "1"))
timeout = int(os.environ.get("WEB_TIMEOUT", "60"))                     # a worker silent this long is restarted
graceful_timeout = int(os.environ.get("WEB_GRACEFUL_TIMEOUT", "30"))   # SIGTERM: requests in flight finish
keepalive = int(os.environ.get("WEB_KEEPALIVE", "5"))
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "2000"))          # recycle workers now and then
max_requests_jitter = max_requests // 10
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
worker_tmp_dir = os.environ.get("WEB_WORKER_TMP_DIR") or None

accesslog = "-"
errorlog = "-"
# %(U)s is the path alone (no query string); the request id is the one core.context echoes.
access_log_format = ('%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms '
                     'request_id=%({x-request-id}o)s')
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_query": {"()": "config.logging.RedactQueryValues"}},
    "formatters": {"json": {"()": "config.logging.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["redact_query"],
                             "stream": "ext://sys.stdout"}},
    "loggers": {"gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
                "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}


def child_exit(server, worker):
    # Prometheus multiprocess mode: a dead worker's live gauges leave the figures.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
