"""The garbage collector's thresholds in the processes that run syncs (core/collector.py, config/celery.py)."""

import gc

import pytest
from celery import signals

import config.celery
from core.collector import tune_for_runs
from tests.security.test_production_settings import refusal, start


@pytest.fixture
def pythons_thresholds():
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


def test_a_worker_collects_with_the_configured_thresholds(settings, pythons_thresholds):
    settings.WORKER_GC_THRESHOLDS = (20000, 20, 20)
    assert tune_for_runs() == (20000, 20, 20) == gc.get_threshold()


def test_none_configured_leaves_pythons(settings, pythons_thresholds):
    settings.WORKER_GC_THRESHOLDS = ()
    assert tune_for_runs() == (700, 10, 10)


def test_the_worker_process_and_each_pool_process_set_them_when_they_start(settings, pythons_thresholds):
    for signal in (signals.worker_init, signals.worker_process_init):
        assert config.celery._tune_the_collector in signal._live_receivers(None), signal.name
    settings.WORKER_GC_THRESHOLDS = (15000, 12, 30)
    config.celery._tune_the_collector(sender=None)
    assert gc.get_threshold() == (15000, 12, 30)


def test_the_setting_is_read_from_the_environment_and_refused_when_it_is_not_three_numbers():
    code = "import django; django.setup(); from django.conf import settings as s; print(s.WORKER_GC_THRESHOLDS)"
    default = start(code, ENVIRONMENT="development")
    assert default.returncode == 0, default.stderr
    assert default.stdout.split("\n")[-2] == "(20000, 20, 20)"
    assert start(code, ENVIRONMENT="development", WORKER_GC_THRESHOLDS="").stdout.split("\n")[-2] == "()"
    for wrong in ("20000,20", "a,b,c", "20000,0,20"):
        message = refusal(start(ENVIRONMENT="development", WORKER_GC_THRESHOLDS=wrong))
        assert message.startswith("WORKER_GC_THRESHOLDS must be three whole numbers"), (wrong, message)
