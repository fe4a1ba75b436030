"""Celery application: Redis in production, an SQLite file (kombu's SQLAlchemy transport) embedded by default."""
import os
import sys

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("duban")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _uses_sqlalchemy() -> bool:
    return app.conf.broker_url.startswith(("sqla+", "sqlalchemy+"))


def prepare_broker():
    """Create the embedded broker's tables and put its SQLite file in WAL mode, once, before the
    processes that share it start. (Each process would otherwise create the tables on first use,
    and two doing so at the same moment collide; WAL lets them read while one writes.)"""
    if not _uses_sqlalchemy():
        return
    from sqlalchemy import text

    with app.connection_for_write() as conn:
        session = conn.default_channel.session  # creates the tables if missing
        if session.bind.name == "sqlite":
            session.execute(text("PRAGMA journal_mode=WAL"))
        session.commit()


@app.task(ignore_result=True)
def prune_broker() -> int:
    """Delete the messages the SQLAlchemy transport has handed out: it only hides a message once
    a worker takes it (visible = false) and never reads that row again."""
    if not _uses_sqlalchemy():
        return 0
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        message = channel.message_cls
        deleted = (channel.session.query(message).filter(message.visible.is_(False))
                   .delete(synchronize_session=False))
        channel.session.commit()
    return deleted


def _drop_inherited_broker_connections():
    """A forked process (a worker's pool process) must not use its parent's SQLite connections:
    give the cached engines fresh connection pools, leaving the parent's connections alone."""
    transport = sys.modules.get("kombu.transport.sqlalchemy")
    if transport is not None:
        for engine, _session in transport.Channel._engines.values():
            engine.dispose(close=False)


os.register_at_fork(after_in_child=_drop_inherited_broker_connections)
