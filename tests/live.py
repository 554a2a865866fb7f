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


def make_application():
    from tests.asgi import application

    return application
