"""Entity sources for @-mentions: registration, per-user search, resolution, the HTTP API."""

from __future__ import annotations

import pytest
from chatkit.widgets import Card, Text
from django.test import Client, override_settings

from django_chatkit import entities
from tests.models import Note

pytestmark = pytest.mark.django_db


def register_notes(**options):
    defaults = dict(
        key="note",
        search_fields=["title", "body"],
        group="Notes",
        icon="document",
        data=lambda note: {"type": "note", "note_id": str(note.pk)},
        visible_to=lambda user: Note.objects.filter(owner_id=getattr(user, "pk", None)),
        describe=lambda note: f"Note body: {note.body}",
        preview=lambda note: Card(children=[Text(id="t", value=note.title)]),
    )
    defaults.update(options)
    return entities.register_model(Note, **defaults)


@pytest.fixture(autouse=True)
def fresh_registry():
    entities.entity_sources.reset()
    yield
    entities.entity_sources.reset()


@pytest.fixture
def notes(user, other_user):
    return {
        "mine": Note.objects.create(owner=user, title="Groceries", body="milk and eggs"),
        "mine2": Note.objects.create(owner=user, title="Garden plan", body="tomatoes"),
        "theirs": Note.objects.create(owner=other_user, title="Grocery secrets", body="bob's private list"),
    }


def test_search_returns_only_rows_the_user_may_see(user, other_user, notes):
    register_notes()
    found = entities.search_entities(user, "groc")
    assert [e["title"] for e in found] == ["Groceries"]
    entity = found[0]
    assert entity == {
        "id": f"note:{notes['mine'].pk}",
        "title": "Groceries",
        "group": "Notes",
        "icon": "document",
        "interactive": True,
        "data": {"type": "note", "note_id": str(notes["mine"].pk)},
        "name": "Groceries",
        "type": "note",
    }
    assert [e["title"] for e in entities.search_entities(other_user, "groc")] == ["Grocery secrets"]


def test_empty_query_lists_visible_rows_up_to_the_limit(user, notes):
    register_notes()
    assert [e["title"] for e in entities.search_entities(user, "")] == ["Groceries", "Garden plan"]
    assert len(entities.search_entities(user, "", limit=1)) == 1


def test_search_covers_every_search_field(user, notes):
    register_notes()
    assert [e["title"] for e in entities.search_entities(user, "tomato")] == ["Garden plan"]


def test_resolve_rechecks_visibility(user, other_user, notes):
    register_notes()
    resolved = entities.resolve_entity(user, f"note:{notes['mine'].pk}")
    assert resolved is not None and resolved.title == "Groceries"
    assert resolved.description == "Note body: milk and eggs"
    assert entities.resolve_entity(user, f"note:{notes['theirs'].pk}") is None
    assert entities.resolve_entity(other_user, f"note:{notes['theirs'].pk}") is not None


@pytest.mark.parametrize("entity_id", ["note:999999", "note:abc", "nosuch:1", "garbage", "", "note:"])
def test_resolve_of_unknown_or_malformed_ids_is_none(user, notes, entity_id):
    register_notes()
    assert entities.resolve_entity(user, entity_id) is None


def test_callable_source(user):
    people = {"1": {"id": "1", "title": "Ada Lovelace", "data": {"type": "person"}, "description": "mathematician"}}
    entities.register_callable(
        "person",
        search=lambda u, q, limit: [p for p in people.values() if q.lower() in p["title"].lower()],
        resolve=lambda u, local_id: people.get(local_id),
        group="People",
        icon="profile",
    )
    found = entities.search_entities(user, "ada")
    assert found[0]["id"] == "person:1" and found[0]["group"] == "People" and found[0]["icon"] == "profile"
    assert entities.resolve_entity(user, "person:1").description == "mathematician"
    assert entities.resolve_entity(user, "person:2") is None


def test_registration_errors_are_raised_early():
    register_notes()
    with pytest.raises(ValueError, match="already registered"):
        register_notes()
    with pytest.raises(ValueError, match="search field"):
        entities.register_model(Note, key="other", search_fields=[])
    with pytest.raises(ValueError, match="without ':'"):
        entities.register_model(Note, key="a:b", search_fields=["title"])


def test_key_defaults_to_model_name(user, notes):
    source = entities.register_model(Note, search_fields=["title"])
    assert source.key == "note"
    # Without visible_to every row is searchable: the default is documented as such.
    assert len(entities.search_entities(user, "groc")) == 2


# -- over HTTP ------------------------------------------------------------------------------


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_search_endpoint_returns_entities_scoped_per_user(user, other_user, notes):
    register_notes()
    response = logged_in(user).get("/api/search", {"q": "groc"})
    assert response.status_code == 200
    assert [e["title"] for e in response.json()] == ["Groceries"]
    response = logged_in(other_user).get("/api/search/", {"q": "groc"})
    assert [e["title"] for e in response.json()] == ["Grocery secrets"]


def test_search_endpoint_requires_login(notes):
    register_notes()
    response = Client().get("/api/search", {"q": "groc"})
    assert response.status_code in (401, 403)
    assert "Groceries" not in response.content.decode()


@override_settings(CHATKIT={"AUTH_POLICY": "anonymous_session"})
def test_anonymous_policy_searches_with_anonymous_user(notes):
    register_notes()
    response = Client().get("/api/search", {"q": "groc"})
    assert response.status_code == 200
    assert response.json() == []  # anonymous users own no notes


def test_search_endpoint_rejects_bad_parameters(user, notes):
    register_notes()
    client = logged_in(user)
    response = client.get("/api/search", {"q": "g", "limit": "many"})
    assert response.status_code == 400 and "limit" in response.json()["error"]["message"]
    response = client.get("/api/search", {"q": "g", "sources": "note,nosuch"})
    assert response.status_code == 400 and "nosuch" in response.json()["error"]["message"]


@override_settings(CHATKIT={"ENTITY_SEARCH_LIMIT": 1})
def test_search_limit_setting_caps_results(user, notes):
    register_notes()
    response = logged_in(user).get("/api/search", {"q": "", "limit": "50"})
    assert len(response.json()) == 1


def test_preview_endpoint_returns_widget_for_visible_entity_only(user, notes):
    register_notes()
    client = logged_in(user)
    response = client.get(f"/api/entities/note:{notes['mine'].pk}/preview/")
    assert response.status_code == 200
    preview = response.json()["preview"]
    assert preview["type"] == "Card"
    assert preview["children"][0]["value"] == "Groceries"
    response = client.get(f"/api/entities/note:{notes['theirs'].pk}/preview/")
    assert response.status_code == 404
    assert "secrets" not in response.content.decode()
    assert client.get("/api/entities/garbage/preview/").status_code == 400


def test_preview_is_null_without_a_preview_callable(user, notes):
    register_notes(preview=None)
    response = logged_in(user).get(f"/api/entities/note:{notes['mine'].pk}/preview/")
    assert response.status_code == 200 and response.json() == {"preview": None}
