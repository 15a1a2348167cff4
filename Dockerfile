# ml-connector's image: every process (web, worker, beat, migrate, check) is `bin/ml-connector <command>`.
# Not built in CI here (README, "Running it in production"); the entry script and settings it runs are tested.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH \
    PYTHON=/opt/venv/bin/python \
    DJANGO_SETTINGS_MODULE=config.settings \
    ENVIRONMENT=production \
    PORT=8000 \
    STATIC_ROOT=/srv/static \
    PROMETHEUS_MULTIPROC_DIR=/srv/metrics

RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt

RUN groupadd --system app && useradd --system --gid app --home-dir /srv/app --shell /usr/sbin/nologin app
WORKDIR /srv/app
COPY --chown=app:app . /srv/app
RUN rm -rf .venv var && mkdir -p /srv/static /srv/metrics && chown app:app /srv/static /srv/metrics

USER app
EXPOSE 8000
CMD ["bin/ml-connector", "web"]
