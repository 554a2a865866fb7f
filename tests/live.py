"""Module-level helpers for the daphne test process (they must pickle)."""


def use_test_database() -> None:
    from django.conf import settings
    from django.db import connections

    database = settings.DATABASES["default"]
    test_name = database.get("TEST", {}).get("NAME")
    if test_name:
        database["NAME"] = test_name
    elif database["ENGINE"].endswith("postgresql"):
        database["NAME"] = "test_" + database["NAME"]
    connections.close_all()

    # daphne forks this process: if the tests already ran async ORM code, the child
    # inherits asgiref's thread-sensitive executor without its worker thread, and every
    # sync_to_async call would wait forever. Give the child a fresh executor.
    from concurrent.futures import ThreadPoolExecutor

    from asgiref.sync import SyncToAsync

    SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)

    # Transactional tests flush the database between them, content types included, which
    # come back with new ids: the server must not keep the old ones (admin log entries).
    from django.core.signals import request_started

    request_started.connect(_forget_content_types, dispatch_uid="tests_forget_content_types")

    # The child inherits the test session's objects (a forked pytest process's heap): keep
    # them out of its garbage collections, which would otherwise walk them all, holding
    # up its event loop for a third of a second late in a session.
    import gc

    gc.freeze()


def use_test_database_with_persistent_connections() -> None:
    """use_test_database, with the persistent connections (``CONN_MAX_AGE``) that
    docs/deployment.md recommends on PostgreSQL."""
    from django.conf import settings

    use_test_database()
    settings.DATABASES["default"]["CONN_MAX_AGE"] = 60


def _forget_content_types(**kwargs) -> None:
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()


def make_application():
    from tests.asgi import application

    return application


def serve_front_desk() -> None:
    """Setup of a daphne process running the sample-style backend, named in settings
    and nothing else, with no OpenAI API key (its plain Runner calls run offline)."""
    import os

    from django.conf import settings

    use_test_database()
    os.environ.pop("OPENAI_API_KEY", None)
    settings.CHATKIT = {"SERVER_CLASS": "tests.sample_backend.FrontDeskServer", "OFFLINE_REPLY_DELAY": 0}


def serve_anonymous_sessions() -> None:
    """Setup of a daphne process whose chat needs no login (AUTH_POLICY "anonymous_session")."""
    from django.conf import settings

    use_test_database()
    settings.CHATKIT = {**settings.CHATKIT, "AUTH_POLICY": "anonymous_session"}
