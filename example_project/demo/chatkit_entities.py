"""The demo's @-mention sources (found by autodiscovery, like admin.py)."""

from django.db.models import Q

from django_chatkit import entities

from .models import Article, Person


def visible_articles(user):
    """Published articles, plus the user's own drafts."""
    owned = Q(owner_id=user.pk) if getattr(user, "is_authenticated", False) else Q(pk__in=[])
    return Article.objects.filter(Q(published=True) | owned)


entities.register_model(
    Article,
    key="article",
    search_fields=["title", "summary"],
    group="Articles",
    icon="document",
    data=lambda article: {"type": "article", "article_id": str(article.pk)},
    visible_to=visible_articles,
    describe=lambda article: f"{article.summary}\n\n{article.body}".strip(),
)

entities.register_model(
    Person,
    key="person",
    title="name",
    search_fields=["name", "role"],
    group="People",
    icon="profile",
    data=lambda person: {"type": "person", "person_id": str(person.pk)},
    describe=lambda person: f"{person.name}, {person.role}. {person.bio}".strip(),
)
