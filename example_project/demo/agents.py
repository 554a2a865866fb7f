"""The demo's agents: one per composer tool (the seed's "mode selection").

``general`` (Chat) answers questions and can show the line selector widget and the
list of articles; ``event_finder`` (Find Events) searches the events below. Without an
OpenAI API key both run on django_chatkit's offline model, which calls
``show_line_selector`` when a message mentions "line" or "lines", ``show_articles`` for
"article" or "articles" and ``find_events`` for "events" (see ``OFFLINE_TOOL_TRIGGERS``
in the settings), any tool named with a slash (``/show_article_card``,
``/show_suggestions``), and otherwise echoes the message.
"""

from __future__ import annotations

from agents import Agent, function_tool
from asgiref.sync import sync_to_async

from django_chatkit.agents import widget_tool

from .chatkit_entities import visible_articles

# The composer's tool buttons (the seed's TOOL_CHOICES); each id is a key of CHATKIT["AGENTS"].
TOOL_CHOICES = [
    {"id": "general", "label": "Chat", "icon": "sparkle", "placeholderOverride": "Ask anything...", "pinned": True},
    {
        "id": "event_finder",
        "label": "Find Events",
        "icon": "calendar",
        "placeholderOverride": "What events are you looking for?",
        "pinned": True,
    },
]

LINES = [
    {"id": "blue-line", "name": "Blue Line", "color": "blue-500"},
    {"id": "red-line", "name": "Red Line", "color": "red-500"},
    {"id": "green-line", "name": "Green Line", "color": "green-500"},
]

EVENTS = [
    {"title": "Blue Line extension opening", "date": "2026-12-05", "place": "Harbour station"},
    {"title": "Night service launch party", "date": "2026-12-12", "place": "Central station"},
    {"title": "Ridership town hall", "date": "2027-01-09", "place": "City library"},
]

show_line_selector = widget_tool(
    "line_selector",
    name="show_line_selector",
    description="Show the transit lines so the user can pick one.",
    data={"lines": LINES, "selected": None},
    copy_text="Blue Line, Red Line, Green Line",
)


ARTICLE_LIST_LIMIT = 20


def _article_items(user) -> list[dict]:
    articles = visible_articles(user).only("pk", "title", "published")[:ARTICLE_LIST_LIMIT]
    # "done" marks the published ones (a check); the user's own drafts get an empty circle.
    return [{"id": str(a.pk), "title": a.title, "done": a.published} for a in articles]


async def article_list_data(ctx, arguments) -> dict:
    """The item list's data: the articles the requesting user may see (their drafts included)."""
    return {"items": await sync_to_async(_article_items)(ctx.request_context.user)}


# The seed's item list: clicking an article fires the client action ``item.select`` with
# ``{"itemId": "<article id>"}``, which the chat page's onAction opens (see chat.html).
show_articles = widget_tool(
    "item_list",
    name="show_articles",
    description="Show the list of articles the user can read; they click one to open it.",
    data=article_list_data,
)


def _article_card(user, query: str) -> dict | None:
    articles = visible_articles(user).order_by("-published", "title")
    words = [w for w in query.lower().split() if len(w) > 2]
    found = next((a for a in articles if words and any(w in a.title.lower() for w in words)), None)
    article = found or articles.first()
    if article is None:
        return None
    return {"id": str(article.pk), "title": article.title, "summary": article.summary}


async def article_card_data(ctx, arguments) -> dict:
    """The article button's data: an article the user may read (one matching ``query``, else the first)."""
    article = await sync_to_async(_article_card)(ctx.request_context.user, str(arguments.get("query") or ""))
    if article is None:
        return {"article": {"id": "", "title": "No article", "summary": ""}}  # refused by the schema: the model is told
    return {"article": article}


# The seed's client-handled button: "View Article" fires ``open_article`` with the article's
# id, which the chat page's onAction opens beside the chat.
show_article_card = widget_tool(
    "article_button",
    name="show_article_card",
    description="Show one article as a card with a View Article button.",
    data=article_card_data,
    parameters={
        "type": "object",
        "properties": {"query": {"type": "string", "description": "Words of the article's title."}},
        "additionalProperties": False,
    },
)

# The seed's other client actions: each option fires ``select_option`` (the page marks it
# selected), "More suggestions" fires ``more_suggestions`` (the page asks for more).
show_suggestions = widget_tool(
    "suggestions",
    name="show_suggestions",
    description="Suggest a few lines to explore; the user picks one or asks for more.",
    data={
        "prompt": "Which line would you like to explore?",
        "topic": "transit lines",
        "options": [{"id": line["id"], "label": line["name"]} for line in LINES],
    },
)


@function_tool
def find_events(query: str = "") -> str:
    """Find upcoming events whose title or place contains the query (all events when empty)."""
    words = [w for w in query.lower().split() if w not in {"events", "event", "find"}]
    found = [e for e in EVENTS if not words or any(w in f"{e['title']} {e['place']}".lower() for w in words)]
    if not found:
        return "No events match."
    return "; ".join(f"{e['title']} on {e['date']} at {e['place']}" for e in found)


general_agent = Agent(
    name="Assistant",
    instructions=(
        "You are the transit authority's assistant. Answer briefly. When the user wants to "
        "pick or see the lines, call show_line_selector; when they want to browse or read "
        "articles, call show_articles; to present one article, show_article_card; to suggest "
        "lines to explore, show_suggestions. Use @-mentioned articles and people as context."
    ),
    tools=[show_line_selector, show_articles, show_article_card, show_suggestions],
)

event_finder_agent = Agent(
    name="Event Finder",
    instructions="You find events for the user with find_events and list them briefly.",
    tools=[find_events],
)
